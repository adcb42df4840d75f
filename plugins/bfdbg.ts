/**
 * `bfdbg://PATH` — a brainfuck debugger whose file is the program's **tape**.
 *
 * Opening loads the program text from PATH, runs it with empty input for at most
 * 1,000,000 steps, and exposes the tape: byte `i` of the descriptor is tape cell `i`, for
 * 30000 cells (the size is always 30000). Writes (when opened for writing) change tape
 * cells, as a debugger pokes memory; the program text is never changed. Plugin commands
 * (`:cmd` / `=!cmd`) drive the machine: `reset`, `step [N]`, `run [N]`, `input TEXT`,
 * `output`, `ptr [N]`, `pc`, `state`, `help`.
 *
 * Machine conventions: cells wrap modulo 256, the pointer starts at 0 and moving it off
 * the tape stops the machine with an error, `,` stores 0 at the end of the input, and any
 * other character is a comment.
 *
 * radare2's bfdbg maps the VM's regions (input at 0x10000, screen at 0x50000, data at
 * 0xd00000) but clamps seeks to the size of the program file, so in practice it shows the
 * program text; here the program text is the file you opened, and the tape is what you see.
 *
 * @example
 * ```ts
 * import bfdbg from "./bfdbg.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".bf" });
 * await Deno.writeTextFile(path, "+++>++");
 * await using desc = await bfdbg.open(`bfdbg://${path}`, {});
 * assert.deepEqual([...await desc.read(0, 3)], [3, 2, 0]);
 * assert.equal(await desc.size(), 30000);
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { BrainfuckVm, DEFAULT_TAPE_SIZE } from "./_brainfuck.ts";
import { openFailure } from "./_open_error.ts";

/** How many commands opening and `run` execute at most. */
export const DEFAULT_STEP_LIMIT = 1_000_000;

const HELP = `bfdbg commands (the file is the tape, one byte per cell):
  reset          start again: zero tape, pointer 0, clear output, rewind input
  step [N]       execute N commands (default 1)
  run [N]        run until the program ends or N commands ran (default ${DEFAULT_STEP_LIMIT})
  input TEXT     set the input that "," reads (escapes: \\n \\t \\r \\0 \\\\ \\xHH)
  output         what the program printed so far
  ptr [N]        show (or set) the tape pointer
  pc             show the program counter (offset in the program text)
  state          pc, pointer, steps, input left and status
  help           this help
`;

/**
 * Decode the escapes of an `input` command: `\n`, `\t`, `\r`, `\0`, `\\` and `\xHH`;
 * other text is UTF-8.
 *
 * @param text The text after `input `.
 * @returns The bytes.
 * @throws {SyntaxError} On a bad `\x` escape.
 *
 * @example
 * ```ts
 * import { decodeInput } from "./bfdbg.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...decodeInput("a\\n\\x41")], [0x61, 0x0a, 0x41]);
 * ```
 */
