/**
 * A memory image made of address-tagged data records (Intel HEX, Motorola S-records):
 * built into a {@linkcode SparseStore} once, with overlapping records reported, and served
 * as a descriptor where gaps read as 0xff and the size is the highest address + 1.
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { DescriptorBase } from "../lib/io/plugin_base.ts";
import { SparseStore } from "./sparse.ts";

/**
 * Data bytes at an address, from one line of a text file.
 *
 * @example
 * ```ts
 * import type { DataRecord } from "./_sparse_image.ts";
 * const record: DataRecord = { address: 0x100, bytes: new Uint8Array([1]), line: 3 };
 * console.assert(record.line === 3);
 * ```
 */
export interface DataRecord {
  /** Where the bytes go. */
  address: number;
  /** The bytes. */
  bytes: Uint8Array;
  /** The 1-based line number the record came from (for errors). */
  line: number;
}

/**
 * RAM a text image format (Intel HEX, S-records) holds while it is parsed, per byte of
 * text: measured about 17 (the bytes, the text, one string and one small array per line),
 * for an image of about 0.35 bytes per byte of text. An open claims this much first.
 *
 * @example
 * ```ts
 * import { TEXT_IMAGE_RAM_PER_BYTE } from "./_sparse_image.ts";
 * console.assert(TEXT_IMAGE_RAM_PER_BYTE === 18);
 * ```
 */
export const TEXT_IMAGE_RAM_PER_BYTE = 18;

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/**
 * Store `records` in a new {@linkcode SparseStore}. Records are sorted by address and
 * adjacent ones joined first, so a large contiguous file costs one copy, not one per line.
 *
 * @param records The data records, in any order.
 * @returns The store.
 * @throws {SyntaxError} When two records write the same address, naming both lines.
 *
 * @example
 * ```ts
 * import { buildSparseImage } from "./_sparse_image.ts";
 * import assert from "node:assert/strict";
 *
 * const store = buildSparseImage([
 *   { address: 2, bytes: new Uint8Array([3, 4]), line: 2 },
 *   { address: 0, bytes: new Uint8Array([1, 2]), line: 1 },
 *   { address: 8, bytes: new Uint8Array([9]), line: 3 },
 * ]);
 * assert.deepEqual(store.ranges(), [{ from: 0, to: 4 }, { from: 8, to: 9 }]);
 * assert.throws(
 *   () => buildSparseImage([
 *     { address: 0, bytes: new Uint8Array(4), line: 1 },
 *     { address: 3, bytes: new Uint8Array(1), line: 2 },
 *   ]),
 *   /line 2: data at 0x00000003 overlaps line 1/,
 * );
 * ```
 */
export function buildSparseImage(records: readonly DataRecord[]): SparseStore {
  const store = new SparseStore();
  const sorted = records.filter((r) => r.bytes.length > 0)
    .sort((a, b) => a.address - b.address || a.line - b.line);
  let run: DataRecord[] = [];
  let runEnd = 0;
  const flush = () => {
    if (run.length === 0) return;
    const start = run[0].address;
    const bytes = new Uint8Array(runEnd - start);
    for (const r of run) bytes.set(r.bytes, r.address - start);
    store.write(start, bytes);
    run = [];
  };
  for (const record of sorted) {
    if (run.length > 0 && record.address < runEnd) {
      const previous = run.findLast((r) => r.address + r.bytes.length > record.address)!;
      throw new SyntaxError(
        `line ${record.line}: data at ${hex(record.address)} overlaps line ${previous.line}`,
      );
    }
    if (run.length > 0 && record.address !== runEnd) flush();
    run.push(record);
    runEnd = record.address + record.bytes.length;
  }
  flush();
  return store;
}

/**
 * Options of a {@linkcode SparseImageDescriptor}.
 *
 * @example
 * ```ts
 * import type { SparseImageOptions } from "./_sparse_image.ts";
 * const options: SparseImageOptions = { writable: false, addressLimit: 2 ** 32 };
 * console.assert(!options.writable);
 * ```
 */
export interface SparseImageOptions {
  /** Allow writes (default false). */
  writable?: boolean;
  /** Writes must end at or below this address (default 2^32). */
  addressLimit?: number;
  /** What the format calls itself in errors (default the plugin name). */
  format?: string;
  /** Called on close with the store and whether it was written to. */
  onClose?: (store: SparseStore, changed: boolean) => Promise<void> | void;
}

