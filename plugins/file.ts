/**
 * `file` — local files (radare2's `default` plugin): a plain path or `file://PATH`.
 * Read-only unless opened for writing; writes past the end extend the file.
 *
 * @example
 * ```ts
 * import file from "./file.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(file.permissions("/tmp/x", { write: true }), [
 *   { name: "read", path: "/tmp/x" },
 *   { name: "write", path: "/tmp/x" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError, ReadOnlyError } from "../lib/io/errors.ts";
import { openInScope } from "../lib/io/open_file.ts";
import { definePlugin, DescriptorBase, filePermissions } from "../lib/io/plugin_base.ts";
import type { IoDescriptor, IoPlugin, OpenOptions, ReadIntoOptions } from "../lib/io/types.ts";
import { splitUri } from "../lib/io/uri.ts";
import { readAt, readFileInto, readFileIntoSync } from "./_file_range.ts";
import { openFailure } from "./_open_error.ts";

function pathOf(uri: string): string {
  const parts = splitUri(uri);
  const path = parts ? parts.rest : uri;
  if (path === "") throw new IoError(uri, `Cannot open "${uri}": missing path`);
  return path;
}

/**
 * A descriptor over an open `Deno.FsFile`. Operations run one at a time, so concurrent
 * callers never interleave a seek with another's read.
 *
 * @example
 * ```ts
 * import { FileDescriptor } from "./file.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * await using desc = new FileDescriptor(path, await Deno.open(path), false);
 * console.assert(await desc.size() === 5);
 * await Deno.remove(path);
 * ```
 */
export class FileDescriptor extends DescriptorBase {
  readonly #file: Deno.FsFile;

  /**
   * Wrap an open file.
   *
   * @param uri The URI.
   * @param file The open file.
   * @param writable Whether it was opened for writing.
   * @param plugin The plugin name to show (default `file`; `mmap`/`shm` for plugins built
   *   on this one).
   */
  constructor(uri: string, file: Deno.FsFile, writable: boolean, plugin = "file") {
    super(uri, plugin, writable);
    this.#file = file;
  }

  /**
   * The file size.
   *
   * @returns The size in bytes.
   */
  size(): Promise<number> {
    // fstat of an open file waits for no disk: done at once, not on Deno's blocking-IO
    // thread. radare2 clients ask for the size (SEEK END) around their reads; a lock-step
    // loop of SEEK END and READ took 0.5–0.9× the time it took with the async stat.
    return this.serial(() => Promise.resolve(this.#file.statSync().size));
  }

  /**
   * Read up to `length` bytes at `offset`.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes (short at end of file).
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.serial(async () => {
      try {
        return await readAt(this.#file, offset, length);
      } catch (error) {
        // Past the file system's largest offset (EINVAL) a file has no data, as past its
        // end (radare2 reads 0xff there); other OS refusals are failures.
        const code = (error as { code?: string }).code;
        if (code === "EINVAL" && offset >= (await this.#file.stat()).size) {
          return new Uint8Array(0);
        }
        throw this.failure(error, "read", offset);
      }
    });
  }

  /**
   * Read up to `into.length` bytes at `offset` into `into`.
   *
   * @param offset Where to start.
   * @param into The destination.
   * @param options With `atOnce`, and nothing else under way on the file, the read is
   *   synchronous.
   * @returns How many bytes were read (short at end of file).
   */
  readInto(offset: number, into: Uint8Array, options?: ReadIntoOptions): Promise<number> {
    if (options?.atOnce && !this.busy) {
      return this.guard(() => {
        try {
          return readFileIntoSync(this.#file, offset, into);
        } catch (error) {
          throw this.failure(error, "read", offset);
        }
      });
    }
    return this.serial(async () => {
      try {
        return await readFileInto(this.#file, offset, into);
      } catch (error) {
        throw this.failure(error, "read", offset);
      }
    });
  }

  /**
   * Write `data` at `offset` (past the end extends the file).
   *
   * @param offset Where to start.
   * @param data The bytes.
   * @returns Bytes written.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.serial(async () => {
      this.checkWritable();
      try {
        await this.#file.seek(offset, Deno.SeekMode.Start);
        let done = 0;
        while (done < data.length) done += await this.#file.write(data.subarray(done));
        return done;
      } catch (error) {
        throw this.failure(error, "write", offset);
      }
    });
  }

  /**
   * Truncate or extend the file.
   *
   * @param size The new size.
   */
  resize(size: number): Promise<void> {
    if (!this.writable) {
      return Promise.reject(
        new ReadOnlyError(this.uri, `Cannot resize "${this.uri}": opened read-only`),
      );
    }
    return this.serial(() => this.#file.truncate(size));
  }

  /**
   * Wait until the data written so far is on disk (`fdatasync`), e.g. before a server
   * acknowledges a write (`serve --fsync`). Does nothing for a read-only file.
   */
  sync(): Promise<void> {
    if (!this.writable) return Promise.resolve();
    return this.serial(() => this.#file.syncData());
  }

  /** Close the file (once the operations under way are done). */
  protected override release(): void {
    this.#file.close();
  }
}

/**
 * Open the local file `path` for the URI `uri` with positional file I/O: read-only unless
 * `write`; `create` (with `write`) makes a missing file. Shared by the plugins that are a
 * local file under another scheme (`mmap://`, `shm://`).
 *
 * @param uri The URI being opened (quoted in errors).
 * @param path The file.
 * @param options How to open it.
 * @param plugin The plugin name the descriptor shows (default `file`).
 * @returns The descriptor.
 * @throws {IoError} When the file is missing, a directory, or cannot be opened; a
 *   permission error naming `--allow-all` for files Deno opens only with it (`/dev`).
 *
 * @example
 * ```ts
 * import { openLocalFile } from "./file.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(openLocalFile("mmap:///nonexistent", "/nonexistent", {}, "mmap"), /no such file/);
 * ```
 */
export async function openLocalFile(
  uri: string,
  path: string,
  options: OpenOptions,
  plugin = "file",
): Promise<IoDescriptor> {
  const write = options.write ?? false;
  try {
    // Open, then verify: the opened descriptor itself must be inside the scope (a
    // symbolic link inside DIR pointing out, or a directory swapped for one, is refused).
    const handle = await openInScope(path, {
      write,
      create: write && options.create,
      uri,
      remote: options.remote,
    });
    return new FileDescriptor(uri, handle, write, plugin);
  } catch (error) {
    throw openFailure(uri, error, path);
  }
}

/**
 * The `file` plugin.
 *
 * @example
 * ```ts
 * import file from "./file.ts";
 * console.assert(file.schemes.includes("file"));
 * ```
 */
const file: IoPlugin = definePlugin({
  name: "file",
  description: "local files: a plain path or file://PATH (radare2's default plugin)",
  uriForms: ["PATH", "file://PATH"],
  capabilities: { write: true, resize: true },
  permissions: (uri, options) => filePermissions(pathOf(uri), options.write),
  open: (uri, options) => openLocalFile(uri, pathOf(uri), options),
});

export default file;
