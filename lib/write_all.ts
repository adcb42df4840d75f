/**
 * Writing whole buffers to a connection.
 *
 * @module
 */

/**
 * Anything with a `write` like `Deno.Conn`.
 *
 * @example
 * ```ts
 * import type { ByteSink } from "@rap/cli";
 * const sink: ByteSink = { write: (p) => Promise.resolve(p.length) };
 * console.assert(typeof sink.write === "function");
 * ```
 */
export interface ByteSink {
  /** Write some of `p`; resolve to the count written. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Write every byte of `chunks`, joined into as few writes as possible (one write per call
 * when the total is small), so a reply never goes out in pieces that wait on Nagle's
 * algorithm.
 *
 * @param sink The connection.
 * @param chunks The buffers, in order.
 *
 * @example
 * ```ts
 * import { writeAll } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const seen: number[] = [];
 * await writeAll({ write: (p) => { seen.push(...p); return Promise.resolve(p.length); } }, [
 *   new Uint8Array([1]),
 *   new Uint8Array([2, 3]),
 * ]);
 * assert.deepEqual(seen, [1, 2, 3]);
 * ```
 */
export async function writeAll(sink: ByteSink, chunks: readonly Uint8Array[]): Promise<void> {
  let data: Uint8Array;
  if (chunks.length === 1) {
    data = chunks[0];
  } else {
    let total = 0;
    for (const c of chunks) total += c.length;
    data = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
  }
  let done = 0;
  while (done < data.length) done += await sink.write(data.subarray(done));
}
