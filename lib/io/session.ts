/**
 * An IO session: the open descriptors of one user (a RAP connection or a shell), the
 * current one, the seek and the block size. Unlike radare2, which shares one state between
 * every client, each RAP connection gets its own session.
 *
 * The fds are a `FileTable`'s (`file_table.ts`), URIs are opened by a `SessionOpener`
 * (`session_opener.ts`) and the RAM the files hold is counted by `SessionMemory`
 * (`session_memory.ts`).
 *
 * @module
 */

import { CURRENT_FD, UT64_MAX } from "../protocol/constants.ts";
export type { OpenFile } from "./file_table.ts";
import { OffsetError, ReadOnlyError } from "./errors.ts";
import type { MemoryBudget } from "./memory_budget.ts";
import { IoRegistry } from "./registry.ts";
import { SessionMemory } from "./session_memory.ts";
import { SessionOpener } from "./session_opener.ts";
import { FileTable } from "./file_table.ts";
import type { IoDescriptor, OpenOptions, ReadIntoOptions } from "./types.ts";

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
   * server started without `-w` (default false).
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
export class IoSession extends FileTable {
  /** The registry used to open URIs. */
  readonly registry: IoRegistry;
  /** The current seek (64-bit). */
  seek = 0n;
  /** The block size (radare2's `b`). */
  blockSize = 256;
  /** Whether everything is opened read-only and writes are refused. */
  readonly readOnly: boolean;
  readonly #memory: SessionMemory;
  readonly #opener: SessionOpener;

  /**
   * Create it.
   *
   * @param options See {@linkcode IoSessionOptions}.
   */
  constructor(options: IoSessionOptions = {}) {
    super();
    this.registry = options.registry ?? new IoRegistry();
    this.readOnly = options.readOnly ?? false;
    this.#memory = new SessionMemory(
      options.maxMemory ?? Infinity,
      options.memoryBudget,
      () => this.descriptors(),
    );
    this.#opener = new SessionOpener(this.registry, this.#memory, {
      maxOpenFiles: options.maxOpenFiles ?? 64,
      readOnly: this.readOnly,
    }, { count: () => this.count, place: (descriptor) => this.place(descriptor) });
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
    return (await this.#opener.open(uri, options, false))[0];
  }

  /**
   * Open every file a "many" URI names (e.g. `zipall://a.zip`); the last becomes current.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns Their fds, in order.
   */
  openMany(uri: string, options: OpenOptions = {}): Promise<number[]> {
    return this.#opener.open(uri, options, true);
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
   * Add an already open descriptor; it becomes the current one. The RAM it holds is
   * counted against the shared budget as it is (even past the limit).
   *
   * @param descriptor The descriptor (the session closes it).
   * @returns Its fd.
   */
  add(descriptor: IoDescriptor): number {
    this.#memory.chargeAsIs(descriptor);
    return this.place(descriptor);
  }

  /** A closed file gives back what it held. */
  protected override released(descriptor: IoDescriptor): void {
    this.#memory.release(descriptor);
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
   * Read up to `into.length` bytes of a file at `offset` into `into`, under the rules of
   * {@linkcode IoSession.read}: straight into it when the descriptor can (`readInto`),
   * else read and copied.
   *
   * @param fd The fd, or `CURRENT_FD` for the current file.
   * @param offset The 64-bit offset.
   * @param into The destination.
   * @param options Passed to the descriptor's `readInto` (e.g. `atOnce`).
   * @returns How many bytes were read into `into`: fewer only at the end of the data.
   * @throws {BadFdError} When there is no such file.
   * @throws {OffsetError} When the offset is past what the IO layer addresses.
   *
   * @example
   * ```ts
   * import { IoSession } from "@rap/cli";
   * import assert from "node:assert/strict";
   *
   * await using session = new IoSession();
   * const fd = await session.open("hex://00112233");
   * const into = new Uint8Array(8);
   * assert.equal(await session.readInto(fd, 2n, into), 2);
   * assert.deepEqual([...into.subarray(0, 2)], [0x22, 0x33]);
   * ```
   */
  async readInto(
    fd: number,
    offset: bigint,
    into: Uint8Array,
    options?: ReadIntoOptions,
  ): Promise<number> {
    const desc = this.descriptor(fd);
    if (offset > MAX_SAFE) throw new OffsetError(desc.uri, offset);
    if (into.length === 0) return 0;
    if (desc.readInto !== undefined) {
      return Math.min(into.length, await desc.readInto(Number(offset), into, options));
    }
    const bytes = await this.read(fd, offset, into.length);
    into.set(bytes);
    return bytes.length;
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
    if (this.readOnly) {
      throw new ReadOnlyError("", "The server is read-only (rap serve -w makes it writable)");
    }
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
}
