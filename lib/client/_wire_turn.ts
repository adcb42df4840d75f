/**
 * Whose turn it is on one client connection's wire: most requests are pipelined, but an
 * exchange that must run alone (a CMD, a lock-step SEEK and READ) waits until every request
 * before it has its reply, and holds back every other request until it settles.
 *
 * @module
 */

/**
 * The turn of one connection.
 *
 * @example
 * ```ts
 * import { WireTurn } from "./_wire_turn.ts";
 * import assert from "node:assert/strict";
 *
 * const turn = new WireTurn();
 * let pending = 1;
 * const alone = turn.runAlone(() => pending, () => Promise.resolve("ran"));
 * assert.ok(turn.alone);
 * pending = 0;
 * turn.drained(); // the last reply before it came
 * assert.equal(await alone, "ran");
 * assert.ok(!turn.alone);
 * ```
 */
export class WireTurn {
  /** Settles when the exchange running alone is done. */
  #alone: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;

  /** Whether an exchange runs alone now: other requests wait in {@linkcode WireTurn.turn}. */
  get alone(): boolean {
    return this.#alone !== undefined;
  }

  /** Wait until no exchange runs alone, so that nothing follows it on the wire. */
  async turn(): Promise<void> {
    while (this.#alone) await this.#alone;
  }

  /**
   * Run `exchange` alone: once no request is waiting for its reply, and with the turn held
   * until it settles.
   *
   * @param pending How many requests wait for replies now.
   * @param exchange What to send and wait for.
   * @returns What `exchange` returns.
   */
  async runAlone<T>(pending: () => number, exchange: () => Promise<T>): Promise<T> {
    // Check and take the turn in one step, so that two callers never both go.
    while (this.#alone) await this.#alone;
    const done = Promise.withResolvers<void>();
    this.#alone = done.promise;
    try {
      if (pending() > 0) {
        this.#drained = Promise.withResolvers<void>();
        await this.#drained.promise;
        this.#drained = undefined;
      }
      return await exchange();
    } finally {
      this.#alone = undefined;
      done.resolve();
    }
  }

  /** No request waits for a reply any more (the last came, or the connection failed). */
  drained(): void {
    this.#drained?.resolve();
  }
}
