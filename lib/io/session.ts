/**
 * An IO session: the open descriptors of one user (a RAP connection or a shell), the
 * current one, the seek and the block size. Unlike radare2, which shares one state between
 * every client, each RAP connection gets its own session.
 *
 * @module
 */

import { UT64_MAX } from "../protocol/constants.ts";
import { IoError } from "./errors.ts";
import { formatBytes, type MemoryBudget } from "./memory_budget.ts";
import { IoRegistry } from "./registry.ts";
import type { IoDescriptor, MemoryAllowance, OpenOptions } from "./types.ts";

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
}

/** The allowance of one open in progress, with what it claimed so far. */
interface OpenClaim extends MemoryAllowance {
  /** Bytes claimed (reserved from the shared budget, pending in the session). */
  claimed: number;
  /** Give back everything claimed (the open failed). */
  cancel(): void;
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
  readonly #budget: MemoryBudget | undefined;
  /** Bytes of the shared budget each file holds (its `memoryUsage()` when last counted). */
  readonly #charged = new Map<IoDescriptor, number>();
  /** Bytes claimed by opens in progress. */
  #pending = 0;
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
    this.#budget = options.memoryBudget;
  }

  /**
   * Open a URI; the new file becomes the current one. The plugin is told what is left of
   * the memory budgets (`OpenOptions.memoryBudget`) and how many files may still be opened
   * (`OpenOptions.maxFiles`); once open, the RAM the file holds is checked again.
   *
   * @param uri The URI or path.
   * @param options How to open it.
   * @returns The new fd.
   * @throws {IoError} When the session has too many open files, the file would take the
   * session or the server over its memory budget, or the open fails.
   */
  async open(uri: string, options: OpenOptions = {}): Promise<number> {
    this.#checkRoom(uri, 1);
    const claim = this.#claim(uri);
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
    const claim = this.#claim(uri);
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
      memoryBudget: claim,
      maxFiles: Math.min(options.maxFiles ?? Infinity, this.#maxOpenFiles - this.#files.size),
    };
  }

  /** The allowance of one open: claims count against both limits at once. */
  #claim(uri: string): OpenClaim {
    // deno-lint-ignore no-this-alias
    const session = this;
    const claim: OpenClaim = {
      claimed: 0,
      get remaining(): number {
        const own = session.#maxMemory - session.memoryUsage() - session.#pending;
        return Math.max(0, Math.min(own, session.#budget?.available ?? Infinity));
      },
      claim(bytes: number, what = "it"): void {
        if (!(bytes > 0)) return;
        const total = session.memoryUsage() + session.#pending + bytes;
        if (total > session.#maxMemory) {
          throw new IoError(
            uri,
            `Cannot open "${uri}": ${what} needs ${formatBytes(bytes)}, but the session's ` +
              `files would hold ${total} bytes in memory, over its limit of ` +
              `${session.#maxMemory} (--max-session-memory)`,
          );
        }
        if (session.#budget && !session.#budget.tryReserve(bytes)) {
          throw new IoError(
            uri,
            `Cannot open "${uri}": ${session.#budget.refusal(bytes, what).message}`,
          );
        }
        session.#pending += bytes;
        claim.claimed += bytes;
      },
      cancel(): void {
        session.#pending -= claim.claimed;
        session.#budget?.release(claim.claimed);
        claim.claimed = 0;
      },
    };
    return claim;
  }

  /**
   * Keep newly opened files only while the session stays within its file and memory
   * limits: what they hold replaces what the open claimed.
   */
  async #admit(uri: string, descriptors: IoDescriptor[], claim: OpenClaim): Promise<number[]> {
    const refuse = async (message: string): Promise<never> => {
      claim.cancel();
      for (const d of descriptors) await d.close().catch(() => {});
      throw new IoError(uri, message);
    };
    if (this.#files.size + descriptors.length > this.#maxOpenFiles) {
      await refuse(`Cannot open "${uri}": too many open files (${this.#maxOpenFiles})`);
    }
    const usages = descriptors.map((d) => d.memoryUsage?.() ?? 0);
    const total = usages.reduce((a, b) => a + b, 0);
    const used = this.memoryUsage() + this.#pending - claim.claimed + total;
    if (used > this.#maxMemory) {
      await refuse(
        `Cannot open "${uri}": the session's files would hold ${used} bytes in memory, ` +
          `over its limit of ${this.#maxMemory} (--max-session-memory)`,
      );
    }
    const budget = this.#budget;
    const extra = total - claim.claimed;
    if (budget && extra > 0 && !budget.tryReserve(extra)) {
      claim.cancel(); // so the message counts what this open had claimed as left
      await refuse(`Cannot open "${uri}": ${budget.refusal(total).message}`);
    }
    if (budget && extra < 0) budget.release(-extra);
    this.#pending -= claim.claimed;
    claim.claimed = 0;
    return descriptors.map((d, i) => this.#insert(d, usages[i]));
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
   * Check that a write to `desc` may grow the RAM the session's files hold: refused once the
   * session holds more than its limit, or the shared budget is overdrawn.
   *
   * @param desc The descriptor about to be written.
   * @throws {IoError} When the session or the shared budget is over its limit.
   */
  checkWriteMemory(desc: IoDescriptor): void {
    if (desc.memoryUsage === undefined) return;
    const used = this.memoryUsage();
    if (used > this.#maxMemory) {
      throw new IoError(
        desc.uri,
        `Cannot write to "${desc.uri}": the session's files hold ${used} bytes in memory, ` +
          `over its limit of ${this.#maxMemory} (--max-session-memory)`,
      );
    }
    const budget = this.#budget;
    if (budget && budget.used > budget.limit) {
      throw new IoError(
        desc.uri,
        `Cannot write to "${desc.uri}": ${budget.owner} memory budget is spent ` +
          `(${formatBytes(budget.used)} held, limit ${formatBytes(budget.limit)}) (${budget.flag})`,
      );
    }
  }

  /**
   * Write to one of the session's files under its memory limits: a write that would grow
   * the file (`memoryGrowth`) past the session's limit or the shared budget is refused
   * before it is made, and what the file holds afterwards is counted.
   *
   * @param desc The descriptor (one of the session's files, or a view of a shared one).
   * @param offset Where to write.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {IoError} When the write does not fit the memory limits, or the plugin fails.
   */
  async writeTo(desc: IoDescriptor, offset: number, data: Uint8Array): Promise<number> {
    this.checkWriteMemory(desc);
    const growth = Math.max(0, desc.memoryGrowth?.(offset, data.length) ?? 0);
    if (growth > 0) {
      const used = this.memoryUsage() + this.#pending + growth;
      if (used > this.#maxMemory) {
        throw new IoError(
          desc.uri,
          `Cannot write to "${desc.uri}": the write needs ${formatBytes(growth)}, but the ` +
            `session's files would hold ${used} bytes in memory, over its limit of ` +
            `${this.#maxMemory} (--max-session-memory)`,
        );
      }
      if (this.#budget && !this.#budget.tryReserve(growth)) {
        throw new IoError(
          desc.uri,
          `Cannot write to "${desc.uri}": ${this.#budget.refusal(growth, "the write").message}`,
        );
      }
    }
    try {
      return await desc.write(offset, data);
    } finally {
      this.#recount(desc, growth);
    }
  }

  /** After a write: the shared budget holds what `desc` holds now (`reserved` was taken). */
  #recount(desc: IoDescriptor, reserved: number): void {
    const budget = this.#budget;
    const before = this.#charged.get(desc);
    if (before === undefined) {
      budget?.release(reserved);
      return;
    }
    const now = desc.memoryUsage?.() ?? 0;
    const held = before + reserved;
    if (now <= held) budget?.release(held - now);
    else budget?.overdraw(now - held);
    this.#charged.set(desc, now);
  }

  #checkRoom(uri: string, count: number): void {
    if (this.#files.size + count > this.#maxOpenFiles) {
      throw new IoError(uri, `Cannot open "${uri}": too many open files (${this.#maxOpenFiles})`);
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
    const usage = descriptor.memoryUsage?.() ?? 0;
    this.#budget?.overdraw(usage);
    return this.#insert(descriptor, usage);
  }

  /** Add a descriptor whose `charged` bytes are already reserved. */
  #insert(descriptor: IoDescriptor, charged: number): number {
    const fd = this.#nextFd++;
    this.#files.set(fd, descriptor);
    this.#charged.set(descriptor, charged);
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
    this.#budget?.release(this.#charged.get(desc) ?? 0);
    this.#charged.delete(desc);
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
    return await this.writeTo(desc, Number(offset), data);
  }

  /** Same as {@linkcode IoSession.closeAll}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
