/**
 * The open files of a session: fds (from 3, as in radare2) and which one is current. An
 * `IoSession` is a file table that also opens URIs and reads and writes under its rules.
 *
 * @module
 */

import { CURRENT_FD } from "../protocol/constants.ts";
import { BadFdError } from "./errors.ts";
import type { IoDescriptor } from "./types.ts";

/**
 * One open file of a session.
 *
 * @example
 * ```ts
 * import { IoSession, type OpenFile } from "@rap/cli";
 * await using session = new IoSession();
 * await session.open("malloc://8");
 * const file: OpenFile | undefined = session.currentFile;
 * console.assert(file?.fd === 3);
 * ```
 */
export interface OpenFile {
  /** The descriptor number (from 3, as in radare2). */
  fd: number;
  /** The open descriptor. */
  descriptor: IoDescriptor;
}

/**
 * Open descriptors by fd, and the current one.
 *
 * @example
 * ```ts
 * import { FileTable, MemoryDescriptor } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * class Table extends FileTable {
 *   add(desc: MemoryDescriptor): number {
 *     return this.place(desc);
 *   }
 * }
 * await using table = new Table();
 * const fd = table.add(new MemoryDescriptor("hex://00", "malloc", new Uint8Array(1)));
 * assert.equal(fd, 3);
 * assert.equal(table.currentFd, 3);
 * ```
 */
export class FileTable implements AsyncDisposable {
  readonly #files = new Map<number, IoDescriptor>();
  #nextFd = 3;
  #current: number | undefined;

  /** How many files are open. */
  get count(): number {
    return this.#files.size;
  }

  /**
   * The open descriptors.
   *
   * @returns Them, by fd.
   */
  descriptors(): IterableIterator<IoDescriptor> {
    return this.#files.values();
  }

  /**
   * Add a descriptor under the next fd; it becomes the current file.
   *
   * @param descriptor The descriptor (the table closes it).
   * @returns Its fd.
   */
  protected place(descriptor: IoDescriptor): number {
    const fd = this.#nextFd++;
    this.#files.set(fd, descriptor);
    this.#current = fd;
    return fd;
  }

  /**
   * Called when a file leaves the table, before it is closed.
   *
   * @param _descriptor The file.
   */
  protected released(_descriptor: IoDescriptor): void {}

  /** The current file's fd, if any. */
  get currentFd(): number | undefined {
    return this.#current;
  }

  /** The current file, if any. */
  get currentFile(): OpenFile | undefined {
    const fd = this.#current;
    return fd === undefined ? undefined : { fd, descriptor: this.#files.get(fd)! };
  }

  /** The current descriptor, if any. */
  get current(): IoDescriptor | undefined {
    return this.#current === undefined ? undefined : this.#files.get(this.#current);
  }

  /**
   * The descriptor of `fd`.
   *
   * @param fd The fd.
   * @returns The descriptor, or `undefined`.
   */
  get(fd: number): IoDescriptor | undefined {
    return this.#files.get(fd);
  }

  /**
   * The descriptor a request addresses: `fd`, or the current file for
   * {@linkcode CURRENT_FD}.
   *
   * @param fd The fd, or `CURRENT_FD` (-1).
   * @returns The descriptor.
   * @throws {BadFdError} When there is no such file.
   */
  descriptor(fd: number): IoDescriptor {
    const desc = fd === CURRENT_FD ? this.current : this.#files.get(fd);
    if (desc === undefined) throw new BadFdError(fd);
    return desc;
  }

  /**
   * Make `fd` the current file.
   *
   * @param fd The fd.
   * @throws {RangeError} If no such fd is open.
   */
  use(fd: number): void {
    if (!this.#files.has(fd)) throw new RangeError(`No open file with fd ${fd}`);
    this.#current = fd;
  }

  /**
   * The open files.
   *
   * @returns The files, by fd.
   */
  files(): OpenFile[] {
    return [...this.#files].map(([fd, descriptor]) => ({ fd, descriptor }));
  }

  /**
   * Close one of the session's own files. Other numbers are refused (radare2's server
   * would close any OS fd of its process).
   *
   * @param fd The fd.
   * @returns Whether a file was closed.
   */
  async close(fd: number): Promise<boolean> {
    const desc = this.#files.get(fd);
    if (!desc) return false;
    this.#files.delete(fd);
    if (this.#current === fd) this.#current = [...this.#files.keys()].at(-1);
    this.released(desc);
    await desc.close();
    return true;
  }

  /** Close every file. */
  async closeAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const fd of [...this.#files.keys()]) {
      await this.close(fd).catch((e) => errors.push(e));
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "Several files failed to close");
  }

  /** Same as {@linkcode FileTable.closeAll}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
