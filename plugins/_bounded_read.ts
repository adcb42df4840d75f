/**
 * Read a whole stream into RAM under a size cap and a running memory budget: each chunk
 * is claimed as it arrives, and so is the joined copy, so a peer that sends too much is cut
 * off as soon as it passes what is left, not after everything has arrived.
 *
 * @module
 */

import type { MemoryAllowance } from "../lib/io/types.ts";
import { concatBytes } from "../lib/protocol/bytes.ts";

/**
 * Options of {@linkcode readBounded}.
 *
 * @example
 * ```ts
 * import type { BoundedReadOptions } from "./_bounded_read.ts";
 * const options: BoundedReadOptions = { max: 1024, tooLarge: () => new RangeError("big") };
 * console.assert(options.max === 1024);
 * ```
 */
export interface BoundedReadOptions {
  /** The most bytes accepted. */
  max: number;
  /** The error when more than `max` arrive. */
  tooLarge: () => Error;
  /** The open's memory budget: chunks and the joined copy are claimed from it. */
  memory?: MemoryAllowance;
  /** Who needs the bytes, in a budget refusal (default `the data`). */
  what?: string;
  /** Bytes already taken from the stream's source, counted and kept first. */
  first?: Uint8Array;
}

/**
 * Read `stream` to its end into one buffer.
 *
 * @param stream The bytes.
 * @param options The cap and the budget.
 * @returns All the bytes.
 * @throws {Error} `tooLarge()` past `max`, or the budget's refusal; the stream is cancelled.
 *
 * @example
 * ```ts
 * import { readBounded } from "./_bounded_read.ts";
 * import assert from "node:assert/strict";
 *
 * const tooLarge = () => new RangeError("over 4 bytes");
 * const bytes = await readBounded(new Blob(["abc"]).stream(), { max: 4, tooLarge });
 * assert.equal(new TextDecoder().decode(bytes), "abc");
 * await assert.rejects(readBounded(new Blob(["abcde"]).stream(), { max: 4, tooLarge }), /over 4/);
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  options: BoundedReadOptions,
): Promise<Uint8Array> {
  const what = options.what ?? "the data";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    if (options.first !== undefined && options.first.length > 0) {
      total = options.first.length;
      if (total > options.max) throw options.tooLarge();
      options.memory?.claim(total, what);
      chunks.push(options.first);
    }
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > options.max) throw options.tooLarge();
      options.memory?.claim(value.length, what);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  options.memory?.claim(total, what);
  return concatBytes(chunks);
}
