/**
 * Open a local file, then verify what was opened: the one place plugins open paths.
 *
 * Deno checks `--allow-read=DIR` on a path resolved just before the open, and the operating
 * system then follows symbolic links wherever they lead at the moment it opens. Checking the
 * real path first and opening it afterwards leaves a gap: a directory on the path swapped for
 * a link to `/etc` between the check and the open gets `/etc/passwd` opened. So {@linkcode openInScope} resolves the path,
 * checks the permissions of the real path, opens the real path (never creating or
 * truncating anything yet), and then checks the opened descriptor itself: its device and
 * inode must be the ones found at the real path, and the real path must still resolve to
 * itself, several times over. Anything else closes the file and fails. A path that cannot be
 * resolved is refused.
 *
 * Deno has no `openat`, no `O_NOFOLLOW` option in `Deno.open` and, short of `--allow-all`, no
 * access to `/proc/self/fd`, so the check compares device and inode; with `--allow-all` (or a
 * `--allow-read`/`--allow-write` without a list) there is no scope to leave and the file is
 * opened directly.
 *
 * @module
 */

import { IoError } from "./errors.ts";
import { checkPermissions } from "./permissions.ts";
import { resolveTarget, sameFile, stillAt } from "./_scope_check.ts";

export { VERIFY_LOOKUPS } from "./_scope_check.ts";

/**
 * How {@linkcode openInScope} opens a file.
 *
 * @example
 * ```ts
 * import type { ScopedOpenOptions } from "@rap/cli/io";
 * const options: ScopedOpenOptions = { write: true, create: true };
 * console.assert(options.write);
 * ```
 */
export interface ScopedOpenOptions {
  /** Open for writing as well as reading (default false). */
  write?: boolean;
  /**
   * Create the file when it is missing (with `write`): exclusively, so never through a
   * link. If the check after it fails, the (empty) file is left where it was made.
   */
  create?: boolean;
  /** Empty the file once it is verified (with `write`). */
  truncate?: boolean;
  /** Permission bits of a created file (before the umask; default 0o666). */
  mode?: number;
  /** The URI being opened, quoted in errors (default: the path). */
  uri?: string;
  /**
   * Opened for a remote client: refuse the process's own standard input, whatever path
   * leads to it (`/dev/stdin`, `/proc/self/fd/0`, a link to them ...).
   */
  remote?: boolean;
}

/**
 * The file at a path changed while it was being opened (a directory on its path replaced
 * by a symbolic link, say): the open is refused.
 *
 * @example
 * ```ts
 * import { PathChangedError } from "@rap/cli";
 * const error = new PathChangedError("/srv/a/b");
 * console.assert(error.message.includes('"/srv/a/b"'));
 * ```
 */
export class PathChangedError extends Error {
  /** The path as the caller gave it. */
  readonly path: string;

  /**
   * Create it.
   *
   * @param path The path.
   * @param options Standard error options (`cause`).
   */
  constructor(path: string, options?: ErrorOptions) {
    super(
      `"${path}" changed while it was being opened (a directory or file on its path was ` +
        `replaced, e.g. by a symbolic link); refused`,
      options,
    );
    this.name = "PathChangedError";
    this.path = path;
  }
}

/** Opens tried before a path that keeps changing is refused. */
const OPEN_ATTEMPTS = 3;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Whether every path may be read (and, with `write`, written): `--allow-all`, or
 * `--allow-read`/`--allow-write` without a list. There is then no scope to leave.
 *
 * @param write Whether writing is needed too.
 * @returns True when the scope is everything.
 *
 * @example
 * ```ts
 * import { scopeIsEverything } from "@rap/cli";
 * // Tests run with --allow-all.
 * console.assert(scopeIsEverything(true));
 * ```
 */
export function scopeIsEverything(write: boolean): boolean {
  return granted({ name: "read" }) && (!write || granted({ name: "write" }));
}

/**
 * The identity of this process's standard input, if it has one.
 *
 * @returns Its device and inode, or undefined when descriptor 0 is closed or `/dev/null`.
 *
 * @example
 * ```ts
 * import { stdinIdentity } from "@rap/cli";
 * const id = stdinIdentity();
 * console.assert(id === undefined || typeof id.dev === "number");
 * ```
 */
