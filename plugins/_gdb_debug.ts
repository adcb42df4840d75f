/**
 * radare2's debugger basics over a GDB stub, as plugin commands of `gdb://` and `dbg://`:
 * `dr` (registers, laid out from the stub's target description), `ds`/`dso` (step, step
 * over), `dc` (continue), `db` (software breakpoints, `Z0`/`z0`), `dm` (the maps, read
 * through the stub's `vFile`), `dp` and `dk` (kill).
 *
 * @example
 * ```ts
 * import { DEBUG_HELP } from "./_gdb_debug.ts";
 * console.assert(DEBUG_HELP.includes("dc"));
 * ```
 *
 * @module
 */

import { fromHex, latin1Text, toHex, unescapeGdbBinary } from "../lib/gdb/codec.ts";
import {
  findRegister,
  formatRegisters,
  formatRegistersJson,
  hexValue,
  parseTargetXml,
  readRegisters,
  registerHex,
  type RegisterLayout,
  writeRegister,
} from "../lib/gdb/registers.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { parseStopReply, signalName, type StopReply } from "../lib/gdb/stop.ts";
import { IoError } from "../lib/io/errors.ts";
import { concatBytes } from "../lib/protocol/bytes.ts";
import { formatMaps, parseMaps } from "./_proc_mem.ts";

/** The help of the debugger commands. */
export const DEBUG_HELP: string = [
  " dr               general-purpose registers (radare2's layout)",
  " dr NAME          one register (dr rip, dr pc, dr sp)",
  " dr NAME=VALUE    set a register (file opened writable)",
  " drj              the registers as JSON",
  " ds [N]           step N instructions (default 1)",
  " dso [N]          step over calls (x86: a call runs to its return)",
  " dc               continue until a breakpoint, a signal or the end",
  " db [ADDR]        list the breakpoints / add a software breakpoint",
  " db-ADDR, db-*    remove a breakpoint / all of them",
  " dm               memory maps of the process (/proc/PID/maps through the stub)",
  " dp               the process",
  " dk               kill the process",
].join("\n") + "\n";

/** Largest target description accepted, includes and all. */
const MAX_DESCRIPTION = 1 << 20;
/** Deepest `xi:include` nesting followed. */
const MAX_INCLUDE_DEPTH = 8;
/** Most steps one `ds N` takes. */
const MAX_STEPS = 1_000_000;

/** What the debugger needs of its descriptor. */
export interface DebugTarget {
  /** The URI, for errors. */
  readonly uri: string;
  /** The process id (-1 when unknown). */
  readonly pid: number;
  /** Whether the stub speaks multiprocess extensions. */
  readonly multiprocess: boolean;
  /** Whether the file was opened writable. */
  readonly writable: boolean;
  /** The largest packet the stub accepts. */
  readonly packetSize: number;
}

/** Parse an address: hex (`0x...`) or decimal. */
function parseAddress(text: string, uri: string): number {
  const t = text.trim();
  const value = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(value)) throw new IoError(uri, `Invalid address "${text}"`);
  return value;
}

/** Parse a register value: hex, decimal, or negative decimal. */
function parseValue(text: string, uri: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|-?\d+)$/i.test(t)) throw new IoError(uri, `Invalid value "${text}"`);
  return BigInt(t);
}

/**
 * The debugger of one stub connection: its register layout (read once), its breakpoints,
 * and whether the process has ended.
 *
 * @example
 * ```ts
 * import { GdbDebugger } from "./_gdb_debug.ts";
 * console.assert(typeof GdbDebugger.prototype.run === "function");
 * ```
 */
export class GdbDebugger {
  readonly #remote: GdbRemote;
  readonly #target: DebugTarget;
  #layout: RegisterLayout | undefined;
  readonly #breakpoints = new Set<number>();
  /** Every address with a breakpoint in the stub: the user's and `dso`'s temporary ones. */
  readonly #inserted = new Set<number>();
  /** Whether the stub has `vCont` with steps (asked once). */
  #vCont: boolean | undefined;
  /** The thread that stopped last (`p1a.1a`), which `ds` steps. */
  #thread: string | undefined;
  /** Why the process is gone (`exited with status=0x0`, `was killed` ...), once it is. */
  ended: string | undefined;
  /** Whether an execution packet is waiting for its stop reply. */
  running = false;

