/**
 * An IO session: the open descriptors of one user (a RAP connection or a shell), the
 * current one, the seek and the block size. Unlike radare2, which shares one state between
 * every client, each RAP connection gets its own session.
 *
 * @module
 */

import { UT64_MAX } from "../protocol/constants.ts";
import { IoError } from "./errors.ts";
import { IoRegistry } from "./registry.ts";
import type { IoDescriptor, OpenOptions } from "./types.ts";

/**
 * One open file of a session.
 *
 * @example
 * ```ts
 * import { IoSession, type OpenFile } from "@rap/cli/io";
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
 * Options of an {@linkcode IoSession}.
 *
 * @example
 * ```ts
 * import { IoSession, type IoSessionOptions } from "@rap/cli/io";
 * const options: IoSessionOptions = { maxOpenFiles: 4 };
 * await using session = new IoSession(options);
 * console.assert(session.files().length === 0);
 * ```
 */
export interface IoSessionOptions {
  /** The registry that opens URIs (default: the built-in plugins). */
  registry?: IoRegistry;
  /** The most files open at once (default 64). */
  maxOpenFiles?: number;
  /**
   * The most RAM the session's files may hold, in bytes (default: no limit). An open that
   * goes over it fails; once over (a sparse buffer grows with writes), writes fail too.
   * Files whose bytes live elsewhere (files on disk, processes, remote peers) do not count.
   */
  maxMemory?: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The state of one user of the IO layer, with radare2's read and seek semantics: reads
 * always return the requested count, padded with 0xff where nothing is mapped.
 *
 * @example
 * ```ts
 * import { IoSession } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * const fd = await session.open("hex://41424344");
 * assert.equal(fd, 3);
 * assert.deepEqual([...await session.readAt(2n, 4)], [0x43, 0x44, 0xff, 0xff]);
 * assert.equal(await session.size(), 4n);
 * ```
 */
export class IoSession implements AsyncDisposable {
  /** The registry used to open URIs. */
  readonly registry: IoRegistry;
  /** The current seek (64-bit). */
  seek = 0n;
  /** The block size (radare2's `b`). */
  blockSize = 256;
  readonly #files = new Map<number, IoDescriptor>();
  readonly #maxOpenFiles: number;
  readonly #maxMemory: number;
  #nextFd = 3;
  #current: number | undefined;

  /**
   * Create it.
   *
   * @param options See {@linkcode IoSessionOptions}.
   */
  constructor(options: IoSessionOptions = {}) {
    this.registry = options.registry ?? new IoRegistry();
    this.#maxOpenFiles = options.maxOpenFiles ?? 64;
    this.#maxMemory = options.maxMemory ?? Infinity;
  }

