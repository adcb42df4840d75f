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

import { fromHex, toHex } from "../lib/gdb/codec.ts";
import {
  formatRegisters,
  formatRegistersJson,
  hexValue,
  readRegisters,
} from "../lib/gdb/registers.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { parseStopReply, signalName, type StopReply } from "../lib/gdb/stop.ts";
import { IoError } from "../lib/io/errors.ts";
import { BreakpointTable, parseAddress } from "./_gdb_breakpoints.ts";
import { readStubFile } from "./_gdb_stub_file.ts";
import { readXfer, TargetRegisters } from "./_gdb_target_registers.ts";
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
  readonly #registers: TargetRegisters;
  readonly #breakpoints: BreakpointTable;
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
    this.#registers = new TargetRegisters(remote, target);
    this.#breakpoints = new BreakpointTable(
      remote,
      target.uri,
      async () => (await this.#registers.layout().catch(() => undefined))?.architecture ?? "",
    );
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
        return arg === ""
          ? formatRegisters(...await this.#registers.values())
          : await this.#registers.command(arg);
      case "drj":
        return formatRegistersJson(...await this.#registers.values());
      case "ds":
        return await this.#step(arg, false, signal);
      case "dso":
        return await this.#step(arg, true, signal);
      case "dc":
        return this.#describe(await this.#resume("c", signal));
      case "db":
        return arg === "" ? this.#breakpoints.list() : await this.#addBreakpoint(arg);
      case "db-":
        await this.#breakpoints.delete(arg, this.ended === undefined);
        return "";
      case "dm":
        return formatMaps(
          parseMaps(await readStubFile(this.#remote, this.#target, `/proc/${this.#pid()}/maps`)),
        );
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
    const pc = this.#breakpoints.anyInserted ? await this.#registers.pc() : undefined;
    if (pc !== undefined && this.#breakpoints.isInserted(pc)) {
      await this.#breakpoints.remove(pc);
      let stepped: StopReply;
      try {
        stepped = await this.#resumeOnce("s", signal);
      } finally {
        if (this.ended === undefined) await this.#breakpoints.insert(pc);
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
    const pc = await this.#registers.pc();
    const at = pc === undefined ? "" : ` at ${hexValue(BigInt(pc))}`;
    if (stop.signal === 5 && pc !== undefined && this.#breakpoints.isUser(pc)) {
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
    const [layout, before] = await this.#registers.values();
    const { pc, sp, pointerSize } = layout;
    const stop = await this.#resume("s", signal);
    if (!pc || !sp || this.ended !== undefined || stop.kind !== "signal") return stop;
    const [, after] = await this.#registers.values();
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
    const had = this.#breakpoints.isInserted(Number(ret));
    if (!had) await this.#breakpoints.insert(Number(ret));
    try {
      for (;;) {
        const next = await this.#resume("c", signal);
        if (this.ended !== undefined || next.kind !== "signal" || next.signal !== 5) return next;
        const [, now] = await this.#registers.values();
        if (now.get(pc.regnum) !== ret) return next; // another breakpoint
        if ((now.get(sp.regnum) ?? 0n) >= sp0) return next;
      }
    } finally {
      if (!had && this.ended === undefined) {
        await this.#breakpoints.remove(Number(ret)).catch(() => {});
      }
    }
  }

  async #readMemory(address: number, length: number): Promise<Uint8Array | undefined> {
    const reply = await this.#remote.requestText(`m${address.toString(16)},${length.toString(16)}`);
    return /^([0-9a-fA-F]{2})+$/.test(reply) ? fromHex(reply) : undefined;
  }

  async #addBreakpoint(arg: string): Promise<string> {
    const address = parseAddress(arg, this.#target.uri);
    if (this.ended !== undefined) throw this.#gone();
    await this.#breakpoints.add(address);
    return "";
  }

  /** `dp`: the process, as radare2's `dp` lists it. */
  async #process(): Promise<string> {
    const pid = this.#target.pid;
    if (this.ended !== undefined) return `- ${pid} ${this.ended}\n`;
    const annex = this.#target.multiprocess && pid > 0 ? pid.toString(16) : "";
    const path = await readXfer(this.#remote, this.#target.packetSize, "exec-file", annex).catch(
      () => undefined,
    );
    return `* ${pid} s${path ? " " + path : ""}\n`;
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
