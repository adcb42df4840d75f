/**
 * A view of another descriptor that does not own it: reads and writes go through, closing
 * the view leaves the inner descriptor open (the shared default file of a server, a file
 * of the shell served by `=:port`).
 *
 * @module
 */

import type { IoDescriptor, ReadIntoOptions, StreamSink, SystemOptions } from "./types.ts";

/**
 * A descriptor that forwards to another one and does not close it.
 *
 * @example
 * ```ts
 * import { BorrowedDescriptor } from "@rap/cli";
 * import { openUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using inner = await openUri("hex://4142");
 * const view = new BorrowedDescriptor(inner);
 * await view.close();
 * assert.deepEqual([...await inner.read(0, 2)], [0x41, 0x42]);
 * ```
 */
export class BorrowedDescriptor implements IoDescriptor {
  /** The inner descriptor's URI. */
  readonly uri: string;
  /** The inner descriptor's plugin. */
  readonly plugin: string;
  /** Whether the inner descriptor is writable. */
  readonly writable: boolean;
  /** The inner descriptor's plugin commands, when it has them. */
  readonly system?: (command: string, options?: SystemOptions) => Promise<string>;
  /** The inner descriptor's `readInto`, when it has one. */
  readonly readInto?: (
    offset: number,
    into: Uint8Array,
    options?: ReadIntoOptions,
  ) => Promise<number>;
  /** The inner descriptor's `readStream`, when it has one. */
  readonly readStream?: (offset: number, length: number, write: StreamSink) => Promise<number>;
  readonly #inner: IoDescriptor;

  /**
   * Create it.
   *
   * @param inner The descriptor to forward to.
   */
  constructor(inner: IoDescriptor) {
    this.#inner = inner;
    this.uri = inner.uri;
    this.plugin = inner.plugin;
    this.writable = inner.writable;
    if (inner.system) this.system = (command, options) => inner.system!(command, options);
    if (inner.readInto) {
      this.readInto = (offset, into, options) => inner.readInto!(offset, into, options);
    }
    if (inner.readStream) {
      this.readStream = (offset, length, write) => inner.readStream!(offset, length, write);
    }
  }

  /**

   * The inner size.

   *

   * @returns The inner size.

   */
  size(): Promise<number> {
    return this.#inner.size();
  }

  /**
   * Read from the inner descriptor.
   *
   * @param offset Where.
   * @param length How many bytes.
   * @returns The inner descriptor's bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#inner.read(offset, length);
  }

  /**
   * Write to the inner descriptor.
   *
   * @param offset Where.
   * @param data The bytes.
   * @returns Bytes written.
   */
  write(offset: number, data: Uint8Array): Promise<number> {
    return this.#inner.write(offset, data);
  }

  /** Does nothing: the owner closes the inner descriptor. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Same as {@linkcode BorrowedDescriptor.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
