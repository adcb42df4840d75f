/**
 * `sparse://SIZE` — a sparse buffer: the first SIZE bytes are zeros, writes anywhere create
 * or extend chunks, never-written ranges read as 0xff, and the size is the end of the
 * highest chunk. Only written ranges are stored.
 *
 * @example
 * ```ts
 * import sparse from "./sparse.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await sparse.open("sparse://2", {});
 * await desc.write(4, new Uint8Array([7]));
 * assert.deepEqual([...await desc.read(0, 8)], [0, 0, 0xff, 0xff, 7]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { parseSizeUri } from "../lib/io/uri.ts";

interface Chunk {
  start: number;
  bytes: Uint8Array;
}

/**
 * Sorted, non-overlapping, non-adjacent chunks of written bytes.
 *
 * @example
 * ```ts
 * import { SparseStore } from "./sparse.ts";
 * import assert from "node:assert/strict";
 *
 * const store = new SparseStore();
 * store.write(10, new Uint8Array([1, 2]));
 * store.write(11, new Uint8Array([3, 4]));
 * assert.equal(store.end, 13);
 * assert.deepEqual([...store.read(9, 5, 0xff)], [0xff, 1, 3, 4, 0xff]);
 * assert.deepEqual(store.ranges(), [{ from: 10, to: 13 }]);
 * ```
 */
export class SparseStore {
  #chunks: Chunk[] = [];

  /** Bytes held in memory by the chunks (their buffers, spare capacity included). */
  get storedBytes(): number {
    let total = 0;
    for (const c of this.#chunks) total += c.bytes.buffer.byteLength;
    return total;
  }

  /** The end of the highest chunk (0 when empty). */
  get end(): number {
    const last = this.#chunks.at(-1);
    return last ? last.start + last.bytes.length : 0;
  }

  /**
   * The written ranges.
   *
   * @returns The ranges, `to` exclusive.
   */
  ranges(): { from: number; to: number }[] {
    return this.#chunks.map((c) => ({ from: c.start, to: c.start + c.bytes.length }));
  }

  /** The index of the first chunk that ends at or after `offset` (binary search). */
  #firstEndingFrom(offset: number): number {
    let lo = 0;
    let hi = this.#chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.#chunks[mid];
      if (c.start + c.bytes.length < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * How a write of `length` bytes at `offset` lands: in place in one chunk with room, or as
   * a new buffer (`length + spare` bytes) replacing chunks `first` to `last - 1`.
   */
  #plan(offset: number, length: number) {
    const end = offset + length;
    const chunks = this.#chunks;
    const first = this.#firstEndingFrom(offset);
    let last = first;
    while (last < chunks.length && chunks[last].start <= end) last++;
    if (last - first === 1) {
      // One chunk: write in place when it has room (appends reuse the spare capacity).
      const c = chunks[first];
      const capacity = c.bytes.buffer.byteLength - c.bytes.byteOffset;
      if (c.start <= offset && end - c.start <= capacity) {
        return { inPlace: c, first, last, start: 0, size: 0, spare: 0 };
      }
    }
    const start = last > first ? Math.min(offset, chunks[first].start) : offset;
    const lastEnd = last > first ? chunks[last - 1].start + chunks[last - 1].bytes.length : end;
    const size = Math.max(end, lastEnd) - start;
    // Spare room only when a chunk grows, half its size (at most 16 MiB).
    const grows = last > first && size > chunks[first].bytes.length;
    const spare = grows ? Math.min(size >>> 1, 16 * 1024 * 1024) : 0;
    return { inPlace: undefined, first, last, start, size, spare };
  }

  /**
   * The bytes a write of `length` bytes at `offset` would allocate: 0 when it lands in a
   * chunk with room, else the whole new chunk (its spare room included), which is held
   * alongside the chunks it replaces while they are copied.
   *
   * @param offset Where.
   * @param length How many bytes.
   * @returns Bytes to allocate.
   */
  growth(offset: number, length: number): number {
    if (length <= 0) return 0;
    const plan = this.#plan(offset, length);
    return plan.inPlace ? 0 : plan.size + plan.spare;
  }

  /**
   * Store `data` at `offset`, merging with overlapping or adjacent chunks. Finding them is a
   * binary search, and a chunk that grows keeps spare room, so many scattered writes or a
   * long run of appending writes cost about linear time, not quadratic.
   *
   * @param offset Where.
   * @param data What.
   */
  write(offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const { inPlace, first, last, start, size, spare } = this.#plan(offset, data.length);
    if (inPlace) {
      const end = offset + data.length;
      if (end - inPlace.start > inPlace.bytes.length) {
        inPlace.bytes = new Uint8Array(
          inPlace.bytes.buffer,
          inPlace.bytes.byteOffset,
          end - inPlace.start,
        );
      }
      inPlace.bytes.set(data, offset - inPlace.start);
      return;
    }
    const chunks = this.#chunks;
    const merged = new Uint8Array(new ArrayBuffer(size + spare), 0, size);
    for (let i = first; i < last; i++) merged.set(chunks[i].bytes, chunks[i].start - start);
    merged.set(data, offset - start);
    chunks.splice(first, last - first, { start, bytes: merged });
  }

  /**
   * Read `length` bytes at `offset`, filling gaps with `fill`.
   *
   * @param offset Where.
   * @param length How many.
   * @param fill The byte for never-written ranges.
   * @param zeroBelow Never-written bytes below this offset read as 0 instead of `fill`.
   * @returns The bytes.
   */
  read(offset: number, length: number, fill: number, zeroBelow = 0): Uint8Array {
    const out = new Uint8Array(length).fill(fill, Math.max(0, zeroBelow - offset));
    const end = offset + length;
    for (let i = this.#firstEndingFrom(offset); i < this.#chunks.length; i++) {
      const c = this.#chunks[i];
      if (c.start >= end) break;
      const cEnd = c.start + c.bytes.length;
      if (cEnd <= offset) continue;
      const from = Math.max(offset, c.start);
      const to = Math.min(end, cEnd);
      out.set(c.bytes.subarray(from - c.start, to - c.start), from - offset);
    }
    return out;
  }
}

class SparseDescriptor extends DescriptorBase {
  readonly #store = new SparseStore();
  /** The initial zero-filled extent, kept as a number rather than stored bytes. */
  readonly #zeros: number;

