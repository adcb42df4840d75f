/**
 * Positional reads from a `Deno.FsFile`, a file handle shared by several descriptors, and
 * a read-only descriptor over a byte range of a file (one archive member).
 *
 * @module
 */

import { DescriptorBase } from "../lib/io/plugin_base.ts";

/**
 * Read up to `length` bytes at `offset` (short only at the end of the file).
 *
 * @param file The open file.
 * @param offset Where to read.
 * @param length How many bytes at most.
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import { readAt } from "./_file_range.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * assert.equal(new TextDecoder().decode(await readAt(file, 4, 10)), "ef");
 * await Deno.remove(path);
 * ```
 */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const filled = await readFileInto(file, offset, out);
  return filled === length ? out : out.subarray(0, filled);
}

/**
 * Read up to `into.length` bytes at `offset` into `into` (short only at the end of the
 * file). The seek is synchronous (an `lseek` never waits for the disk), so that a read
 * costs the one hop to Deno's blocking-IO thread that the read itself needs. (Reads of
 * 4 KiB made at once, `readSync`, were slower for a lock-step client: 1.4–2× its time.)
 *
 * @param file The open file.
 * @param offset Where to read.
 * @param into The destination.
 * @returns How many bytes were read into `into`.
 *
 * @example
 * ```ts
 * import { readFileInto } from "./_file_range.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * const into = new Uint8Array(4);
 * assert.equal(await readFileInto(file, 3, into), 3);
 * assert.equal(new TextDecoder().decode(into.subarray(0, 3)), "def");
 * await Deno.remove(path);
 * ```
 */
export async function readFileInto(
  file: Deno.FsFile,
  offset: number,
  into: Uint8Array,
): Promise<number> {
  file.seekSync(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < into.length) {
    const n = await file.read(into.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * {@linkcode readFileInto} done at once (`seekSync`, `readSync`): no hop to Deno's
 * blocking-IO thread, but the event loop waits for the read, so only for a caller with
 * nothing else to do (`ReadIntoOptions.atOnce`).
 *
 * @param file The open file.
 * @param offset Where to read.
 * @param into The destination.
 * @returns How many bytes were read into `into`.
 *
 * @example
 * ```ts
 * import { readFileIntoSync } from "./_file_range.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * const into = new Uint8Array(4);
 * assert.equal(readFileIntoSync(file, 4, into), 2);
 * assert.equal(new TextDecoder().decode(into.subarray(0, 2)), "ef");
 * await Deno.remove(path);
 * ```
 */
export function readFileIntoSync(file: Deno.FsFile, offset: number, into: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < into.length) {
    const n = file.readSync(into.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * A file handle shared by several descriptors: operations run one at a time (a seek and
 * its read never interleave with another's), and the file closes when the last user
 * releases it.
 *
 * @example
 * ```ts
 * import { SharedFile } from "./_file_range.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "xyz");
 * const shared = new SharedFile(await Deno.open(path));
 * shared.retain();
 * assert.equal((await shared.readAt(1, 1))[0], 0x79);
 * await shared.release();
 * await shared.release(); // the last release closes the file
 * await Deno.remove(path);
 * ```
 */
export class SharedFile {
  readonly #file: Deno.FsFile;
  #users = 1;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Share `file`.
   *
   * @param file The open file; it has one user (the caller) to start with.
   */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Add a user. */
  retain(): void {
    this.#users++;
  }

  /**
   * Remove a user; the last one closes the file once pending operations are done.
   *
   * @returns When the file is closed (or at once when other users remain).
   */
  async release(): Promise<void> {
    if (this.#users <= 0) return;
    if (--this.#users === 0) {
      await this.#queue;
      this.#file.close();
    }
  }

  /**
   * Run `op` with the file once earlier operations are done.
   *
   * @param op The operation.
   * @returns Its result.
   */
  run<T>(op: (file: Deno.FsFile) => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => op(this.#file));
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * {@linkcode readAt} on the shared file.
   *
   * @param offset Where.
   * @param length How many bytes at most.
   * @returns The bytes.
   */
  readAt(offset: number, length: number): Promise<Uint8Array> {
    return this.run((file) => readAt(file, offset, length));
  }
}

/**
 * A read-only descriptor over `size` bytes of a shared file starting at `start`, read on
 * demand (nothing is loaded at open).
 *
 * @example
 * ```ts
 * import { FileRangeDescriptor, SharedFile } from "./_file_range.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "headerDATAtrailer");
 * const desc = new FileRangeDescriptor("x", "ar", new SharedFile(await Deno.open(path)), 6, 4);
 * assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "DATA");
 * await desc.close();
 * await Deno.remove(path);
 * ```
 */
export class FileRangeDescriptor extends DescriptorBase {
  readonly #file: SharedFile;
  readonly #start: number;
  readonly #size: number;

  /**
   * A descriptor over part of a shared file.
   *
   * @param uri The URI.
   * @param plugin The plugin name.
   * @param file The shared file; this descriptor releases it on close.
   * @param start Where the range starts in the file.
   * @param size The range length.
   */
  constructor(uri: string, plugin: string, file: SharedFile, start: number, size: number) {
    super(uri, plugin, false);
    this.#file = file;
    this.#start = start;
    this.#size = size;
  }

  /**
   * The size.
   *
   * @returns The range length.
   */
  size(): Promise<number> {
    return Promise.resolve(this.#size);
  }

  /**
   * Read from the range.
   *
   * @param offset Where, relative to the range.
   * @param length How many bytes at most.
   * @returns The bytes, short at the end of the range.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() => {
      const n = Math.max(0, Math.min(length, this.#size - offset));
      return n === 0 ? new Uint8Array(0) : this.#file.readAt(this.#start + offset, n);
    });
  }

  /** Release the shared file. */
  protected override async release(): Promise<void> {
    await this.#file.release();
  }
}
