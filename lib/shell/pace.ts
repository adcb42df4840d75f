/**
 * Pacing of long commands: a command calls {@linkcode Pacer.pace} between pieces of work
 * (rows of a dump, blocks read, iterations of `@@` and repeat loops). It throws once the
 * command is stopped (its `AbortSignal`, e.g. `--cmd-timeout`), and after every slice of
 * CPU time it lets the event loop run, so other clients are served while the command runs.
 *
 * @module
 */

/** Milliseconds a command may keep the CPU before it lets the event loop run. */
export const PACE_SLICE_MS = 10;

const NEVER = new AbortController().signal;

/**
 * Let the event loop run: timers, and the sockets of other clients (a macrotask; promise
 * callbacks alone would not let I/O in).
 *
 * @returns A promise that resolves on the next turn of the event loop.
 *
 * @example
 * ```ts
 * import { yieldToEventLoop } from "@rap/cli/shell";
 * let ran = false;
 * setTimeout(() => ran = true, 0);
 * await yieldToEventLoop();
 * console.assert(ran);
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Paces one command line: checks its signal and yields to the event loop once per slice.
 *
 * @example
 * ```ts
 * import { Pacer } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const stop = new AbortController();
 * const pacer = new Pacer(stop.signal, 0);
 * await pacer.pace();
 * assert.ok(pacer.yields >= 1);
 * stop.abort(new Error("stopped"));
 * await assert.rejects(pacer.pace(), /stopped/);
 * ```
 */
export class Pacer {
  /** The signal that stops the command. */
  readonly signal: AbortSignal;
  /** How many times it let the event loop run. */
  yields = 0;
  readonly #slice: number;
  #since = performance.now();

  /**
   * Create it.
   *
   * @param signal Stops the command (default: never).
   * @param sliceMs Milliseconds of work between yields (default {@linkcode PACE_SLICE_MS}).
   */
  constructor(signal: AbortSignal = NEVER, sliceMs: number = PACE_SLICE_MS) {
    this.signal = signal;
    this.#slice = sliceMs;
  }

  /**
   * Call between pieces of work.
   *
   * @throws The signal's reason, once it is aborted.
   */
  async pace(): Promise<void> {
    this.signal.throwIfAborted();
    if (performance.now() - this.#since < this.#slice) return;
    this.yields++;
    await yieldToEventLoop();
    this.#since = performance.now();
    this.signal.throwIfAborted();
  }
}