export function stdinIdentity(): { dev: number; ino: number } | undefined {
  try {
    const info = nodeFs().fstatSync(0);
    // /dev/null (device 1:3) has nothing to read: no reason to refuse it to anyone.
    if (info.isCharacterDevice() && info.rdev === DEV_NULL) return undefined;
    return { dev: info.dev, ino: info.ino };
  } catch {
    return undefined;
  }
}

/**
 * Node's `fs`, loaded on first use: only a server asks about its stdin, and loading Node's
 * compatibility layer costs every process (`rap cat` too) some 40 ms at start-up.
 */
function nodeFs(): typeof import("node:fs") {
  return process.getBuiltinModule("node:fs") as typeof import("node:fs");
}

/** The device number of /dev/null on Linux (major 1, minor 3). */
const DEV_NULL = (1 << 8) | 3;

/**
 * Whether `info` is this process's standard input.
 *
 * @param info A file's information (`Deno.stat`, `FsFile.stat`).
 * @returns True when it has the device and inode of descriptor 0.
 *
 * @example
 * ```ts
 * import { isProcessStdin } from "@rap/cli";
 * const path = await Deno.makeTempFile();
 * console.assert(!isProcessStdin(await Deno.stat(path)));
 * await Deno.remove(path);
 * ```
 */
export function isProcessStdin(info: { dev: number; ino: number | null }): boolean {
  const stdin = stdinIdentity();
  return stdin !== undefined && sameFile(info, stdin);
}

/**
 * The error for a remote client's open of the server's standard input.
 *
 * @param uri The URI being opened.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { stdinRefusal } from "@rap/cli";
 * console.assert(stdinRefusal("stdin://").message.includes("standard input"));
 * ```
 */
export function stdinRefusal(uri: string): IoError {
  return new IoError(
    uri,
    `Cannot open "${uri}": a remote client cannot read the server's standard input`,
  );
}

function refuseStdin(file: Deno.FsFile, info: Deno.FileInfo, uri: string): void {
  if (!isProcessStdin(info)) return;
  file.close();
  throw stdinRefusal(uri);
}

/**
 * Open `path` and check that the opened file is inside the permission scope (see the
 * module documentation). Nothing is created before the directory is resolved, nothing is
 * truncated before the file is verified, and a file that fails the check is closed
 * untouched.
 *
 * @param path The file.
 * @param options How to open it.
 * @returns The open file (close it, or `using`).
 * @throws {import("./errors.ts").PermissionDeniedError} When the real path is outside the
 *   scope (naming the flag to add).
 * @throws {PathChangedError} When the path keeps changing while it is opened.
 * @throws {Deno.errors.NotFound} When the path (or, to create it, its directory) cannot be
 *   resolved; `Deno.errors.IsADirectory` for a directory.
 *
 * @example
 * ```ts
 * import { openInScope } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * {
 *   using file = await openInScope(`${dir}/a.txt`, { write: true, truncate: true });
 *   await file.write(new TextEncoder().encode("hi"));
 * }
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "hi");
 * await assert.rejects(openInScope(`${dir}/missing`), Deno.errors.NotFound);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openInScope(
  path: string,
  options: ScopedOpenOptions = {},
): Promise<Deno.FsFile> {
  const uri = options.uri ?? path;
  const write = options.write ?? false;
  const create = write && (options.create ?? false);
  let file: Deno.FsFile | undefined;
  if (scopeIsEverything(write)) {
    file = await Deno.open(path, { read: true, write, create, mode: options.mode });
    await finishOpen(file, options, uri, statOrClose(file));
    return file;
  }
  let failure: Error = new PathChangedError(path);
  for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
    const target = resolveTarget(path, create);
    const needs: Deno.PermissionDescriptor[] = write
      ? [{ name: "read", path: target.real }, { name: "write", path: target.real }]
      : [{ name: "read", path: target.real }];
    // The common case answers at once; a refusal (or a prompt) goes through the
    // registry's check, which asks on a terminal and names the flag otherwise.
    if (!needs.every(granted)) await checkPermissions(uri, needs);
    try {
      file = target.exists
        ? await Deno.open(target.real, { read: true, write })
        : await Deno.open(target.real, { read: true, write, createNew: true, mode: options.mode });
    } catch (error) {
      // Created meanwhile by someone else (or a link planted there): look again.
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      failure = error;
      continue;
    }
    let info: Deno.FileInfo | undefined;
    try {
      info = file.statSync();
    } catch (error) {
      // Deno resolves the path of an open file again to check it: it now leads out.
      if (!(error instanceof Deno.errors.NotCapable)) {
        file.close();
        throw error;
      }
    }
    if (info && stillAt(target.real, info)) {
      await finishOpen(file, options, uri, info);
      return file;
    }
    file.close();
    failure = new PathChangedError(path);
  }
  throw failure;
}

function statOrClose(file: Deno.FsFile): Deno.FileInfo {
  try {
    return file.statSync();
  } catch (error) {
    file.close();
    throw error;
  }
}

/** The checks and changes once the file is known to be the right one. */
async function finishOpen(
  file: Deno.FsFile,
  options: ScopedOpenOptions,
  uri: string,
  info: Deno.FileInfo,
): Promise<void> {
  if (info.isDirectory) {
    file.close();
    throw new Deno.errors.IsADirectory(`"${uri}" is a directory`);
  }
  if (options.remote) refuseStdin(file, info, uri);
  if (options.write && options.truncate) {
    try {
      await file.truncate(0);
    } catch (error) {
      file.close();
      throw error;
    }
  }
}