/**
 * A descriptor over a sparse memory image: gaps read as 0xff, the size is the end of the
 * highest data, writes (when allowed) land anywhere below the address limit.
 *
 * @example
 * ```ts
 * import { buildSparseImage, SparseImageDescriptor } from "./_sparse_image.ts";
 * import assert from "node:assert/strict";
 *
 * const store = buildSparseImage([{ address: 2, bytes: new Uint8Array([7]), line: 1 }]);
 * await using desc = new SparseImageDescriptor("ihex://x.hex", "ihex", store);
 * assert.equal(await desc.size(), 3);
 * assert.deepEqual([...await desc.read(0, 8)], [0xff, 0xff, 7]);
 * assert.equal(await desc.system("b"), "0x00000002 - 0x00000002 (size 0x3)");
 * ```
 */
export class SparseImageDescriptor extends DescriptorBase {
  readonly #store: SparseStore;
  readonly #options: SparseImageOptions;
  #changed = false;

  /**
   * A descriptor over `store`.
   *
   * @param uri The URI.
   * @param plugin The plugin name.
   * @param store The image.
   * @param options See {@linkcode SparseImageOptions}.
   */
  constructor(uri: string, plugin: string, store: SparseStore, options: SparseImageOptions = {}) {
    super(uri, plugin, options.writable ?? false);
    this.#store = store;
    this.#options = options;
  }

  /**
   * The size.
   *
   * @returns The highest address with data, plus one.
   */
  size(): Promise<number> {
    return Promise.resolve(this.#store.end);
  }

  /**
   * Read bytes; gaps are 0xff.
   *
   * @param offset Where.
   * @param length How many at most.
   * @returns The bytes, short at the end of the image.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() => {
      const n = Math.max(0, Math.min(length, this.#store.end - offset));
      return this.#store.read(offset, n, 0xff);
    });
  }

  /**
   * Write bytes (the image grows as needed).
   *
   * @param offset Where.
   * @param data What.
   * @returns The number of bytes written.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.guard(() => {
      this.checkWritable();
      const limit = this.#options.addressLimit ?? 2 ** 32;
      if (offset < 0 || offset + data.length > limit) {
        throw new IoError(
          this.uri,
          `Cannot write to "${this.uri}": ${this.#options.format ?? this.plugin} addresses ` +
            `end at ${hex(limit - 1)}`,
        );
      }
      if (data.length > 0) {
        this.#store.write(offset, data.slice());
        this.#changed = true;
      }
      return data.length;
    });
  }

  /**
   * Plugin commands: `r` lists the data ranges, `j` prints them as JSON
   * (`{min, max, size, ranges: [{from, to}]}`, `to` exclusive), `b` prints the bounds,
   * `?` the help.
   *
   * @param command The command, without the leading `:`.
   * @returns Its output.
   */
  system(command: string): Promise<string> {
    const ranges = this.#store.ranges();
    const min = ranges[0]?.from ?? 0;
    const size = this.#store.end;
    const max = Math.max(0, size - 1);
    switch (command.trim()) {
      case "?":
        return Promise.resolve(
          ["| :r  list the data ranges", "| :j  ranges as JSON", "| :b  bounds and size"]
            .join("\n"),
        );
      case "r":
        return Promise.resolve(ranges.map((r) => `${hex(r.from)} - ${hex(r.to)}`).join("\n"));
      case "j":
        return Promise.resolve(JSON.stringify({ min, max, size, ranges }));
      default:
        return Promise.resolve(`${hex(min)} - ${hex(max)} (size 0x${size.toString(16)})`);
    }
  }

  /**
   * The RAM the image holds.
   *
   * @returns Bytes stored for the written ranges.
   */
  memoryUsage(): number {
    return this.#store.storedBytes;
  }

  /**
   * The RAM a write would allocate (the image grows with writes).
   *
   * @param offset Where the write would start.
   * @param length How many bytes.
   * @returns Bytes to allocate (see {@linkcode SparseStore.growth}).
   */
  memoryGrowth(offset: number, length: number): number {
    return this.writable ? this.#store.growth(offset, length) : 0;
  }

  /** Call `onClose` (which may save the image), then release it. */
  protected override async release(): Promise<void> {
    await this.#options.onClose?.(this.#store, this.#changed);
  }
}
