/**
 * An in-memory descriptor: the shared core of malloc, hex, http, gzip and other plugins
 * whose bytes live in RAM.
 *
 * @module
 */

import { IoError } from "./errors.ts";
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
export class MemoryDescriptor implements IoDescriptor {
  /** The URI (may be rewritten by `onWrite`). */
  uri: string;
  /** The plugin name. */
  readonly plugin: string;
  /** Whether writes are allowed. */
  readonly writable: boolean;
  #bytes: Uint8Array;
  #changed = false;
  #closed = false;
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
    this.uri = uri;
    this.plugin = plugin;
    this.#bytes = bytes;
    this.writable = options.writable ?? true;
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
   * @returns A view of the bytes (short at the end).
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    this.#check();
    const start = Math.min(Math.max(0, offset), this.#bytes.length);
    return Promise.resolve(this.#bytes.slice(start, Math.min(this.#bytes.length, start + length)));
  }

  /**
   * Write bytes.
   *
   * @param offset Where to start.
   * @param data The bytes; cut at the end of the buffer.
   * @returns Bytes written.
   */
  write(offset: number, data: Uint8Array): Promise<number> {
    this.#check();
    if (!this.writable) {
      return Promise.reject(
        new IoError(this.uri, `Cannot write to "${this.uri}": opened read-only`),
      );
    }
    const n = Math.max(0, Math.min(data.length, this.#bytes.length - offset));
    if (n > 0) {
      this.#bytes.set(data.subarray(0, n), offset);
      this.#changed = true;
      this.#options.onWrite?.(this);
    }
    return Promise.resolve(n);
  }

  /**
   * Change the size.
   *
   * @param size The new size; new bytes are zero.
   */
  resize(size: number): Promise<void> {
    this.#check();
    if (!this.#options.resizable) {
      return Promise.reject(new IoError(this.uri, `Cannot resize "${this.uri}"`));
    }
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, size));
    this.#bytes = next;
    this.#changed = true;
    return Promise.resolve();
  }

  /**
   * The RAM the buffer holds.
   *
   * @returns Its length in bytes.
   */
  memoryUsage(): number {
    return this.#bytes.length;
  }

  /** Release the buffer, calling `onClose` first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#options.onClose?.(this.#bytes, this.#changed);
  }

  /** Same as {@linkcode MemoryDescriptor.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(): void {
    if (this.#closed) throw new IoError(this.uri, `Descriptor "${this.uri}" is closed`);
  }
}
