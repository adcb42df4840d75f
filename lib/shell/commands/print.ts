/**
 * Printing: `px` (hexdump), `pxw` (32-bit words), `p8` (hex string), `pr` (raw bytes),
 * `ps` (string), as radare2's `libr/core/cmd_print.c` prints them. A length may be
 * negative: `px -16` dumps the 16 bytes before the seek.
 *
 * @module
 */

import type { CommandEnv, CommandSpec } from "../command.ts";
import { hexdump, hexdumpWords } from "../hexdump.ts";
import { type ByteRange, rangeArg, readPieces } from "./_args.ts";

const printable = (b: number) => b >= 0x20 && b <= 0x7e;

/**
 * One byte as radare2's `r_print_string` shows it: a backslash doubled, a newline as it
 * is, other printable characters as they are, anything else as `\xNN`.
 */
function escapeByte(b: number): string {
  if (b === 0x5c) return "\\\\";
  if (b === 0x0a || printable(b)) return String.fromCharCode(b);
  return "\\x" + b.toString(16).padStart(2, "0");
}

/**
 * Print a range as text piece by piece (see `readPieces`), then one newline.
 *
 * @param env The command environment.
 * @param range The range.
 * @param text The text of one piece (at `offset` in the range), and whether it ends the
 *   text.
 */
async function printText(
  env: CommandEnv,
  range: ByteRange,
  text: (bytes: Uint8Array, offset: number) => { text: string; end?: boolean },
): Promise<void> {
  let ended = false;
  await readPieces(env, range, (bytes, _at, offset) => {
    const piece = text(bytes, offset);
    // The newline goes out with the last piece: a short text is one write.
    ended = piece.end === true || offset + bytes.length >= range.length;
    env.out.write(ended ? piece.text + "\n" : piece.text);
    return piece.end;
  });
  if (!ended) env.out.write("\n"); // an empty range
}

/**
 * `ps`: the string at the seek, up to a NUL or a byte that is neither printable nor a
 * newline (radare2's `ZEROEND | ONLY_PRINTABLE`), within the block.
 */
function printString(env: CommandEnv): Promise<void> {
  const { seek, blockSize } = env.shell.session;
  return printText(env, { start: seek, length: blockSize }, (bytes) => {
    const stop = bytes.findIndex((b) => b !== 0x0a && !printable(b));
    const text = Array.from(stop < 0 ? bytes : bytes.subarray(0, stop), escapeByte).join("");
    return { text, end: stop >= 0 };
  });
}

/**
 * `ps n`: n bytes, every one shown (NULs as `\x00`). As in radare2, the bytes past the end
 * of the file read as NULs when the range starts inside the file, as 0xff when it starts
 * past its end.
 */
async function printBytes(env: CommandEnv): Promise<void> {
  const range = await rangeArg(env.shell, env.args);
  const size = await env.shell.session.size();
  const inside = range.start < size ? size - range.start : undefined;
  await printText(env, range, (bytes, offset) => {
    let shown = bytes;
    if (inside !== undefined && BigInt(offset + bytes.length) > inside) {
      shown = bytes.slice();
      shown.fill(0, Math.max(0, Number(inside - BigInt(offset))));
    }
    return { text: Array.from(shown, escapeByte).join("") };
  });
}

/**
 * The print commands. Each reads and prints its range piece by piece, so its output can
 * be cut, and the command stopped, while it is produced.
 *
 * @example
 * ```ts
 * import { PRINT_COMMANDS } from "@rap/cli/shell";
 * console.assert(PRINT_COMMANDS.some((c) => c.name === "px"));
 * ```
 */
export const PRINT_COMMANDS: readonly CommandSpec[] = [
  {
    name: "px",
    usage: "[n]",
    help: "hexdump n bytes (default: the block size; -n: the n bytes before the seek)",
    run: async (env) =>
      await readPieces(
        env,
        await rangeArg(env.shell, env.args),
        (bytes, at, offset) => env.out.write(hexdump(bytes, at, offset === 0)),
      ),
  },
  {
    name: "pxw",
    usage: "[n]",
    help: "hexdump n bytes as 32-bit little-endian words",
    run: async (env) =>
      await readPieces(
        env,
        await rangeArg(env.shell, env.args),
        (bytes, at) => env.out.write(hexdumpWords(bytes, at)),
      ),
  },
  {
    name: "p8",
    usage: "[n]",
    help: "print n bytes as a hex string (nothing for 0)",
    async run(env) {
      const range = await rangeArg(env.shell, env.args);
      if (range.length === 0) return;
      await printText(env, range, (bytes) => ({
        text: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
      }));
    },
  },
  {
    name: "pr",
    usage: "[n]",
    help: "print n raw bytes",
    run: async (env) =>
      await readPieces(env, await rangeArg(env.shell, env.args), (b) => env.out.write(b)),
  },
  {
    name: "ps",
    usage: "[n]",
    help: "print the string at the seek (ps n: n bytes, escaped)",
    run: (env) => env.args === "" ? printString(env) : printBytes(env),
  },
];