  constructor(uri: string, size: number) {
    super(uri, "sparse", true);
    this.#zeros = size;
  }

  size(): Promise<number> {
    return Promise.resolve(Math.max(this.#zeros, this.#store.end));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, await this.size() - offset));
    return this.#store.read(offset, n, 0xff, this.#zeros);
  }

  override write(offset: number, data: Uint8Array): Promise<number> {
    // Past 2^53 offsets lose precision and the chunk arithmetic breaks.
    if (offset + data.length > Number.MAX_SAFE_INTEGER) {
      return Promise.reject(
        new IoError(this.uri, `Cannot write to "${this.uri}" at 0x${offset.toString(16)}: too far`),
      );
    }
    this.#store.write(offset, data);
    return Promise.resolve(data.length);
  }

  memoryUsage(): number {
    return this.#store.storedBytes;
  }

  memoryGrowth(offset: number, length: number): number {
    return this.#store.growth(offset, length);
  }
}

/**
 * The `sparse` plugin.
 *
 * @example
 * ```ts
 * import sparse from "./sparse.ts";
 * console.assert(sparse.capabilities.write);
 * ```
 */
const sparse: IoPlugin = definePlugin({
  name: "sparse",
  description: "sparse buffer: zeros up to SIZE, 0xff where never written (sparse://SIZE)",
  uriForms: ["sparse://SIZE"],
  capabilities: { write: true },
  open: (uri) => new SparseDescriptor(uri, parseSizeUri(uri)),
});

export default sparse;
