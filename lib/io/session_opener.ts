/**
 * How an `IoSession` opens URIs: within its file and memory limits, read-only in a
 * read-only session, and with radare2's fallback to a plugin that opens several files at
 * once. What the new files hold is charged to the session's {@linkcode SessionMemory}.
 *
 * @module
 */

import { TooManyFilesError } from "./errors.ts";
import type { IoRegistry } from "./registry.ts";
import type { OpenClaim, SessionMemory } from "./session_memory.ts";
import type { IoDescriptor, OpenOptions } from "./types.ts";

/**
 * The limits a {@linkcode SessionOpener} opens within.
 *
 * @example
 * ```ts
 * import type { OpenLimits } from "./session_opener.ts";
 * const limits: OpenLimits = { maxOpenFiles: 64, readOnly: true };
 * console.assert(limits.readOnly);
 * ```
 */
export interface OpenLimits {
  /** The most files open at once. */
  maxOpenFiles: number;
  /** Whether everything is opened read-only. */
  readOnly: boolean;
}

/**
 * The file table the opened files go into.
 *
 * @example
 * ```ts
 * import type { IoDescriptor } from "@rap/cli";
 * import type { OpenTable } from "./session_opener.ts";
 * const files: IoDescriptor[] = [];
 * const table: OpenTable = { count: () => files.length, place: (d) => files.push(d) + 2 };
 * console.assert(table.count() === 0);
 * ```
 */
export interface OpenTable {
  /** How many files are open. */
  count(): number;
  /** Add a descriptor; it becomes the current one. Returns its fd. */
  place(descriptor: IoDescriptor): number;
}

/**
 * Opens URIs into one session's file table. See the module documentation.
 *
 * @example
 * ```ts
 * import { type IoDescriptor, IoRegistry, SessionMemory, TooManyFilesError } from "@rap/cli";
 * import { SessionOpener } from "./session_opener.ts";
 * import assert from "node:assert/strict";
 *
 * const files: IoDescriptor[] = [];
 * const memory = new SessionMemory(Infinity, undefined, () => files);
 * const opener = new SessionOpener(new IoRegistry(), memory, {
 *   maxOpenFiles: 1,
 *   readOnly: false,
 * }, { count: () => files.length, place: (d) => files.push(d) + 2 });
 * assert.deepEqual(await opener.open("hex://0011", {}, false), [3]);
 * assert.equal(files[0].uri, "hex://0011");
 * await assert.rejects(opener.open("hex://22", {}, false), TooManyFilesError);
 * for (const file of files) await file.close();
 * ```
 */
export class SessionOpener {
  readonly #registry: IoRegistry;
  readonly #memory: SessionMemory;
  readonly #limits: OpenLimits;
  readonly #table: OpenTable;

  /**
   * Make the opener of one session.
   *
   * @param registry Opens the URIs.
   * @param memory The session's memory, charged with what the new files hold.
   * @param limits See {@linkcode OpenLimits}.
   * @param table Where the new files go.
   */
  constructor(registry: IoRegistry, memory: SessionMemory, limits: OpenLimits, table: OpenTable) {
    this.#registry = registry;
    this.#memory = memory;
    this.#limits = limits;
    this.#table = table;
  }

  /**
   * Open a URI (or every file a "many" URI names) and place the files in the table.
   *
   * @param uri The URI or path.
   * @param options How to open it.
   * @param many Whether to open every file it names (`openMany`).
   * @returns The new fds, in order.
   * @throws {TooManyFilesError} When the session has too many open files.
   * @throws {MemoryLimitError} When the files would take the session or the server over
   * its memory budget.
   * @throws {IoError} When the open fails.
   */
  async open(uri: string, options: OpenOptions, many: boolean): Promise<number[]> {
    this.#checkRoom(uri, 1);
    const claim = this.#memory.claim(uri);
    const withBudget = this.#withBudget(options, claim);
    let descriptors: IoDescriptor[];
    try {
      descriptors = many
        ? await this.#registry.openMany(uri, withBudget)
        : [await this.#registry.open(uri, withBudget)];
    } catch (error) {
      claim.cancel();
      // Like radare2's r_core_file_open: when a single open fails, a plugin that opens
      // several files at once (apk://, zipall://, arall:// ...) gets its chance.
      const plugin = many ? undefined : await this.#registry.resolve(uri).catch(() => undefined);
      if (!plugin?.openMany) throw error;
      try {
        descriptors = await this.#registry.openMany(uri, withBudget);
      } catch (manyError) {
        claim.cancel();
        throw manyError;
      }
      if (descriptors.length === 0) throw error;
    }
    return await this.#admit(uri, descriptors, claim);
  }

  #withBudget(options: OpenOptions, claim: OpenClaim): OpenOptions {
    return {
      ...options,
      write: (options.write ?? false) && !this.#limits.readOnly,
      memoryBudget: claim,
      maxFiles: Math.min(
        options.maxFiles ?? Infinity,
        this.#limits.maxOpenFiles - this.#table.count(),
      ),
    };
  }

  /**
   * Keep newly opened files only while the session stays within its file and memory
   * limits: what they hold replaces what the open claimed.
   */
  async #admit(uri: string, descriptors: IoDescriptor[], claim: OpenClaim): Promise<number[]> {
    let usages: number[];
    try {
      if (this.#table.count() + descriptors.length > this.#limits.maxOpenFiles) {
        claim.cancel();
        throw new TooManyFilesError(uri, this.#limits.maxOpenFiles);
      }
      usages = this.#memory.admit(uri, descriptors, claim);
    } catch (error) {
      for (const d of descriptors) await d.close().catch(() => {});
      throw error;
    }
    return descriptors.map((d, i) => this.#insert(d, usages[i]));
  }

  #checkRoom(uri: string, count: number): void {
    if (this.#table.count() + count > this.#limits.maxOpenFiles) {
      throw new TooManyFilesError(uri, this.#limits.maxOpenFiles);
    }
  }

  /** Add a descriptor whose `charged` bytes are already reserved. */
  #insert(descriptor: IoDescriptor, charged: number): number {
    this.#memory.charge(descriptor, charged);
    return this.#table.place(descriptor);
  }
}
