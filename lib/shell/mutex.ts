/**
 * A minimal async mutex, one per IO session, so that commands of several shells over the
 * same session (the console, the HTTP endpoint, a server's clients) never interleave a
 * temporary seek with another command.
 *
 * @module
 */

/**
 * Runs one task at a time, in call order.
 *
 * @example
 * ```ts
 * import { Mutex } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const mutex = new Mutex();
 * const order: number[] = [];
 * await Promise.all([
 *   mutex.run(async () => { await Promise.resolve(); order.push(1); }),
 *   mutex.run(() => { order.push(2); return Promise.resolve(); }),
 * ]);
 * assert.deepEqual(order, [1, 2]);
 * ```
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /**
   * Run `task` once every earlier task has finished.
   *
   * @param task The task.
   * @returns What the task returns.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    const done = Promise.withResolvers<void>();
    this.#tail = done.promise;
    await previous;
    try {
      return await task();
    } finally {
      done.resolve();
    }
  }
}
