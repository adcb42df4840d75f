/**
 * `mmap://PATH` — a local file, as radare2's mmap plugin opens it. Deno has no `mmap`, so
 * this is plain positional file I/O (the same as the `file` plugin), which reads and
 * writes the same bytes: read-only unless opened for writing, and writes past the end
 * extend the file.
 *
 * @example
 * ```ts
 * import mmap from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "ab");
 * {
 *   await using desc = await mmap.open(`mmap://${path}`, { write: true });
 *   await desc.write(3, new Uint8Array([0x63]));
 *   assert.equal(await desc.size(), 4);
 * }
 * assert.deepEqual([...await Deno.readFile(path)], [0x61, 0x62, 0, 0x63]);
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { FileDescriptor } from "./file.ts";
import { allAccessError, isAllAccessRefusal } from "./_all_access.ts";

/**
 * A {@linkcode FileDescriptor} shown under another plugin's name (`mmap`, `shm`).
 *
 * @example
 * ```ts
 * import { FileDescriptor } from "./file.ts";
 * import { NamedFileDescriptor } from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * const inner = new FileDescriptor(`mmap://${path}`, await Deno.open(path), false);
 * await using desc = new NamedFileDescriptor(inner, "mmap");
 * assert.equal(desc.plugin, "mmap");
 * assert.equal(await desc.size(), 0);
 * await Deno.remove(path);
 * ```
 */
export class NamedFileDescriptor implements IoDescriptor {
  /** The plugin name shown. */
  readonly plugin: string;
  readonly #inner: FileDescriptor;

  /**
   * Wrap a file descriptor.
   *
   * @param inner The file descriptor doing the work.
   * @param plugin The plugin name to show.
   */
  constructor(inner: FileDescriptor, plugin: string) {
    this.#inner = inner;
    this.plugin = plugin;
  }

  /** The URI. */
  get uri(): string {
    return this.#inner.uri;
  }

  /** Whether the file was opened for writing. */
  get writable(): boolean {
    return this.#inner.writable;
  }

  /**
   * The file size.
   *
   * @returns The file size.
   */
  size(): Promise<number> {
    return this.#inner.size();
  }

  /**
   * Read bytes.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes (short at the end of the file).
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#inner.read(offset, length);
  }

  /**
   * Write bytes.
   *
   * @param offset Where to start.
   * @param data The bytes; past the end they extend the file.
   * @returns Bytes written.
   */
  write(offset: number, data: Uint8Array): Promise<number> {
    return this.#inner.write(offset, data);
  }

  /**
   * Truncate or extend the file.
   *
   * @param size The new size.
   */
  resize(size: number): Promise<void> {
    return this.#inner.resize(size);
  }

  /** Close the file. */
  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Same as {@linkcode NamedFileDescriptor.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Open `path` for the URI `uri` with file I/O, as plugin `plugin`.
 *
 * @param uri The URI being opened (quoted in errors).
 * @param path The file.
 * @param options Read-only unless `write`; `create` (with `write`) makes a missing file.
 * @param plugin The plugin name the descriptor shows.
 * @returns The descriptor.
 * @throws {IoError} When the file is missing, a directory, or cannot be opened; a
 *   `PermissionDeniedError` naming `--allow-all` for files Deno opens only with it (`/dev`).
 *
 * @example
 * ```ts
 * import { openFileAs } from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(openFileAs("mmap:///nonexistent", "/nonexistent", {}, "mmap"), /no such file/);
 * ```
 */
export async function openFileAs(
  uri: string,
  path: string,
  options: OpenOptions,
  plugin: string,
): Promise<IoDescriptor> {
  const write = options.write ?? false;
  let handle: Deno.FsFile;
  try {
    const info = await Deno.stat(path).catch((e) => {
      if (e instanceof Deno.errors.NotFound && options.create && write) return undefined;
      throw e;
    });
    if (info?.isDirectory) throw new IoError(uri, `Cannot open "${uri}": is a directory`);
    handle = await Deno.open(path, { read: true, write, create: write && options.create });
  } catch (error) {
    if (isAllAccessRefusal(error)) throw allAccessError(uri, path, error);
    if (error instanceof IoError || error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied by the operating system"
      : (error as Error).message;
    throw new IoError(uri, `Cannot open "${uri}": ${reason}`, { cause: error });
  }
  return new NamedFileDescriptor(new FileDescriptor(uri, handle, write), plugin);
}

/**
 * The `mmap` plugin.
 *
 * @example
 * ```ts
 * import mmap from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(mmap.permissions("mmap:///tmp/x", {}), [{ name: "read", path: "/tmp/x" }]);
 * ```
 */
const mmap: IoPlugin = {
  name: "mmap",
  description: "a local file with file I/O (Deno has no mmap); writes past the end extend it",
  schemes: ["mmap"],
  uriForms: ["mmap://PATH"],
  capabilities: { read: true, write: true, resize: true, system: false },
  permissions(uri: string, options: OpenOptions): Deno.PermissionDescriptor[] {
    const path = uriRest(uri, "a path");
    return options.write
      ? [{ name: "read", path }, { name: "write", path }]
      : [{ name: "read", path }];
  },
  open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    try {
      return openFileAs(uri, uriRest(uri, "a path"), options, "mmap");
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

export default mmap;
