/**
 * How much a connection of a `RapServer` buffers, which bounds its memory.
 *
 * @module
 */

/**
 * Per-connection buffering of `RapServer`: large payloads move in pieces of
 * `piece` bytes, and a connection stops reading requests while more than `highWaterMark`
 * reply bytes wait for the client (TCP flow control then holds the client back). The
 * memory one connection holds is therefore bounded by about
 * `piece` (a request being received) + `highWaterMark + piece` (replies queued) + 640 KiB
 * (read buffer, write batches): about 3.6 MiB, whatever `maxdata` is, whatever the client
 * sends and however slowly it reads. In-memory files (`malloc://` ...) are sent as views
 * of their own bytes, so their replies cost no extra memory.
 *
 * @example
 * ```ts
 * import { SERVER_BUFFERS } from "@rap/cli";
 * console.assert(SERVER_BUFFERS.piece === 1 << 20);
 * ```
 */
export const SERVER_BUFFERS: Readonly<{ piece: number; highWaterMark: number }> = {
  piece: 1024 * 1024,
  highWaterMark: 1024 * 1024,
};

/**
 * A few reusable buffers of one size, shared by every connection of the process: a READ_AT
 * of a file is read into one and sent from it, and the buffer comes back once the writer
 * is done with it (`QueuedWriter.write`'s `written`). Allocating a fresh 1 MiB buffer per
 * piece costs its zeroing and page faults, and leaves garbage that grows the heap until a
 * GC. At most `keep` buffers wait here; beyond that they are left to the GC, so an idle
 * server holds at most `keep × size` bytes, and a connection holds no more than before
 * (what it has queued is bounded as described in {@linkcode SERVER_BUFFERS}).
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffers.ts";
 * import assert from "node:assert/strict";
 *
 * const pool = new BufferPool(4096, 1);
 * const a = pool.take();
 * pool.give(a.subarray(0, 10));
 * assert.equal(pool.take().buffer, a.buffer);
 * assert.equal(pool.take().length, 4096);
 * ```
 */
export class BufferPool {
  readonly #size: number;
  readonly #keep: number;
  readonly #free: Uint8Array[] = [];

  /**
   * Create an empty pool.
   *
   * @param size The size of every buffer.
   * @param keep The most buffers kept for reuse.
   */
  constructor(size: number, keep: number) {
    this.#size = size;
    this.#keep = keep;
  }

  /**
   * A buffer of the pool's size (a reused one, or a new one).
   *
   * @returns The buffer, the caller's until it gives it back.
   */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#size);
  }

  /**
   * Give a buffer back (or a view of one: its whole buffer comes back).
   *
   * @param bytes A buffer from {@linkcode BufferPool.take}, or a view of it.
   */
  give(bytes: Uint8Array): void {
    if (this.#free.length >= this.#keep || bytes.buffer.byteLength !== this.#size) return;
    this.#free.push(
      bytes.byteOffset === 0 && bytes.length === this.#size ? bytes : new Uint8Array(bytes.buffer),
    );
  }
}

/** The buffers READ_AT reads files into: 8 of one piece, 8 MiB for the whole process. */
export const PIECE_BUFFERS: BufferPool = new BufferPool(SERVER_BUFFERS.piece, 8);
