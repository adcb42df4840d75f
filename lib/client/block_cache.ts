/**
 * A bounded LRU cache of fixed-size blocks over a slow random-access source (HTTP Range
 * requests, a remote RAP server): reads are served from cached blocks, and each run of
 * missing blocks is fetched with one request. Concurrent reads of the same block share one
 * fetch. With `readAhead`, sequential reads also fetch the blocks after them, in a window
 * that grows while the reads stay sequential ({@linkcode ReadAhead}); random reads fetch
 * only their own blocks. Writes that reached the source are copied into the blocks held
 * ({@linkcode BlockCache.write}), so a writer reads its own writes.
 *
 * This is the one cache of the project: `RapClient` (and so the `rap://` plugin, `rap
 * cat`, the shell and `rap proxy`) and the `http://` plugin use it.
 *
 * @example
 * ```ts
 * import { BlockCache } from "./block_cache.ts";
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

import { ReadAhead, type ReadAheadOptions } from "./read_ahead.ts";

/**
 * Options of a {@linkcode BlockCache}.
 *
 * @example
 * ```ts
 * import type { BlockCacheOptions } from "./block_cache.ts";
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
  /** The size of the source in bytes; reads stop there (default: unbounded). */
  size?: number;
  /**
   * Fetch the bytes `[start, end)` of the source; `end` never exceeds `size`. Returning
   * fewer bytes means the source ends early.
   */
  fetch: (start: number, end: number) => Promise<Uint8Array>;
  /**
   * Read ahead of sequential reads, up to `max` bytes (default: none). The window is kept
   * within half the cache, so that what was fetched ahead is not evicted before it is read.
   */
  readAhead?: { max: number };
}

/**
 * The cache. See the module documentation.
 *
 * @example
 * ```ts
 * import { BlockCache } from "./block_cache.ts";
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
  readonly #options: Required<Omit<BlockCacheOptions, "readAhead">>;
  /** Block index → its bytes (insertion order = recency: the first entry is the oldest). */
  readonly #blocks = new Map<number, Promise<Uint8Array>>();
  readonly #ahead: ReadAhead | undefined;
  /** The end of what was fetched ahead (a block boundary); 0: nothing ahead. */
  #horizon = 0;
  /** Blocks found in the cache / fetched, and requests made. */
  #hits = 0;
  #misses = 0;
  #fetches = 0;

  /**
   * Make an empty cache.
   *
   * @param options Block size, bound, source size and fetch function.
   */
  constructor(options: BlockCacheOptions) {
    if (!(options.blockSize >= 1) || !(options.maxBlocks >= 1)) {
      throw new RangeError("blockSize and maxBlocks must be at least 1");
    }
    this.#options = { size: Infinity, ...options };
    const max = Math.min(
      options.readAhead?.max ?? 0,
      Math.floor(options.maxBlocks / 2) * options.blockSize,
    );
    if (max > 0) {
      const settings: ReadAheadOptions = { min: options.blockSize, max };
      this.#ahead = new ReadAhead(settings);
    }
  }

  /** The most bytes the blocks may take (block size × the most blocks). */
  get capacity(): number {
    return this.#options.maxBlocks * this.#options.blockSize;
  }

  /** Blocks found in the cache, blocks fetched, and fetch requests made, so far. */
  get stats(): { hits: number; misses: number; fetches: number } {
    return { hits: this.#hits, misses: this.#misses, fetches: this.#fetches };
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

  /** Forget every block (and the read-ahead's history). */
  clear(): void {
    this.#blocks.clear();
    this.#ahead?.reset();
    this.#horizon = 0;
  }

  /**
   * Copy bytes the source now holds (a write it acknowledged) into the blocks held or being
   * fetched, so later reads see them. Blocks not held are left alone: they are fetched
   * when read.
   *
   * @param offset Where the bytes were written.
   * @param data The bytes.
   *
   * @example
   * ```ts
   * import { BlockCache } from "./block_cache.ts";
   * import assert from "node:assert/strict";
   *
   * const file = new Uint8Array(32);
   * const cache = new BlockCache({
   *   blockSize: 16, maxBlocks: 4, fetch: (s, e) => Promise.resolve(file.slice(s, e)),
   * });
   * await cache.read(0, 32);
   * file.set([7, 7], 15); // the source took the write ...
   * cache.write(15, new Uint8Array([7, 7])); // ... and so does the cache
   * assert.deepEqual([...await cache.read(14, 4)], [0, 7, 7, 0]);
   * assert.equal(cache.stats.fetches, 1);
   * ```
   */
  write(offset: number, data: Uint8Array): void {
    const { blockSize } = this.#options;
    if (data.length === 0) return;
    const first = Math.floor(offset / blockSize);
    const last = Math.floor((offset + data.length - 1) / blockSize);
    for (let i = first; i <= last; i++) {
      const held = this.#blocks.get(i);
      if (held === undefined) continue;
      const blockStart = i * blockSize;
      const patched = held.then((block) => {
        const from = Math.max(offset, blockStart);
        const to = Math.min(offset + data.length, blockStart + block.length);
        if (to > from) block.set(data.subarray(from - offset, to - offset), from - blockStart);
        return block;
      });
      patched.catch(() => {
        if (this.#blocks.get(i) === patched) this.#blocks.delete(i);
      });
      this.#blocks.set(i, patched);
    }
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
        this.#hits++;
        this.#touch(i, cached);
        wanted.push(cached);
      }
    }
    // On the wire after the blocks this read waits for.
    if (this.#ahead !== undefined) this.#readAhead(start, end, last + 1);
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

  /**
   * Fetch the blocks ahead of a sequential read, once less than half the window is left
   * ahead of it: from the end of what was fetched ahead (or the read's next block) to a
   * window past the read.
   */
  #readAhead(start: number, end: number, next: number): void {
    const window = this.#ahead!.next(start, end - start);
    if (window === 0) {
      this.#horizon = 0;
      return;
    }
    const { blockSize, size } = this.#options;
    if (this.#horizon - end >= window / 2) return;
    const from = Math.max(next, Math.ceil(this.#horizon / blockSize));
    const to = Math.min(Math.ceil(size / blockSize), Math.ceil((end + window) / blockSize));
    if (to <= from) return;
    this.#horizon = to * blockSize;
    this.#ahead!.grow();
    let runStart = -1;
    for (let i = from; i <= to; i++) {
      const missing = i < to && !this.#blocks.has(i);
      if (missing && runStart < 0) runStart = i;
      if (!missing && runStart >= 0) {
        for (const block of this.#fetchRun(runStart, i)) block.catch(() => {});
        runStart = -1;
      }
    }
  }

  /** Fetch blocks `[from, to)` with one request; returns one promise per block. */
  #fetchRun(from: number, to: number): Promise<Uint8Array>[] {
    const { blockSize, size } = this.#options;
    this.#fetches++;
    this.#misses += to - from;
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
