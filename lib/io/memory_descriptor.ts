/**
 * An in-memory descriptor: the shared core of malloc, hex, http, gzip and other plugins
 * whose bytes live in RAM.
 *
 * @module
 */

import { IoError } from "./errors.ts";
import { DescriptorBase } from "./plugin_base.ts";
import type { IoDescriptor } from "./types.ts";

/**
 * Options of a {@linkcode MemoryDescriptor}.
 *
 * @example
 * ```ts
 * import type { MemoryDescriptorOptions } from "@rap/cli/io";
 * const options: MemoryDescriptorOptions = { writable: true, resizable: true };
 * console.assert(options.resizable);
 * ```
 */
export interface MemoryDescriptorOptions {
  /** Allow writes (default true, as radare2's malloc plugin opens RW). */
  writable?: boolean;
  /** Allow `resize` (default false). */
  resizable?: boolean;
  /** Called on close with the final bytes when they were changed (e.g. to save them). */
  onClose?: (bytes: Uint8Array, changed: boolean) => Promise<void> | void;
  /** Called after every write (e.g. to rewrite the URI as `hex://` does). */
  onWrite?: (descriptor: MemoryDescriptor) => void;
}

/**
 * A fixed-size byte buffer as a descriptor. Writes are cut at the end of the buffer (no
 * growth), as in radare2's memory plugins.
 *
 * @example
 * ```ts
 * import { MemoryDescriptor } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using desc = new MemoryDescriptor("malloc://4", "malloc", new Uint8Array(4));
 * assert.equal(await desc.write(2, new Uint8Array([1, 2, 3])), 2);
 * assert.deepEqual([...await desc.read(0, 10)], [0, 0, 1, 2]);
 * ```
 */
export class MemoryDescriptor extends DescriptorBase {
  #bytes: Uint8Array;
  #changed = false;
  readonly #options: MemoryDescriptorOptions;

  /**
   * Create it.
   *
   * @param uri The URI it was opened with.
   * @param plugin The plugin name.
   * @param bytes The initial contents (kept, not copied).
   * @param options See {@linkcode MemoryDescriptorOptions}.
   */
  constructor(
    uri: string,
    plugin: string,
    bytes: Uint8Array,
    options: MemoryDescriptorOptions = {},
  ) {
    super(uri, plugin, options.writable ?? true);
    this.#bytes = bytes;
    this.#options = options;
  }

  /** The current contents (a live view). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /**
   * The buffer length.
   *
   * @returns The size in bytes.
   */
  size(): Promise<number> {
    return Promise.resolve(this.#bytes.length);
  }

  /**
   * Read bytes.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns A copy of the bytes (short at the end).
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() => DescriptorBase.slice(this.#bytes, offset, length));
  }

  /**
   * Write bytes.
   *
   * @param offset Where to start.
   * @param data The bytes; cut at the end of the buffer.
   * @returns Bytes written.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.guard(() => {
      this.checkWritable();
      const n = Math.max(0, Math.min(data.length, this.#bytes.length - offset));
      if (n > 0) {
        this.#bytes.set(data.subarray(0, n), offset);
        this.#changed = true;
        this.#options.onWrite?.(this);
      }
      return n;
    });
  }

  /**
   * Change the size.
   *
   * @param size The new size; new bytes are zero.
   */
  resize(size: number): Promise<void> {
    return this.guard(() => {
      if (!this.#options.resizable) throw new IoError(this.uri, `Cannot resize "${this.uri}"`);
      const next = new Uint8Array(size);
      next.set(this.#bytes.subarray(0, size));
      this.#bytes = next;
      this.#changed = true;
    });
  }

  /**
   * The RAM the buffer holds.
   *
   * @returns Its length in bytes.
   */
  memoryUsage(): number {
    return this.#bytes.length;
  }

  /**
   * Call `onClose` with the final bytes (on the first `close()`).
   *
   * @returns When `onClose` is done.
   */
  protected override async release(): Promise<void> {
    await this.#options.onClose?.(this.#bytes, this.#changed);
  }
}

/**
 * The bytes of `desc` at `offset` as a view of its own memory, without a copy, when it is
 * an in-memory descriptor whose reads are plain copies (`malloc://`, `hex://` ...): up to
 * `length` bytes, fewer at the end of its data. The view shows later writes: a caller that
 * keeps it (a server sending it) must be done with it before the file is written again.
 *
 * @param desc The descriptor.
 * @param offset The 64-bit offset.
 * @param length How many bytes at most.
 * @returns The view, or `undefined` when `desc` is not such a descriptor (or the offset is
 *   past what the IO layer addresses): read it the usual way then.
 *
 * @example
 * ```ts
 * import { MemoryDescriptor, memoryView } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * const desc = new MemoryDescriptor("hex://010203", "malloc", new Uint8Array([1, 2, 3]));
 * assert.deepEqual([...memoryView(desc, 1n, 8)!], [2, 3]);
 * ```
 */
export function memoryView(
  desc: IoDescriptor,
  offset: bigint,
  length: number,
): Uint8Array | undefined {
  if (
    !(desc instanceof MemoryDescriptor) || desc.read !== MemoryDescriptor.prototype.read ||
    offset > BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return undefined;
  }
  const bytes = desc.bytes;
  const at = Math.min(Number(offset), bytes.length);
  return bytes.subarray(at, Math.min(bytes.length, at + length));
}
