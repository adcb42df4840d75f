/**
 * A bounded LRU cache of fixed-size blocks over a slow random-access source (HTTP Range
 * requests, a remote peer): reads are served from cached blocks, and each run of missing
 * blocks is fetched with one request. Concurrent reads of the same block share one fetch.
 *
 * @example
 * ```ts
 * import { BlockCache } from "./_block_cache.ts";
 * import assert from "node:assert/strict";
 *
 * const data = Uint8Array.from({ length: 100 }, (_, i) => i);
 * let fetches = 0;
 * const cache = new BlockCache({
 *   blockSize: 16,
 *   maxBlocks: 4,
 *   size: data.length,
 *   fetch: (start, end) => {
 *     fetches++;
 *     return Promise.resolve(data.slice(start, end));
 *   },
 * });
 * assert.deepEqual([...await cache.read(30, 4)], [30, 31, 32, 33]);
 * await cache.read(32, 2);
 * assert.equal(fetches, 1);
 * ```
 *
 * @module
 */

/**
 * Options of a {@linkcode BlockCache}.
 *
 * @example
 * ```ts
 * import type { BlockCacheOptions } from "./_block_cache.ts";
 * const options: BlockCacheOptions = {
 *   blockSize: 65536,
 *   maxBlocks: 64,
 *   size: 1000,
 *   fetch: () => Promise.resolve(new Uint8Array(0)),
 * };
 * console.assert(options.maxBlocks === 64);
 * ```
 */
export interface BlockCacheOptions {
  /** Bytes per block. */
  blockSize: number;
  /** The most blocks kept (the least recently used go first). */
  maxBlocks: number;
  /** The size of the source in bytes; reads stop there. */
  size: number;
  /**
   * Fetch the bytes `[start, end)` of the source; `end` never exceeds `size`. Returning
   * fewer bytes means the source ends early.
   */
  fetch: (start: number, end: number) => Promise<Uint8Array>;
}

/**
 * The cache. See the module documentation.
 *
 * @example
 * ```ts
 * import { BlockCache } from "./_block_cache.ts";
 * import assert from "node:assert/strict";
 *
 * const cache = new BlockCache({
 *   blockSize: 4,
 *   maxBlocks: 2,
 *   size: 10,
 *   fetch: (start, end) => Promise.resolve(new Uint8Array(end - start).fill(start)),
 * });
 * assert.equal((await cache.read(8, 100)).length, 2);
 * ```
 */
export class BlockCache {
  readonly #options: BlockCacheOptions;
  /** Block index → its bytes (insertion order = recency: the first entry is the oldest). */
  readonly #blocks = new Map<number, Promise<Uint8Array>>();

  /**
   * Make an empty cache.
   *
   * @param options Block size, bound, source size and fetch function.
   */
  constructor(options: BlockCacheOptions) {
    if (!(options.blockSize >= 1) || !(options.maxBlocks >= 1)) {
      throw new RangeError("blockSize and maxBlocks must be at least 1");
    }
    this.#options = options;
  }

  /** Bytes the cache can hold at most for its blocks now (block size × blocks). */
  get cachedBytes(): number {
    return this.#blocks.size * this.#options.blockSize;
  }

  /** The number of blocks held (fetched or being fetched). */
  get cachedBlocks(): number {
    return this.#blocks.size;
  }

  /**
   * Put known bytes in the cache (e.g. the first block, which came with the size probe).
   *
   * @param start Where the bytes start; must be a block boundary.
   * @param bytes The bytes; only whole blocks (or the last block of the source) are kept.
   */
  seed(start: number, bytes: Uint8Array): void {
    const { blockSize, size } = this.#options;
    if (start % blockSize !== 0) throw new RangeError("seed must start on a block boundary");
    for (let pos = 0; pos < bytes.length; pos += blockSize) {
      const block = bytes.subarray(pos, pos + blockSize);
      const blockStart = start + pos;
      if (block.length === blockSize || blockStart + block.length === size) {
        this.#store(blockStart / blockSize, Promise.resolve(block));
      }
    }
  }

  /** Forget every block. */
  clear(): void {
    this.#blocks.clear();
  }

  /**
   * Read up to `length` bytes at `offset`, short only at the end of the source.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const { blockSize, size } = this.#options;
    const start = Math.max(0, offset);
    const end = Math.min(size, start + Math.max(0, length));
    if (end <= start) return new Uint8Array(0);
    const first = Math.floor(start / blockSize);
    const last = Math.floor((end - 1) / blockSize);
    // Hold every block of this read, so eviction during the read cannot lose one.
    const wanted: Promise<Uint8Array>[] = [];
    let runStart = -1;
    for (let i = first; i <= last + 1; i++) {
      const cached = i <= last ? this.#blocks.get(i) : undefined;
      if (i <= last && !cached) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) {
        wanted.push(...this.#fetchRun(runStart, i));
        runStart = -1;
      }
      if (cached) {
        this.#touch(i, cached);
        wanted.push(cached);
      }
    }
    const blocks = await Promise.all(wanted);
    const out = new Uint8Array(end - start);
    let filled = 0;
    for (let k = 0; k < blocks.length; k++) {
      const blockStart = (first + k) * blockSize;
      const block = blocks[k];
      const from = Math.max(0, start - blockStart);
      const to = Math.min(block.length, end - blockStart);
      if (to > from) {
        out.set(block.subarray(from, to), filled);
        filled += to - from;
      }
      if (block.length < blockSize) break; // the source ended early
    }
    return filled === out.length ? out : out.subarray(0, filled);
  }

  /** Fetch blocks `[from, to)` with one request; returns one promise per block. */
  #fetchRun(from: number, to: number): Promise<Uint8Array>[] {
    const { blockSize, size } = this.#options;
    const run = this.#options.fetch(from * blockSize, Math.min(size, to * blockSize));
    const promises: Promise<Uint8Array>[] = [];
    for (let i = from; i < to; i++) {
      const offset = (i - from) * blockSize;
      const block = run.then((bytes) => bytes.slice(offset, offset + blockSize));
      block.catch(() => {
        if (this.#blocks.get(i) === block) this.#blocks.delete(i);
      });
      this.#store(i, block);
      promises.push(block);
    }
    return promises;
  }

  #touch(index: number, block: Promise<Uint8Array>): void {
    this.#blocks.delete(index);
    this.#blocks.set(index, block);
  }

  #store(index: number, block: Promise<Uint8Array>): void {
    this.#touch(index, block);
    while (this.#blocks.size > this.#options.maxBlocks) {
      this.#blocks.delete(this.#blocks.keys().next().value!);
    }
  }
}