  /**
   * Make it.
   *
   * @param remote The stub connection.
   * @param target The descriptor's state.
   */
  constructor(remote: GdbRemote, target: DebugTarget) {
    this.#remote = remote;
    this.#target = target;
  }

  /**
   * Run a debugger command.
   *
   * @param command The command (`dr`, `ds 3`, `db 0x401000` ...).
   * @param signal Interrupts a running `dc`/`ds`.
   * @returns Its output, or `undefined` when the command is not a debugger command.
   */
  async run(command: string, signal?: AbortSignal): Promise<string | undefined> {
    const m = /^(drj|dr|dso|ds|dc|db-|db|dm|dp|dk)(.*)$/s.exec(command.trim());
    if (!m) return undefined;
    const [, word, rest] = m;
    if (word !== "db-" && rest !== "" && !/^\s/.test(rest)) return undefined;
    const arg = rest.trim();
    if (word === "dp") return this.#process();
    if (this.ended !== undefined && word !== "db" && word !== "db-") {
      throw this.#gone();
    }
    switch (word) {
      case "dr":
        return arg === "" ? formatRegisters(...await this.#registers()) : await this.#register(arg);
      case "drj":
        return formatRegistersJson(...await this.#registers());
      case "ds":
        return await this.#step(arg, false, signal);
      case "dso":
        return await this.#step(arg, true, signal);
      case "dc":
        return this.#describe(await this.#resume("c", signal));
      case "db":
        return arg === "" ? this.#listBreakpoints() : await this.#addBreakpoint(arg);
      case "db-":
        return await this.#removeBreakpoints(arg);
      case "dm":
        return formatMaps(parseMaps(await this.#readStubFile(`/proc/${this.#pid()}/maps`)));
      default: // dk
        return await this.kill();
    }
  }

  #gone(): IoError {
    return new IoError(this.#target.uri, `Process ${this.#target.pid} ${this.ended}`);
  }

  #pid(): number {
    if (this.#target.pid <= 0) {
      throw new IoError(this.#target.uri, `The stub of "${this.#target.uri}" gives no process id`);
    }
    return this.#target.pid;
  }

  /** The layout, read once from the stub's target description. */
  async layout(): Promise<RegisterLayout> {
    if (this.#layout) return this.#layout;
    const xml = await this.#description("target.xml", 0, { total: 0 });
    if (xml === undefined) {
      throw new IoError(
        this.#target.uri,
        `The stub of "${this.#target.uri}" gives no target description ` +
          `(qXfer:features:read): its registers are unknown`,
      );
    }
    this.#layout = parseTargetXml(xml);
    return this.#layout;
  }

  /** One annex of the description, with its `xi:include`s inlined. */
  async #description(
    annex: string,
    depth: number,
    budget: { total: number },
  ): Promise<string | undefined> {
    const text = await this.#xfer("features", annex);
    if (text === undefined) return undefined;
    budget.total += text.length;
    if (budget.total > MAX_DESCRIPTION || depth >= MAX_INCLUDE_DEPTH) {
      throw new IoError(this.#target.uri, `The stub's target description is too large`);
    }
    let out = "";
    let last = 0;
    for (const m of text.matchAll(/<xi:include\s+href="([^"]+)"\s*\/>/g)) {
      out += text.slice(last, m.index) +
        ((await this.#description(m[1], depth + 1, budget)) ?? "")
          .replace(/<\?xml[^>]*\?>|<!DOCTYPE[^>]*>/g, "");
      last = m.index! + m[0].length;
    }
    return out + text.slice(last);
  }

  /** A `qXfer:OBJECT:read:ANNEX` object, or `undefined` when the stub has none. */
  async #xfer(object: string, annex: string): Promise<string | undefined> {
    let out = "";
    const chunk = Math.max(64, this.#target.packetSize - 8).toString(16);
    for (;;) {
      const reply = await this.#remote.request(
        `qXfer:${object}:read:${annex}:${out.length.toString(16)},${chunk}`,
      );
      const kind = reply[0];
      if (kind !== 0x6d && kind !== 0x6c) return undefined; // not m/l: E or unsupported
      out += latin1Text(unescapeGdbBinary(reply.subarray(1)));
      if (kind === 0x6c || out.length > MAX_DESCRIPTION) return out;
    }
  }

  async #registers(): Promise<[RegisterLayout, Map<number, bigint>]> {
    const layout = await this.layout();
    const g = await this.#remote.requestText("g");
    if (!/^[0-9a-fA-Fx]*$/.test(g) || g === "") {
      throw new IoError(this.#target.uri, `Cannot read the registers: the stub answered "${g}"`);
    }
    return [layout, readRegisters(layout, g)];
  }

  /** `dr NAME` or `dr NAME=VALUE`. */
  async #register(arg: string): Promise<string> {
    const [name, value] = arg.split("=", 2).map((s) => s.trim());
    const layout = await this.layout();
    const register = findRegister(layout, name);
    if (!register) throw new IoError(this.#target.uri, `Unknown register "${name}"`);
    if (value === undefined) {
      const [, values] = await this.#registers();
      const current = values.get(register.regnum);
      if (current === undefined) {
        throw new IoError(this.#target.uri, `Register "${name}" is not available`);
      }
      return `${hexValue(current)}\n`;
    }
    if (!this.#target.writable) {
      throw new IoError(
        this.#target.uri,
        `Cannot set "${name}": "${this.#target.uri}" is opened read-only (open it with -w)`,
      );
    }
    const v = parseValue(value, this.#target.uri);
    const bytes = Math.ceil(register.bitsize / 8);
    let reply = await this.#remote.requestText(
      `P${register.regnum.toString(16)}=${registerHex(v, bytes)}`,
    );
    if (reply === "") {
      const g = await this.#remote.requestText("g");
      reply = await this.#remote.requestText(`G${writeRegister(g, register, v)}`);
    }
    if (reply !== "OK") {
      throw new IoError(this.#target.uri, `Cannot set "${name}": the stub answered ${reply}`);
    }
    return "";
  }

  /** The program counter now. */
  async #pc(): Promise<number | undefined> {
    const [layout, values] = await this.#registers();
    const pc = layout.pc ? values.get(layout.pc.regnum) : undefined;
    return pc === undefined ? undefined : Number(pc);
  }

  /**
   * Send an execution packet and wait for its stop reply (no timeout; `signal` interrupts
   * the process); an end of the process is noted.
   *
   * @param packet The packet (`c`, `s`, `vCont;c` ...).
   * @param signal Interrupts the process.
   * @returns The stop reply as received.
   */
  async resumeRaw(packet: string, signal?: AbortSignal): Promise<string> {
    if (this.ended !== undefined) return `W00`;
    this.running = true;
    let reply: string;
    try {
      reply = await this.#remote.resume(packet, { signal });
    } finally {
      this.running = false;
    }
    const stop = parseStopReply(reply);
    if (stop.kind === "exited") {
      this.ended = `exited with status=0x${stop.code!.toString(16)}`;
    } else if (stop.kind === "killed") {
      this.ended = `was killed by ${signalName(stop.signal!)}`;
    }
    return reply;
  }

  /**
   * {@linkcode GdbDebugger.resumeRaw}, parsed; an error reply throws. A process stopped on
   * one of our breakpoints first steps past it (the breakpoint out, one step, back in), as
   * gdb does: the stub would stop on it again at once.
   */
  async #resume(packet: "s" | "c", signal?: AbortSignal): Promise<StopReply> {
    const pc = this.#inserted.size > 0 ? await this.#pc() : undefined;
    if (pc !== undefined && this.#inserted.has(pc)) {
      await this.#remove(pc);
      let stepped: StopReply;
      try {
        stepped = await this.#resumeOnce("s", signal);
      } finally {
        if (this.ended === undefined) await this.#insert(pc);
      }
      if (packet === "s" || stepped.kind !== "signal" || stepped.signal !== 5) return stepped;
    }
    return await this.#resumeOnce(packet, signal);
  }

  /**
   * One `s` or `c`, as gdb sends them: `vCont;s:THREAD` and `vCont;c` when the stub has
   * vCont (gdbserver's plain `s` does not step the stopped thread), else `s` and `c`.
   */
  async #resumeOnce(action: "s" | "c", signal?: AbortSignal): Promise<StopReply> {
    this.#vCont ??= /^vCont;(.*;)?s(;|$)/.test(await this.#remote.requestText("vCont?"));
    let packet: string = action;
    if (this.#vCont) {
      if (action === "c") packet = "vCont;c";
      else {
        this.#thread ??= /^QC(.+)$/.exec(await this.#remote.requestText("qC"))?.[1];
        packet = this.#thread === undefined ? "vCont;s" : `vCont;s:${this.#thread}`;
      }
    }
    const stop = parseStopReply(await this.resumeRaw(packet, signal));
    if (stop.kind === "error") {
      throw new IoError(this.#target.uri, `The stub refused "${packet}": ${stop.raw}`);
    }
    if (stop.thread !== undefined) this.#thread = stop.thread;
    return stop;
  }

  /** What `dc` says about a stop. */
  async #describe(stop: StopReply): Promise<string> {
    if (this.ended !== undefined) return `(${this.#target.pid}) Process ${this.ended}\n`;
    if (stop.kind === "none") return "No thread left to resume\n";
    if (stop.kind !== "signal") return `Stopped: ${stop.raw}\n`;
    const pc = await this.#pc();
    const at = pc === undefined ? "" : ` at ${hexValue(BigInt(pc))}`;
    if (stop.signal === 5 && pc !== undefined && this.#breakpoints.has(pc)) {
      return `hit breakpoint at: ${hexValue(BigInt(pc))}\n`;
    }
    if (stop.signal === 2) return `interrupted${at}\n`;
    return `stopped by signal ${stop.signal} (${signalName(stop.signal!)})${at}\n`;
  }

  /** `ds [N]` / `dso [N]`. */
  async #step(arg: string, over: boolean, signal?: AbortSignal): Promise<string> {
    const count = arg === "" ? 1 : Number(arg);
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_STEPS) {
      throw new IoError(this.#target.uri, `Invalid step count "${arg}" (1 to ${MAX_STEPS})`);
    }
    for (let i = 0; i < count; i++) {
      signal?.throwIfAborted();
      const stop = over ? await this.#stepOver(signal) : await this.#resume("s", signal);
      if (this.ended !== undefined) return await this.#describe(stop);
      if (stop.kind === "signal" && stop.signal !== 5) return await this.#describe(stop);
    }
    return "";
  }

  /**
   * One step over: step, and when that entered a call (the stack pointer went down by one
   * word holding an address just past the instruction, as x86 calls push it), continue to
   * that return address at the same stack depth.
   */
  async #stepOver(signal?: AbortSignal): Promise<StopReply> {
    const [layout, before] = await this.#registers();
    const { pc, sp, pointerSize } = layout;
    const stop = await this.#resume("s", signal);
    if (!pc || !sp || this.ended !== undefined || stop.kind !== "signal") return stop;
    const [, after] = await this.#registers();
    const [pc0, sp0, sp1] = [before.get(pc.regnum), before.get(sp.regnum), after.get(sp.regnum)];
    if (pc0 === undefined || sp0 === undefined || sp1 !== sp0 - BigInt(pointerSize)) return stop;
    const word = await this.#readMemory(Number(sp1), pointerSize);
    if (!word) return stop;
    const ret = readRegisters(
      { ...layout, registers: [{ ...pc, offset: 0 }] },
      toHex(word),
    ).get(pc.regnum);
    if (ret === undefined || ret <= pc0 || ret > pc0 + 16n) return stop;
    // Run to the return address, at the depth we started from (recursion stops deeper).
    const had = this.#inserted.has(Number(ret));
    if (!had) await this.#insert(Number(ret));
    try {
      for (;;) {
        const next = await this.#resume("c", signal);
        if (this.ended !== undefined || next.kind !== "signal" || next.signal !== 5) return next;
        const [, now] = await this.#registers();
        if (now.get(pc.regnum) !== ret) return next; // another breakpoint
        if ((now.get(sp.regnum) ?? 0n) >= sp0) return next;
      }
    } finally {
      if (!had && this.ended === undefined) await this.#remove(Number(ret)).catch(() => {});
    }
  }

  async #readMemory(address: number, length: number): Promise<Uint8Array | undefined> {
    const reply = await this.#remote.requestText(`m${address.toString(16)},${length.toString(16)}`);
    return /^([0-9a-fA-F]{2})+$/.test(reply) ? fromHex(reply) : undefined;
  }

  /** The breakpoint kind of `Z0`: the size of the breakpoint instruction. */
  async #kind(): Promise<number> {
    const arch = (await this.layout().catch(() => undefined))?.architecture ?? "";
    return /^(aarch64|arm|riscv|powerpc|rs6000|mips|sparc|loongarch)/.test(arch) ? 4 : 1;
  }

