/**
 * The client's one timer. Deno 2.9's `setTimeout` is Node's (`ext:deno_node` timers):
 * the first call in a process loads that layer, about 10 ms, a fifth of what `rap cat`
 * takes to start. `AbortSignal.timeout` runs on Deno's core timers, with none of it; its
 * timer holds the process open only while the signal has a listener, so stopping is
 * removing the listener (the core timer then fires later, into nothing).
 *
 * @module
 */

/**
 * Call `fire` once after `ms` milliseconds, unless stopped first.
 *
 * @param ms Milliseconds (at least 1).
 * @param fire What to call.
 * @returns Stop: after it, `fire` is not called and the timer no longer holds the process
 *   open.
 *
 * @example
 * ```ts
 * import { startTimer } from "./_timer.ts";
 * import assert from "node:assert/strict";
 *
 * let fired = 0;
 * const stop = startTimer(10_000, () => fired++);
 * stop(); // the process can end now; fire is never called
 * await new Promise<void>((resolve) => startTimer(5, resolve));
 * assert.equal(fired, 0);
 * ```
 */
export function startTimer(ms: number, fire: () => void): () => void {
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(ms)));
  const onAbort = () => fire();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * Wait for `promise`, or for `ms` milliseconds, whichever is first (its rejection is
 * thrown; after the time it is left running).
 *
 * @param promise What to wait for.
 * @param ms The most milliseconds to wait.
 *
 * @example
 * ```ts
 * import { waitAtMost } from "./_timer.ts";
 *
 * await waitAtMost(new Promise(() => {}), 5); // never settles: returns after 5 ms
 * await waitAtMost(Promise.resolve(), 60_000); // returns at once
 * ```
 */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let stop: (() => void) | undefined;
  const expired = new Promise<void>((resolve) => stop = startTimer(ms, resolve));
  try {
    await Promise.race([promise, expired]);
  } finally {
    stop?.();
  }
}