  /**
   * Open a URI; the new file becomes the current one.
   *
   * @param uri The URI or path.
   * @param options How to open it.
   * @returns The new fd.
   * @throws {IoError} When the session has too many open files, or the open fails.
   */
  async open(uri: string, options: OpenOptions = {}): Promise<number> {
    this.#checkRoom(uri, 1);
    let descriptor: IoDescriptor;
    try {
      descriptor = await this.registry.open(uri, options);
    } catch (error) {
      // Like radare2's r_core_file_open: when a single open fails, a plugin that opens
      // several files at once (apk://, zipall://, arall:// ...) gets its chance.
      const plugin = await this.registry.resolve(uri).catch(() => undefined);
      if (!plugin?.openMany) throw error;
      let many: IoDescriptor[];
      try {
        many = await this.registry.openMany(uri, options);
      } catch {
        throw error;
      }
      if (many.length === 0) throw error;
      return (await this.#admit(uri, this.#addAll(uri, many)))[0];
    }
    return (await this.#admit(uri, [this.add(descriptor)]))[0];
  }

  /**
   * Open every file a "many" URI names (e.g. `zipall://a.zip`); the last becomes current.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns Their fds, in order.
   */
  async openMany(uri: string, options: OpenOptions = {}): Promise<number[]> {
    this.#checkRoom(uri, 1);
    return await this.#admit(uri, this.#addAll(uri, await this.registry.openMany(uri, options)));
  }

  /** Keep newly opened files only while the session stays within its memory limit. */
  async #admit(uri: string, fds: number[]): Promise<number[]> {
    const used = this.memoryUsage();
    if (used <= this.#maxMemory) return fds;
    for (const fd of fds) await this.close(fd).catch(() => {});
    throw new IoError(
      uri,
      `Cannot open "${uri}": the session's files would hold ${used} bytes in memory, ` +
        `over its limit of ${this.#maxMemory} (--max-session-memory)`,
    );
  }

  /**
   * The RAM the session's files hold (the sum of their `memoryUsage()`).
   *
   * @returns Bytes.
   */
  memoryUsage(): number {
    let total = 0;
    for (const desc of this.#files.values()) total += desc.memoryUsage?.() ?? 0;
    return total;
  }

  /**
   * Check that a write to `desc` may grow the session's memory: refused once the session
   * holds more than its limit (a sparse buffer grew past it).
   *
   * @param desc The descriptor about to be written.
   * @throws {IoError} When the session is over its memory limit.
   */
  checkWriteMemory(desc: IoDescriptor): void {
    if (this.#maxMemory === Infinity || desc.memoryUsage === undefined) return;
    const used = this.memoryUsage();
    if (used > this.#maxMemory) {
      throw new IoError(
        desc.uri,
        `Cannot write to "${desc.uri}": the session's files hold ${used} bytes in memory, ` +
          `over its limit of ${this.#maxMemory} (--max-session-memory)`,
      );
    }
  }

  #checkRoom(uri: string, count: number): void {
    if (this.#files.size + count > this.#maxOpenFiles) {
      throw new IoError(uri, `Cannot open "${uri}": too many open files (${this.#maxOpenFiles})`);
    }
  }

  #addAll(uri: string, descriptors: IoDescriptor[]): number[] {
    if (this.#files.size + descriptors.length > this.#maxOpenFiles) {
      for (const d of descriptors) d.close().catch(() => {});
      this.#checkRoom(uri, descriptors.length);
    }
    return descriptors.map((d) => this.add(d));
  }

  /**
   * Add an already open descriptor; it becomes the current one.
   *
   * @param descriptor The descriptor (the session closes it).
   * @returns Its fd.
   */
  add(descriptor: IoDescriptor): number {
    const fd = this.#nextFd++;
    this.#files.set(fd, descriptor);
    this.#current = fd;
    return fd;
  }

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

  /**
   * The size of the current file (radare2's SEEK END): `UT64_MAX` when there is none or it
   * is unbounded.
   *
   * @returns The size.
   */
  async size(): Promise<bigint> {
    const desc = this.current;
    if (!desc) return UT64_MAX;
    const size = await desc.size();
    return Number.isFinite(size) ? BigInt(size) : UT64_MAX;
  }

  /**
   * Read exactly `length` bytes of the current file at `offset`, padded with 0xff where
   * the file has no data (past its end, or no file open), as radare2 does.
   *
   * @param offset The 64-bit offset.
   * @param length How many bytes.
   * @returns The bytes.
   */
  async readAt(offset: bigint, length: number): Promise<Uint8Array> {
    const desc = this.current;
    if (!desc || length === 0 || offset > MAX_SAFE) return new Uint8Array(length).fill(0xff);
    const bytes = await desc.read(Number(offset), length);
    if (bytes.length === length) return bytes;
    const out = new Uint8Array(length).fill(0xff);
    out.set(bytes);
    return out;
  }

  /**
   * Write `data` to the current file at `offset`.
   *
   * @param offset The 64-bit offset.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {IoError} When no file is open, it is read-only, or the offset is too large.
   */
  async writeAt(offset: bigint, data: Uint8Array): Promise<number> {
    const desc = this.current;
    if (!desc) throw new IoError("", "Cannot write: no file is open");
    if (!desc.writable) {
      throw new IoError(desc.uri, `Cannot write to "${desc.uri}": opened read-only`);
    }
    if (offset > MAX_SAFE) throw new IoError(desc.uri, `Cannot write at 0x${offset.toString(16)}`);
    this.checkWriteMemory(desc);
    return await desc.write(Number(offset), data);
  }

  /** Same as {@linkcode IoSession.closeAll}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
