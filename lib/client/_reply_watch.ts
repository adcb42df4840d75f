/**
 * The reply timer of a client connection: while requests wait, it checks four times per
 * timeout that replies keep coming, and four checks in a row without one give the
 * connection up. It counts replies instead of reading a clock.
 *
 * @module
 */

import { startTimer } from "./_timer.ts";

/**
 * Watches one connection's replies.
 *
 * @example
 * ```ts
 * import { ReplyWatch } from "./_reply_watch.ts";
 * import assert from "node:assert/strict";
 *
 * let waiting = true;
 * const expired = Promise.withResolvers<void>();
 * const watch = new ReplyWatch(40, () => waiting, () => expired.resolve());
 * watch.arm();
 * await expired.promise; // no reply within 40 ms
 * waiting = false;
 * watch.stop();
 * ```
 */
export class ReplyWatch {
  readonly #timeout: number;
  readonly #waiting: () => boolean;
  readonly #expire: () => void;
  #stop: (() => void) | undefined;
  #replies = 0;
  #consuming = false;

  /**
   * Create it, not running.
   *
   * @param timeout Milliseconds without a reply before `expire` (0 or less: never).
   * @param waiting Whether requests are waiting for replies.
   * @param expire Called once when the timeout passed without a reply.
   */
  constructor(timeout: number, waiting: () => boolean, expire: () => void) {
    this.#timeout = timeout;
    this.#waiting = waiting;
    this.#expire = expire;
  }

  /** Start checking, unless it runs already (a request was sent). */
  arm(): void {
    if (this.#timeout <= 0 || this.#stop !== undefined) return;
    let seen = this.#replies;
    let idleChecks = 0;
    const check = () => {
      this.#stop = undefined;
      if (!this.#waiting()) return;
      if (this.#replies !== seen || this.#consuming) {
        seen = this.#replies;
        idleChecks = 0;
      } else if (++idleChecks >= 4) {
        this.#expire();
        return;
      }
      this.#stop = startTimer(this.#timeout / 4, check);
    };
    this.#stop = startTimer(this.#timeout / 4, check);
  }

  /** A reply (or a piece of a streamed one) came. */
  replied(): void {
    this.#replies++;
  }

  /**
   * Whether the reader of a streamed reply holds a piece now: a slow consumer (a pipe into
   * a pager) is not a silent server.
   *
   * @param busy Whether it holds one.
   */
  consuming(busy: boolean): void {
    this.#consuming = busy;
  }

  /** Stop checking (the connection is gone). */
  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