/**
 * Read a whole file through {@linkcode openInScope}.
 *
 * @param path The file.
 * @param options How to open it; `maxSize` refuses a file larger than that many bytes,
 *   before reading it (by its size) and while reading it (a file that grows, a device);
 *   `beforeRead` is called with the size before anything is read (to claim memory: it
 *   throws to refuse).
 * @returns Its bytes.
 * @throws {RangeError} When the file is over `maxSize` bytes.
 *
 * @example
 * ```ts
 * import { readFileInScope } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * assert.equal(new TextDecoder().decode(await readFileInScope(path)), "abc");
 * await assert.rejects(readFileInScope(path, { maxSize: 2 }), /file is over 2 bytes/);
 * await Deno.remove(path);
 * ```
 */
export async function readFileInScope(
  path: string,
  options: ScopedOpenOptions & { maxSize?: number; beforeRead?: (size: number) => void } = {},
): Promise<Uint8Array> {
  const maxSize = options.maxSize ?? Infinity;
  const tooLarge = () => new RangeError(`file is over ${maxSize} bytes`);
  using file = await openInScope(path, { ...options, write: false });
  const { size } = await file.stat();
  if (size > maxSize) throw tooLarge();
  options.beforeRead?.(size);
  let buffer = new Uint8Array(Math.min(Math.max(size, 4096), maxSize + 1));
  let filled = 0;
  for (;;) {
    if (filled === buffer.length) {
      if (filled > maxSize) throw tooLarge();
      const bigger = new Uint8Array(Math.min(buffer.length * 2, maxSize + 1));
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  if (filled > maxSize) throw tooLarge();
  return buffer.subarray(0, filled);
}

/**
 * Write a whole file through {@linkcode openInScope}, as `Deno.writeFile` does: created
 * when missing, replaced (or, with `append`, extended), but only once the opened file is
 * verified to be inside the scope.
 *
 * @param path The file.
 * @param data The bytes.
 * @param options `append` to add at the end instead of replacing; `uri` for errors.
 *
 * @example
 * ```ts
 * import { writeFileInScope } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await writeFileInScope(path, new TextEncoder().encode("ab"));
 * await writeFileInScope(path, new TextEncoder().encode("c"), { append: true });
 * assert.equal(await Deno.readTextFile(path), "abc");
 * await Deno.remove(path);
 * ```
 */
export async function writeFileInScope(
  path: string,
  data: Uint8Array,
  options: { append?: boolean; uri?: string } = {},
): Promise<void> {
  using file = await openInScope(path, {
    write: true,
    create: true,
    truncate: !options.append,
    uri: options.uri,
  });
  if (options.append) await file.seek(0, Deno.SeekMode.End);
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}
