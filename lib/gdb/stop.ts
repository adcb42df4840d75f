/**
 * Stop replies of the GDB remote protocol (`S05`, `T05...`, `W00`, `X09`, `N`): what
 * stopped the process, with GDB's own signal names (its numbering is not the host's past
 * 15: 7 is EMT, 10 BUS, 12 SYS, 17 STOP ...).
 *
 * @example
 * ```ts
 * import { parseStopReply } from "./stop.ts";
 * import assert from "node:assert/strict";
 *
 * const stop = parseStopReply("T0510:5811400000000000;thread:p1a.1a;core:0;");
 * assert.equal(stop.kind, "signal");
 * assert.equal(stop.signal, 5);
 * assert.equal(stop.registers.get(16), "5811400000000000");
 * assert.equal(stop.thread, "p1a.1a");
 * ```
 *
 * @module
 */

/** GDB's signal names by number (gdb/signals.def), without the `SIG`. */
const SIGNALS = [
  "0",
  "HUP",
  "INT",
  "QUIT",
  "ILL",
  "TRAP",
  "ABRT",
  "EMT",
  "FPE",
  "KILL",
  "BUS",
  "SEGV",
  "SYS",
  "PIPE",
  "ALRM",
  "TERM",
  "URG",
  "STOP",
  "TSTP",
  "CONT",
  "CHLD",
  "TTIN",
  "TTOU",
  "IO",
  "XCPU",
  "XFSZ",
  "VTALRM",
  "PROF",
  "WINCH",
  "LOST",
  "USR1",
  "USR2",
  "PWR",
  "POLL",
];

/**
 * The name of a GDB signal number (`SIGSEGV` for 11), or `signal N` past the table.
 *
 * @param signal The number in a stop reply.
 * @returns The name.
 *
 * @example
 * ```ts
 * import { signalName } from "./stop.ts";
 * console.assert(signalName(11) === "SIGSEGV" && signalName(10) === "SIGBUS");
 * ```
 */
export function signalName(signal: number): string {
  return signal > 0 && signal < SIGNALS.length ? `SIG${SIGNALS[signal]}` : `signal ${signal}`;
}

/**
 * A parsed stop reply.
 *
 * @example
 * ```ts
 * import type { StopReply } from "./stop.ts";
 * const exit: StopReply = { kind: "exited", code: 0, registers: new Map(), raw: "W00" };
 * console.assert(exit.kind === "exited");
 * ```
 */
export interface StopReply {
  /**
   * `signal`: stopped by a signal (SIGTRAP for breakpoints and steps); `exited`: the
   * process ended with `code`; `killed`: it ended by `signal`; `none`: no thread left to
   * resume (`N`); `error`: an `E` reply; `other`: anything else.
   */
  kind: "signal" | "exited" | "killed" | "none" | "error" | "other";
  /** The signal (for `signal` and `killed`). */
  signal?: number;
  /** The exit status (for `exited`). */
  code?: number;
  /** The thread that stopped (`thread:` of a `T` reply). */
  thread?: string;
  /** The process (`process:` of `W`/`X`). */
  process?: number;
  /** Why, when the stub says: `swbreak`, `hwbreak`, `watch`, `fork` ... */
  reason?: string;
  /** Register values sent with a `T` reply, by register number, as hex. */
  registers: Map<number, string>;
  /** The reply as received. */
  raw: string;
}

/**
 * Parse a stop reply.
 *
 * @param reply The reply to `?`, `c`, `s`, `vCont` ...
 * @returns What it says.
 *
 * @example
 * ```ts
 * import { parseStopReply } from "./stop.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   [parseStopReply("W01;process:42").kind, parseStopReply("W01;process:42").code, parseStopReply("W01;process:42").process],
 *   ["exited", 1, 0x42],
 * );
 * assert.equal(parseStopReply("X09").signal, 9);
 * assert.equal(parseStopReply("W0;process:1a").process, 0x1a);
 * assert.equal(parseStopReply("T05swbreak:;").reason, "swbreak");
 * ```
 */
export function parseStopReply(reply: string): StopReply {
  const registers = new Map<number, string>();
  const base = { registers, raw: reply };
  // gdbserver sends W and X statuses unpadded with multiprocess (`W0;process:1a`).
  const head = /^([ST])([0-9a-fA-F]{2})/.exec(reply) ??
    /^([WX])([0-9a-fA-F]{1,8})(?=;|$)/.exec(reply);
  if (!head) {
    if (reply === "N") return { kind: "none", ...base };
    return { kind: /^E/.test(reply) ? "error" : "other", ...base };
  }
  const value = parseInt(head[2], 16);
  const out: StopReply = head[1] === "W"
    ? { kind: "exited", code: value, ...base }
    : head[1] === "X"
    ? { kind: "killed", signal: value, ...base }
    : { kind: "signal", signal: value, ...base };
  for (const pair of reply.slice(head[0].length).split(";")) {
    if (pair === "") continue;
    const colon = pair.indexOf(":");
    const key = colon < 0 ? pair : pair.slice(0, colon);
    const data = colon < 0 ? "" : pair.slice(colon + 1);
    if (/^[0-9a-fA-F]+$/.test(key) && head[1] === "T") {
      registers.set(parseInt(key, 16), data);
    } else if (key === "thread") {
      out.thread = data;
    } else if (key === "process") {
      out.process = parseInt(data, 16);
    } else if (
      /^(swbreak|hwbreak|watch|rwatch|awatch|fork|vfork|vforkdone|exec|library|syscall_entry|syscall_return|create)$/
        .test(key)
    ) {
      out.reason = key;
    }
  }
  return out;
}
