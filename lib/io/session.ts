/**
 * An IO session: the open descriptors of one user (a RAP connection or a shell), the
 * current one, the seek and the block size. Unlike radare2, which shares one state between
 * every client, each RAP connection gets its own session.
 *
 * @module
 */

import { CURRENT_FD, UT64_MAX } from "../protocol/constants.ts";
import { BadFdError, OffsetError, ReadOnlyError, TooManyFilesError } from "./errors.ts";
import type { MemoryBudget } from "./memory_budget.ts";
import { MemoryDescriptor } from "./memory_descriptor.ts";
import { IoRegistry } from "./registry.ts";
import { type OpenClaim, SessionMemory } from "./session_memory.ts";
import type { IoDescriptor, OpenOptions } from "./types.ts";

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
 * Options of an {@linkcode IoSession}.
 *
 * @example
 * ```ts
 * import { IoSession, type IoSessionOptions } from "@rap/cli";
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
   * would go over it fails, before the plugin allocates when it claims what it needs (see
   * `OpenOptions.memoryBudget`), else once it is open; a write that would grow a file
   * (`sparse://`) past it fails before it is made. Files whose bytes live elsewhere (files
   * on disk, processes, remote peers) do not count.
   */
  maxMemory?: number;
  /**
   * A budget shared with other sessions (a server's `--max-memory`): the RAM of this
   * session's files is reserved from it as well, and given back when they close.
   */
  memoryBudget?: MemoryBudget;
  /**
   * Open everything read-only and refuse every write ({@linkcode ReadOnlyError}), as a
   * server started with `--read-only` (default false).
   */
  readOnly?: boolean;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The state of one user of the IO layer, with radare2's read and seek semantics: reads
 * always return the requested count, padded with 0xff where nothing is mapped.
 *
 * @example
 * ```ts
 * import { IoSession } from "@rap/cli";
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
  /** Whether everything is opened read-only and writes are refused. */
  readonly readOnly: boolean;
  readonly #files = new Map<number, IoDescriptor>();
  readonly #maxOpenFiles: number;
  readonly #memory: SessionMemory;
  #nextFd = 3;
  #current: number | undefined;

  /**
   * Create it.
   *
   * @param options See {@linkcode IoSessionOptions}.
   */
  constructor(options: IoSessionOptions = {}) {
    this.registry = options.registry ?? new IoRegistry();
    this.readOnly = options.readOnly ?? false;
    this.#maxOpenFiles = options.maxOpenFiles ?? 64;
    this.#memory = new SessionMemory(
      options.maxMemory ?? Infinity,
      options.memoryBudget,
      () => this.#files.values(),
    );
  }

  /**
   * Open a URI; the new file becomes the current one. The plugin is told what is left of
   * the memory budgets (`OpenOptions.memoryBudget`) and how many files may still be opened
   * (`OpenOptions.maxFiles`); once open, the RAM the file holds is checked again. A
   * read-only session opens everything read-only.
   *
   * @param uri The URI or path.
   * @param options How to open it.
   * @returns The new fd.
   * @throws {TooManyFilesError} When the session has too many open files.
   * @throws {MemoryLimitError} When the file would take the session or the server over its
   * memory budget.
   * @throws {IoError} When the open fails.
   */
  async open(uri: string, options: OpenOptions = {}): Promise<number> {
    this.#checkRoom(uri, 1);
    const claim = this.#memory.claim(uri);
    const withBudget = this.#withBudget(options, claim);
    let descriptors: IoDescriptor[];
    try {
      descriptors = [await this.registry.open(uri, withBudget)];
    } catch (error) {
      claim.cancel();
      // Like radare2's r_core_file_open: when a single open fails, a plugin that opens
      // several files at once (apk://, zipall://, arall:// ...) gets its chance.
      const plugin = await this.registry.resolve(uri).catch(() => undefined);
      if (!plugin?.openMany) throw error;
      try {
        descriptors = await this.registry.openMany(uri, withBudget);
      } catch (manyError) {
        claim.cancel();
        throw manyError;
      }
      if (descriptors.length === 0) throw error;
    }
    return (await this.#admit(uri, descriptors, claim))[0];
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
    const claim = this.#memory.claim(uri);
    let descriptors: IoDescriptor[];
    try {
      descriptors = await this.registry.openMany(uri, this.#withBudget(options, claim));
    } catch (error) {
      claim.cancel();
      throw error;
    }
    return await this.#admit(uri, descriptors, claim);
  }

  #withBudget(options: OpenOptions, claim: OpenClaim): OpenOptions {
    return {
      ...options,
      write: (options.write ?? false) && !this.readOnly,
      memoryBudget: claim,
      maxFiles: Math.min(options.maxFiles ?? Infinity, this.#maxOpenFiles - this.#files.size),
    };
  }

  /**
   * Keep newly opened files only while the session stays within its file and memory
   * limits: what they hold replaces what the open claimed.
   */
  async #admit(uri: string, descriptors: IoDescriptor[], claim: OpenClaim): Promise<number[]> {
    let usages: number[];
    try {
      if (this.#files.size + descriptors.length > this.#maxOpenFiles) {
        claim.cancel();
        throw new TooManyFilesError(uri, this.#maxOpenFiles);
      }
      usages = this.#memory.admit(uri, descriptors, claim);
    } catch (error) {
      for (const d of descriptors) await d.close().catch(() => {});
      throw error;
    }
    return descriptors.map((d, i) => this.#insert(d, usages[i]));
  }

  /**
   * The RAM the session's files hold (the sum of their `memoryUsage()`).
   *
   * @returns Bytes.
   */
  memoryUsage(): number {
    return this.#memory.usage();
  }

  /**
   * Check that a write to `desc` may grow the RAM the session's files hold: refused once the
   * session holds more than its limit, or the shared budget is overdrawn.
   *
   * @param desc The descriptor about to be written.
   * @throws {MemoryLimitError} When the session or the shared budget is over its limit.
   */
  checkWriteMemory(desc: IoDescriptor): void {
    this.#memory.checkWrite(desc);
  }

  /**
   * Write to one of the session's files under its memory limits: a write that would grow
   * the file (`memoryGrowth`) past the session's limit or the shared budget is refused
   * before it is made, and what the file holds afterwards is counted. No other rule is
   * applied (see {@linkcode IoSession.write} for the fd-addressed write with all of them).
   *
   * @param desc The descriptor (one of the session's files, or a view of a shared one).
   * @param offset Where to write.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {MemoryLimitError} When the write does not fit the memory limits.
   * @throws {IoError} When the plugin fails.
   */
  writeTo(desc: IoDescriptor, offset: number, data: Uint8Array): Promise<number> {
    return this.#memory.write(desc, offset, data);
  }

  #checkRoom(uri: string, count: number): void {
    if (this.#files.size + count > this.#maxOpenFiles) {
      throw new TooManyFilesError(uri, this.#maxOpenFiles);
    }
  }

  /**
   * Add an already open descriptor; it becomes the current one. The RAM it holds is
   * counted against the shared budget as it is (even past the limit).
   *
   * @param descriptor The descriptor (the session closes it).
   * @returns Its fd.
   */
  add(descriptor: IoDescriptor): number {
    this.#memory.chargeAsIs(descriptor);
    return this.#place(descriptor);
  }

  /** Add a descriptor whose `charged` bytes are already reserved. */
  #insert(descriptor: IoDescriptor, charged: number): number {
    this.#memory.charge(descriptor, charged);
    return this.#place(descriptor);
  }

  #place(descriptor: IoDescriptor): number {
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
    this.#memory.release(desc);
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
   * The size of a file: `UT64_MAX` when it is unbounded.
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @returns The size.
   * @throws {BadFdError} When there is no such file.
   */
  async sizeOf(fd: number): Promise<bigint> {
    const size = await this.descriptor(fd).size();
    return Number.isFinite(size) ? BigInt(size) : UT64_MAX;
  }

  /**
   * Read up to `length` bytes of a file at `offset`: fewer only at the end of its data.
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @param offset The 64-bit offset.
   * @param length How many bytes.
   * @returns The bytes.
   * @throws {BadFdError} When there is no such file.
   * @throws {OffsetError} When the offset is past what the IO layer addresses.
   */
  async read(fd: number, offset: bigint, length: number): Promise<Uint8Array> {
    const desc = this.descriptor(fd);
    if (offset > MAX_SAFE) throw new OffsetError(desc.uri, offset);
    if (length === 0) return new Uint8Array(0);
    const bytes = await desc.read(Number(offset), length);
    return bytes.length > length ? bytes.subarray(0, length) : bytes;
  }

  /**
   * The bytes of a file at `offset` as a view of the file's own memory, without a copy,
   * when the file is an in-memory one whose reads are plain copies (`malloc://`, `hex://`
   * ...): up to `length` bytes, fewer at the end of its data. The view shows later writes:
   * a caller that keeps it (a server sending it) must be done with it before the file is
   * written again.
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @param offset The 64-bit offset.
   * @param length How many bytes at most.
   * @returns The view, or `undefined` when the file is not such a file (or the offset is
   *   past what the IO layer addresses): read it with {@linkcode IoSession.read} then.
   * @throws {BadFdError} When there is no such file.
   */
  view(fd: number, offset: bigint, length: number): Uint8Array | undefined {
    const desc = this.descriptor(fd);
    if (
      !(desc instanceof MemoryDescriptor) || desc.read !== MemoryDescriptor.prototype.read ||
      offset > MAX_SAFE
    ) {
      return undefined;
    }
    const bytes = desc.bytes;
    const at = Math.min(Number(offset), bytes.length);
    return bytes.subarray(at, Math.min(bytes.length, at + length));
  }

  /**
   * Write `data` to a file at `offset`, with every rule of the session: not in a read-only
   * session, not to a file opened read-only, not past the addressable offsets, and within
   * the memory limits.
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @param offset The 64-bit offset.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {BadFdError} When there is no such file.
   * @throws {ReadOnlyError} When the session or the file is read-only.
   * @throws {OffsetError} When the offset is too large.
   * @throws {MemoryLimitError} When the write does not fit the memory limits.
   * @throws {IoError} When the plugin fails.
   */
  write(fd: number, offset: bigint, data: Uint8Array): Promise<number> {
    try {
      const desc = this.writable(fd);
      if (offset > MAX_SAFE) throw new OffsetError(desc.uri, offset);
      return data.length === 0
        ? Promise.resolve(0)
        : this.#memory.write(desc, Number(offset), data);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The descriptor of `fd` if it may be written now (the checks of
   * {@linkcode IoSession.write} that need no data).
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @returns The descriptor.
   * @throws {BadFdError} When there is no such file.
   * @throws {ReadOnlyError} When the session or the file is read-only.
   * @throws {MemoryLimitError} When the session's files are over their memory limits.
   */
  writable(fd: number): IoDescriptor {
    const desc = this.descriptor(fd);
    if (this.readOnly) throw new ReadOnlyError("", "The server is read-only (--read-only)");
    if (!desc.writable) {
      throw new ReadOnlyError(desc.uri, `Cannot write to "${desc.uri}": opened read-only`);
    }
    this.#memory.checkWrite(desc);
    return desc;
  }

  /**
   * The size of the current file (radare2's SEEK END): `UT64_MAX` when there is none or it
   * is unbounded.
   *
   * @returns The size.
   */
  async size(): Promise<bigint> {
    return this.current === undefined ? UT64_MAX : await this.sizeOf(CURRENT_FD);
  }

  /**
   * Read exactly `length` bytes of the current file at `offset`, padded with 0xff where
   * the file has no data (past its end, past the addressable offsets, or no file open),
   * as radare2 does.
   *
   * @param offset The 64-bit offset.
   * @param length How many bytes.
   * @returns The bytes.
   */
  async readAt(offset: bigint, length: number): Promise<Uint8Array> {
    if (this.current === undefined || length === 0 || offset > MAX_SAFE) {
      return new Uint8Array(length).fill(0xff);
    }
    const bytes = await this.read(CURRENT_FD, offset, length);
    if (bytes.length === length) return bytes;
    const out = new Uint8Array(length).fill(0xff);
    out.set(bytes);
    return out;
  }

  /**
   * Write `data` to the current file at `offset` ({@linkcode IoSession.write} of
   * `CURRENT_FD`).
   *
   * @param offset The 64-bit offset.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {IoError} When no file is open, it is read-only, or the offset is too large.
   */
  writeAt(offset: bigint, data: Uint8Array): Promise<number> {
    return this.write(CURRENT_FD, offset, data);
  }

  /** Same as {@linkcode IoSession.closeAll}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
