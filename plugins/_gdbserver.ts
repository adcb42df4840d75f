/**
 * Debian's `gdbserver` as a child process: started on a private loopback port
 * (`--once 127.0.0.1:0`, the port read from its "Listening on port N" line), launching a
 * program (`--no-startup-with-shell`: its arguments reach it as they are) or attaching to
 * a process (`--attach PID`), in a process group of its own so a ^C at the terminal
 * reaches rap only. The program's output (and gdbserver's own lines, but for those it
 * always prints) goes to rap's standard error, never its standard output.
 *
 * No stray processes: `--once` makes gdbserver exit when its one connection closes (a
 * `k` or `D`, a `close()`, or rap dying), a program it launched dies with it (gdbserver
 * traces it with `PTRACE_O_EXITKILL`), and one it attached to is detached by the kernel
 * if gdbserver is killed. {@linkcode Gdbserver.stop} waits for it to exit, and kills it
 * (it is our child, by its handle) when it does not within two seconds.
 *
 * @example
 * ```ts
 * import { gdbserverArgs } from "./_gdbserver.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(gdbserverArgs({ attach: 42 }), ["--once", "--attach", "127.0.0.1:0", "42"]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";

/** How long gdbserver may take to say it listens. */
const START_TIMEOUT = 10_000;
/** How long gdbserver may take to exit once its connection is closed. */
const STOP_TIMEOUT = 2_000;
/** Lines gdbserver prints about itself (not forwarded). */
const OWN_LINE =
  /^(Process .* created; pid = \d+|Listening on port \d+|Remote debugging from host .*|Attached; pid = \d+|Detaching from process \d+|Child exited with status \d+|Child terminated with signal = .*|Killing process\(es\): .*|Remote side has terminated connection\..*|GDBserver exiting|Exiting)\s*$/;

/**
 * What to debug: a program and its arguments, or a running process.
 *
 * @example
 * ```ts
 * import type { GdbserverTarget } from "./_gdbserver.ts";
 * const target: GdbserverTarget = { program: ["/bin/ls", "-l"] };
 * console.assert("program" in target);
 * ```
 */
export type GdbserverTarget = { program: string[] } | { attach: number };

/**
 * The arguments of gdbserver for a target.
 *
 * @param target What to debug.
 * @returns The arguments.
 */
export function gdbserverArgs(target: GdbserverTarget): string[] {
  return "attach" in target
    ? ["--once", "--attach", "127.0.0.1:0", String(target.attach)]
    : ["--once", "--no-startup-with-shell", "127.0.0.1:0", ...target.program];
}

/**
 * A running gdbserver.
 *
 * @example
 * ```ts
 * import { Gdbserver } from "./_gdbserver.ts";
 * console.assert(typeof Gdbserver.start === "function");
 * ```
 */
export class Gdbserver {
  /** The loopback port it listens on. */
  readonly port: number;
  /** The debugged process (launched or attached to). */
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #drained: Promise<void>;
  readonly #readers: ReadableStreamDefaultReader<Uint8Array>[];
  #stopped: Promise<void> | undefined;

  private constructor(
    port: number,
    pid: number,
    child: Deno.ChildProcess,
    readers: ReadableStreamDefaultReader<Uint8Array>[],
    drained: Promise<void>,
  ) {
    this.port = port;
    this.pid = pid;
    this.#child = child;
    this.#readers = readers;
    this.#drained = drained;
  }

  /**
   * Start gdbserver for `target` and wait until it listens.
   *
   * @param uri The URI being opened (for errors).
   * @param target What to debug.
   * @returns The running gdbserver.
   * @throws {IoError} When gdbserver is not installed, or fails to start (its own words).
   */
  static async start(uri: string, target: GdbserverTarget): Promise<Gdbserver> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("gdbserver", {
        args: gdbserverArgs(target),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new IoError(
          uri,
          `Cannot open "${uri}": gdbserver is not installed (apt-get install gdbserver)`,
          { cause: error },
        );
      }
      throw error;
    }
    const stderr = child.stderr.getReader();
    const stdout = child.stdout.getReader();
    const forwardOut = forward(stdout, (bytes) => writeStderr(bytes));
    let text = "";
    let pending = "";
    const decoder = new TextDecoder();
    const exited = child.status.then(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), START_TIMEOUT);
    });
    let port = 0;
    try {
      while (!port) {
        const next = await Promise.race([stderr.read(), timeout]);
        if (next === "timeout" || next.done) break;
        const chunk = decoder.decode(next.value, { stream: true });
        text += chunk;
        port = Number(/Listening on port (\d+)/.exec(text)?.[1] ?? 0);
        pending = forwardLines(pending + chunk);
      }
    } finally {
      clearTimeout(timer);
    }
    const pid = Number(/(?:pid = |Attached; pid = )(\d+)/.exec(text)?.[1] ?? 0);
    if (!port) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited already */ }
      await exited;
      await stderr.cancel().catch(() => {});
      await stdout.cancel().catch(() => {});
      await forwardOut;
      throw new IoError(uri, `Cannot open "${uri}": ${startFailure(text)}`);
    }
    const forwardErr = forward(stderr, (bytes) => {
      pending = forwardLines(pending + decoder.decode(bytes, { stream: true }));
    });
    return new Gdbserver(
      port,
      pid,
      child,
      [stdout, stderr],
      Promise.all([forwardOut, forwardErr]).then(() => {}),
    );
  }

  /**
   * Wait for gdbserver to exit (it does once its connection is closed), killing it after
   * two seconds; then stop reading its output.
   *
   * @returns When it has exited.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), STOP_TIMEOUT);
      });
      const ended = await Promise.race([this.#child.status, late]);
      clearTimeout(timer);
      if (ended === "late") {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
        await this.#child.status;
      }
      // A program's own children may keep the pipes open: stop reading them.
      for (const reader of this.#readers) await reader.cancel().catch(() => {});
      await this.#drained;
    })();
    return this.#stopped;
  }
}

/** Why gdbserver did not start, from what it printed. */
function startFailure(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !OWN_LINE.test(l));
  const reason = lines.at(-1) ?? "it exited without listening";
  const hint = /Operation not permitted/.test(text)
    ? " (attaching needs ptrace rights: the same user and kernel.yama.ptrace_scope 0, or CAP_SYS_PTRACE)"
    : "";
  return `gdbserver failed: ${reason}${hint}`;
}

/** Pass complete lines that are not gdbserver's own to standard error; keep the rest. */
function forwardLines(text: string): string {
  const lines = text.split("\n");
  const rest = lines.pop()!;
  const out = lines.filter((line) => !OWN_LINE.test(line)).map((line) => line + "\n").join("");
  if (out !== "") writeStderr(new TextEncoder().encode(out));
  return rest;
}

/** Read a stream to its end, handing each chunk on. */
async function forward(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onChunk: (bytes: Uint8Array) => void,
): Promise<void> {
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onChunk(value);
    }
  } catch {
    // cancelled by stop()
  }
}

function writeStderr(bytes: Uint8Array): void {
  try {
    Deno.stderr.writeSync(bytes);
  } catch {
    // standard error closed: the output is lost, the debugging goes on
  }
}