  async #insert(address: number): Promise<void> {
    const reply = await this.#remote.requestText(
      `Z0,${address.toString(16)},${(await this.#kind()).toString(16)}`,
    );
    if (reply === "") {
      throw new IoError(
        this.#target.uri,
        `The stub of "${this.#target.uri}" has no breakpoints (Z0)`,
      );
    }
    if (reply !== "OK") {
      throw new IoError(
        this.#target.uri,
        `Cannot set a breakpoint at ${hexValue(BigInt(address))}: the stub answered ${reply}`,
      );
    }
    this.#inserted.add(address);
  }

  async #remove(address: number): Promise<void> {
    this.#inserted.delete(address);
    await this.#remote.requestText(
      `z0,${address.toString(16)},${(await this.#kind()).toString(16)}`,
    );
  }

  async #addBreakpoint(arg: string): Promise<string> {
    const address = parseAddress(arg, this.#target.uri);
    if (this.ended !== undefined) throw this.#gone();
    if (!this.#breakpoints.has(address)) await this.#insert(address);
    this.#breakpoints.add(address);
    return "";
  }

  async #removeBreakpoints(arg: string): Promise<string> {
    const all = arg === "*";
    const targets = all ? [...this.#breakpoints] : [parseAddress(arg, this.#target.uri)];
    for (const address of targets) {
      if (!this.#breakpoints.delete(address)) {
        throw new IoError(this.#target.uri, `No breakpoint at ${hexValue(BigInt(address))}`);
      }
      if (this.ended === undefined) await this.#remove(address);
    }
    return "";
  }

  #listBreakpoints(): string {
    const size = 1;
    return [...this.#breakpoints].sort((a, b) => a - b).map((a) =>
      `${hexValue(BigInt(a))} - ${hexValue(BigInt(a + size))} ${size} --x sw break enabled valid\n`
    ).join("");
  }

  /** `dp`: the process, as radare2's `dp` lists it. */
  async #process(): Promise<string> {
    const pid = this.#target.pid;
    if (this.ended !== undefined) return `- ${pid} ${this.ended}\n`;
    const annex = this.#target.multiprocess && pid > 0 ? pid.toString(16) : "";
    const path = await this.#xfer("exec-file", annex).catch(() => undefined);
    return `* ${pid} s${path ? " " + path : ""}\n`;
  }

  /** A file on the stub's host, read with `vFile:open`/`pread`/`close`. */
  async #readStubFile(path: string): Promise<string> {
    const open = await this.#remote.requestText(
      `vFile:open:${toHex(new TextEncoder().encode(path))},0,0`,
    );
    const fd = /^F([0-9a-fA-F]+)$/.exec(open)?.[1];
    if (fd === undefined) {
      throw new IoError(
        this.#target.uri,
        open === ""
          ? `The stub of "${this.#target.uri}" cannot read its host's files (vFile): no maps`
          : `Cannot read ${path} through the stub (${open})`,
      );
    }
    const parts: Uint8Array[] = [];
    let offset = 0;
    const count = Math.max(64, Math.floor((this.#target.packetSize - 16) / 2));
    try {
      for (let i = 0; i < 4096; i++) {
        const reply = await this.#remote.request(
          `vFile:pread:${fd},${count.toString(16)},${offset.toString(16)}`,
        );
        const semi = reply.indexOf(0x3b);
        const head = latin1Text(semi < 0 ? reply : reply.subarray(0, semi));
        const n = /^F([0-9a-fA-F]+)$/.exec(head);
        if (!n) {
          throw new IoError(this.#target.uri, `Cannot read ${path} through the stub (${head})`);
        }
        if (parseInt(n[1], 16) === 0) break;
        const data = unescapeGdbBinary(reply.subarray(semi + 1));
        parts.push(data);
        offset += data.length;
      }
    } finally {
      await this.#remote.requestText(`vFile:close:${fd}`).catch(() => {});
    }
    return new TextDecoder().decode(concatBytes(parts));
  }

  /**
   * `dk`: kill the process (`vKill;PID`, or `k`).
   *
   * @returns The command's output (none).
   */
  async kill(): Promise<string> {
    const pid = this.#target.pid;
    if (this.#target.multiprocess && pid > 0) {
      const reply = await this.#remote.requestText(`vKill;${pid.toString(16)}`);
      if (reply === "") await this.#remote.send("k");
    } else {
      await this.#remote.send("k");
    }
    this.ended = "was killed";
    return "";
  }
}