export function decodeInput(text: string): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "\\" || i + 1 >= text.length) {
      const cp = text.codePointAt(i)!;
      out.push(...encoder.encode(String.fromCodePoint(cp)));
      if (cp > 0xffff) i++;
      continue;
    }
    const e = text[++i];
    if (e === "n") out.push(0x0a);
    else if (e === "t") out.push(0x09);
    else if (e === "r") out.push(0x0d);
    else if (e === "0") out.push(0);
    else if (e === "\\") out.push(0x5c);
    else if (e === "x") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new SyntaxError(`Invalid escape "\\x${hex}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(0x5c, ...encoder.encode(e));
  }
  return Uint8Array.from(out);
}

function parseCount(uri: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new IoError(uri, `Invalid count "${text}" (expected a number)`);
  }
  return n;
}

/**
 * The descriptor of a `bfdbg://` URI: the tape of a {@linkcode BrainfuckVm}.
 *
 * @example
 * ```ts
 * import { BfdbgDescriptor } from "./bfdbg.ts";
 * import { BrainfuckVm } from "./_brainfuck.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = new BfdbgDescriptor("bfdbg://x.bf", new BrainfuckVm("+."), false);
 * assert.equal(await desc.system("run"), "pc=2 ptr=0 steps=2 input=0 halted\n");
 * assert.equal(await desc.system("output"), "\x01");
 * ```
 */
export class BfdbgDescriptor extends DescriptorBase {
  /** The machine. */
  readonly vm: BrainfuckVm;

  /**
   * Wrap a machine.
   *
   * @param uri The URI.
   * @param vm The machine (not run by the constructor).
   * @param writable Whether writes to the tape are allowed.
   */
  constructor(uri: string, vm: BrainfuckVm, writable: boolean) {
    super(uri, "bfdbg", writable);
    this.vm = vm;
  }

  /**
   * The size: the tape length.
   *
   * @returns The tape length.
   */
  size(): Promise<number> {
    return Promise.resolve(this.vm.tape.length);
  }

  /**
   * Read tape cells.
   *
   * @param offset The first cell.
   * @param length How many cells at most.
   * @returns A copy of the cells (short at the end of the tape).
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() => DescriptorBase.slice(this.vm.tape, offset, length));
  }

  /**
   * Write tape cells.
   *
   * @param offset The first cell.
   * @param data The new cell values; cut at the end of the tape.
   * @returns How many cells were written.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.guard(() => {
      this.checkWritable();
      const tape = this.vm.tape;
      const n = Math.max(0, Math.min(data.length, tape.length - offset));
      if (n > 0) tape.set(data.subarray(0, n), offset);
      return n;
    });
  }

  #state(): string {
    const vm = this.vm;
    const status = vm.error ? `error: ${vm.error}` : vm.halted ? "halted" : "running";
    return `pc=${vm.textOffset} ptr=${vm.ptr} steps=${vm.steps} input=${vm.inputLeft} ${status}\n`;
  }

  /**
   * Run a debugger command (see the module doc, or `help`).
   *
   * @param command The command line.
   * @returns Its output.
   * @throws {IoError} On an unknown command or a bad argument.
   */
  system(command: string): Promise<string> {
    return this.guard(() => this.#system(command));
  }

  #system(command: string): string {
    const line = command.replace(/^\s+/, "");
    const space = line.search(/\s/);
    const name = space < 0 ? line : line.slice(0, space);
    const arg = space < 0 ? "" : line.slice(space + 1);
    const vm = this.vm;
    switch (name) {
      case "":
      case "?":
      case "help":
        return HELP;
      case "reset":
        vm.reset();
        return this.#state();
      case "step":
      case "s":
        vm.step(parseCount(this.uri, arg.trim(), 1));
        return this.#state();
      case "run":
      case "c":
        vm.run(parseCount(this.uri, arg.trim(), DEFAULT_STEP_LIMIT));
        return this.#state();
      case "input":
        try {
          vm.setInput(decodeInput(arg));
        } catch (error) {
          throw new IoError(this.uri, (error as Error).message, { cause: error });
        }
        return `${vm.inputLeft} input bytes\n`;
      case "output":
        return new TextDecoder().decode(vm.output);
      case "ptr": {
        if (arg.trim() !== "") {
          const ptr = parseCount(this.uri, arg.trim(), 0);
          if (ptr >= vm.tape.length) {
            throw new IoError(this.uri, `Pointer ${ptr} is off the tape (0-${vm.tape.length - 1})`);
          }
          vm.ptr = ptr;
        }
        return `${vm.ptr}\n`;
      }
      case "pc":
        return `${vm.textOffset}\n`;
      case "state":
      case "dr":
        return this.#state();
      default:
        throw new IoError(this.uri, `Unknown bfdbg command "${name}" (try "help")`);
    }
  }
}

/**
 * The `bfdbg` plugin.
 *
 * @example
 * ```ts
 * import bfdbg from "./bfdbg.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(bfdbg.permissions("bfdbg:///tmp/a.bf", {}), [
 *   { name: "read", path: "/tmp/a.bf" },
 * ]);
 * ```
 */
const bfdbg: IoPlugin = definePlugin({
  name: "bfdbg",
  description:
    `brainfuck debugger: runs the program at PATH and shows its ${DEFAULT_TAPE_SIZE}-cell tape ` +
    "as the file (radare2 shows the program text instead)",
  uriForms: ["bfdbg://PATH"],
  capabilities: { write: true, system: true },
  permissions: (uri) => [{ name: "read", path: uriRest(uri, "a path") }],
  async open(uri, options) {
    const path = uriRest(uri, "a path");
    try {
      const text = await readFileInScope(path, { uri, remote: options.remote });
      const vm = new BrainfuckVm(new TextDecoder().decode(text));
      vm.run(DEFAULT_STEP_LIMIT);
      return new BfdbgDescriptor(uri, vm, options.write ?? false);
    } catch (error) {
      throw openFailure(uri, error, path);
    }
  },
});

export default bfdbg;
