/**
 * The block caches of a {@linkcode RapClient}: one {@linkcode BlockCache} with read-ahead
 * per remote file (fd), filled with the client's own pipelined reads. Small reads (a
 * radare2 block, a shell's `px`) go through the cache; large ones (`rap cat`'s 1 MiB
 * pieces, bulk copies) bypass it and stream straight from the connection, so bulk
 * throughput is what it is without a cache. Writes the server acknowledged are copied into
 * the blocks held.
 *
 * @example
 * ```ts
 * import { FileCaches } from "./file_caches.ts";
 * import assert from "node:assert/strict";
 *
 * const file = Uint8Array.from({ length: 1 << 20 }, (_, i) => i & 0xff);
 * let requests = 0;
 * const caches = new FileCaches({ blockSize: 4096, maxBytes: 1 << 16 }, (_fd, at, into) => {
 *   requests++;
 *   into.set(file.subarray(Number(at), Number(at) + into.length));
 *   return Promise.resolve();
 * });
 * const out = new Uint8Array(16);
 * assert.ok(await caches.read(3, 100, out));
 * assert.ok(await caches.read(3, 50, out)); // the same block: no request
 * assert.equal(requests, 1);
 * assert.deepEqual(out, file.slice(50, 66));
 * assert.equal(await caches.read(3, 0, new Uint8Array(1 << 20)), false); // bulk: bypassed
 * ```
 *
 * @module
 */

import { BlockCache } from "./block_cache.ts";

/**
 * The cache settings of a `RapClient` (and of the `rap://` plugin and `rap proxy`).
 *
 * @example
 * ```ts
 * import type { RapCacheOptions } from "@rap/cli";
 * const cache: RapCacheOptions = { maxBytes: 16 << 20, readAhead: 4 << 20 };
 * console.assert(cache.maxBytes! > cache.readAhead!);
 * ```
 */
export interface RapCacheOptions {
  /** Bytes per block, the smallest fetch (default 64 KiB). */
  blockSize?: number;
  /** The most bytes cached per remote file (default 16 MiB). */
  maxBytes?: number;
  /** The largest read-ahead of sequential reads (default 4 MiB; 0 turns it off). */
  readAhead?: number;
  /** Reads of this many bytes or more bypass the cache (default 512 KiB). */
  bypass?: number;
}

/**
 * The defaults of {@linkcode RapCacheOptions}.
 *
 * @example
 * ```ts
 * import { RAP_CACHE_DEFAULTS } from "@rap/cli";
 * console.assert(RAP_CACHE_DEFAULTS.blockSize === 65536);
 * ```
 */
export const RAP_CACHE_DEFAULTS: Readonly<Required<RapCacheOptions>> = Object.freeze({
  blockSize: 64 * 1024,
  maxBytes: 16 * 1024 * 1024,
  readAhead: 4 * 1024 * 1024,
  bypass: 512 * 1024,
});

/** Reads `into.length` bytes of file `fd` at `offset` from the server (pipelined). */
export type CacheFill = (fd: number, offset: bigint, into: Uint8Array) => Promise<void>;

/**
 * One cache per fd. See the module documentation.
 *
 * @example
 * ```ts
 * import { FileCaches } from "./file_caches.ts";
 * import assert from "node:assert/strict";
 *
 * const caches = new FileCaches({ maxBytes: 1 << 20 }, () => Promise.resolve());
 * assert.equal(caches.capacity, 1 << 20);
 * ```
 */
export class FileCaches {
  readonly #settings: Required<RapCacheOptions>;
  readonly #fill: CacheFill;
  readonly #caches = new Map<number, BlockCache>();

  /**
   * Make the caches (none is made before a file is read).
   *
   * @param settings See {@linkcode RapCacheOptions}.
   * @param fill How blocks are read from the server.
   */
  constructor(settings: RapCacheOptions, fill: CacheFill) {
    const s = { ...RAP_CACHE_DEFAULTS, ...settings };
    if (!(s.blockSize >= 1) || !(s.maxBytes >= s.blockSize)) {
      throw new RangeError(
        `Invalid cache: ${s.maxBytes} bytes in blocks of ${s.blockSize} (--cache-size)`,
      );
    }
    this.#settings = s;
    this.#fill = fill;
  }

  /** The most bytes one file's cache holds. */
  get capacity(): number {
    const { maxBytes, blockSize } = this.#settings;
    return Math.floor(maxBytes / blockSize) * blockSize;
  }

  /** The caches' counters, added up (see `BlockCache.stats`). */
  get stats(): { hits: number; misses: number; fetches: number } {
    const total = { hits: 0, misses: 0, fetches: 0 };
    for (const cache of this.#caches.values()) {
      const s = cache.stats;
      total.hits += s.hits;
      total.misses += s.misses;
      total.fetches += s.fetches;
    }
    return total;
  }

  /**
   * Read through the cache of `fd`, unless the read is large (or beyond 2^53): then
   * nothing is done and the caller reads from the server.
   *
   * @param fd The file.
   * @param offset Where to read.
   * @param into The destination.
   * @returns Whether `into` was filled.
   */
  async read(fd: number, offset: number | bigint, into: Uint8Array): Promise<boolean> {
    const at = Number(offset);
    if (into.length >= this.#settings.bypass || !Number.isSafeInteger(at + into.length)) {
      return false;
    }
    const bytes = await this.#cache(fd).read(at, into.length);
    into.set(bytes);
    // The server pads past the end of its data; so do the blocks.
    if (bytes.length < into.length) into.fill(0xff, bytes.length);
    return true;
  }

  /**
   * The server acknowledged a write: copy it into the blocks of `fd` held.
   *
   * @param fd The file.
   * @param offset Where.
   * @param data The bytes written.
   */
  wrote(fd: number, offset: number | bigint, data: Uint8Array): void {
    const at = Number(offset);
    if (!Number.isSafeInteger(at + data.length)) return;
    this.#caches.get(fd)?.write(at, data);
  }

  /**
   * Forget the blocks of `fd` (closed, or another file took its place), or of every file.
   *
   * @param fd The file; all when absent.
   */
  forget(fd?: number): void {
    if (fd === undefined) this.#caches.clear();
    else this.#caches.delete(fd);
  }

  #cache(fd: number): BlockCache {
    let cache = this.#caches.get(fd);
    if (cache === undefined) {
      const { blockSize, readAhead } = this.#settings;
      cache = new BlockCache({
        blockSize,
        maxBlocks: this.capacity / blockSize,
        readAhead: { max: readAhead },
        fetch: async (start, end) => {
          const into = new Uint8Array(end - start);
          await this.#fill(fd, BigInt(start), into);
          return into;
        },
      });
      this.#caches.set(fd, cache);
    }
    return cache;
  }
}
