/**
 * Replace a file's contents atomically: write the new bytes to a temporary file next to it,
 * optionally flush them to disk, then rename it over the original. A crash in the middle
 * leaves either the old file or the new one, never a half-written mix.
 *
 * Within a narrow `--allow-write`, the save happens next to the file's real path, and the
 * temporary file is checked (device and inode, as `openInScope` does) after it is made,
 * before the rename and, in its new place, after it.
 *
 * @module
 */

import { PathChangedError, scopeIsEverything } from "./open_file.ts";
import { checkPermissions } from "./permissions.ts";
import { resolveTarget, sameFile, stillAt } from "./_scope_check.ts";

/**
 * Options of {@linkcode atomicWrite}.
 *
 * @example
 * ```ts
 * import type { AtomicWriteOptions } from "./atomic_write.ts";
 * const options: AtomicWriteOptions = { sync: false };
 * console.assert(options.sync === false);
 * ```
 */
export interface AtomicWriteOptions {
  /** Flush the new contents to disk before the rename (default true). */
  sync?: boolean;
}

/**
 * The temporary file {@linkcode atomicWrite} uses for `path`: the same name with
 * `.rap-save` appended, in the same directory (a rename is atomic only within one file
 * system). A fixed name lets a narrow `--allow-write` list name it.
 *
 * @param path The file to replace.
 * @returns The temporary file's path.
 *
 * @example
 * ```ts
 * import { atomicWriteTempPath } from "./atomic_write.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(atomicWriteTempPath("/srv/fw.hex"), "/srv/fw.hex.rap-save");
 * ```
 */
export function atomicWriteTempPath(path: string): string {
  return `${path}.rap-save`;
}

/**
 * The Deno permissions {@linkcode atomicWrite} needs for `path`: read and write of the file
 * and of its temporary file (`Deno.rename` needs read access to the file it moves).
 *
 * @param path The file to replace.
 * @returns The permission descriptors.
 *
 * @example
 * ```ts
 * import { atomicWritePermissions } from "./atomic_write.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(atomicWritePermissions("/srv/fw.hex"), [
 *   { name: "read", path: "/srv/fw.hex" },
 *   { name: "write", path: "/srv/fw.hex" },
 *   { name: "read", path: "/srv/fw.hex.rap-save" },
 *   { name: "write", path: "/srv/fw.hex.rap-save" },
 * ]);
 * ```
 */
export function atomicWritePermissions(path: string): Deno.PermissionDescriptor[] {
  const temp = atomicWriteTempPath(path);
  return [
    { name: "read", path },
    { name: "write", path },
    { name: "read", path: temp },
    { name: "write", path: temp },
  ];
}

/** Saves in progress in this process, by path, so two saves of one file never interleave. */
const inFlight = new Map<string, Promise<unknown>>();

/**
 * Replace the contents of `path` with `data` through a temporary file and a rename. The
 * temporary file ({@linkcode atomicWriteTempPath}) is created exclusively, so a symbolic
 * link planted there is never followed; a regular file left there by an earlier crash is
 * removed first. The new file keeps the old one's permission bits. Saves of the same path
 * from this process run one after another.
 *
 * @param path The file to replace (created when missing).
 * @param data The new contents.
 * @param options See {@linkcode AtomicWriteOptions}.
 * @throws {Deno.errors.AlreadyExists} When something other than a regular file occupies
 * the temporary path.
 *
 * @example
 * ```ts
 * import { atomicWrite } from "./atomic_write.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "old");
 * await atomicWrite(`${dir}/a.txt`, new TextEncoder().encode("new"));
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "new");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function atomicWrite(
  path: string,
  data: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const previous = inFlight.get(path) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => save(path, data, options.sync ?? true));
  const settled = run.catch(() => {});
  inFlight.set(path, settled);
  settled.then(() => {
    if (inFlight.get(path) === settled) inFlight.delete(path);
  });
  return run;
}

async function save(path: string, data: Uint8Array, sync: boolean): Promise<void> {
  // Within a narrow --allow-write, save next to where the file really is, and check at
  // each step that the temporary file is still where it was made: a directory on the
  // path swapped for a symbolic link must not carry the save out of the scope.
  const scoped = !scopeIsEverything(true);
  let real = path;
  if (scoped) {
    real = resolveTarget(path, true).real;
    await checkPermissions(path, atomicWritePermissions(real));
  }
  const temp = atomicWriteTempPath(real);
  let mode: number | null = null;
  try {
    mode = (await Deno.stat(real)).mode;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const file = await createExclusive(temp, mode);
  let made: Deno.FileInfo | undefined;
  const verify = () => {
    if (scoped && !(made && stillAt(temp, made))) throw new PathChangedError(path);
  };
  try {
    try {
      made = file.statSync();
      verify();
      let done = 0;
      while (done < data.length) done += await file.write(data.subarray(done));
      if (sync) await file.syncData();
    } finally {
      file.close();
    }
    if (mode !== null) await Deno.chmod(temp, mode & 0o7777);
    verify();
    await Deno.rename(temp, real);
  } catch (error) {
    await removeOwn(temp, made);
    throw error;
  }
  if (scoped && !stillAt(real, made)) {
    throw new PathChangedError(path, {
      cause: new Error(`the new contents may not be in "${real}"`),
    });
  }
  if (sync) await syncDirectory(real);
}

/** Remove the temporary file, if what is there now is the one this save made. */
async function removeOwn(temp: string, made: Deno.FileInfo | undefined): Promise<void> {
  try {
    if (made === undefined || sameFile(await Deno.lstat(temp), made)) await Deno.remove(temp);
  } catch {
    // Already gone, or not ours to remove.
  }
}

/**
 * Flush the directory entry of a rename to disk, so the new name survives a power loss.
 * Best effort: it needs read access to the directory, which narrow permission flags that
 * name only the file may not give.
 */
async function syncDirectory(path: string): Promise<void> {
  const cut = path.lastIndexOf("/");
  const dir = cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Not permitted or not supported here: the rename is still atomic.
  }
}

async function createExclusive(temp: string, mode: number | null): Promise<Deno.FsFile> {
  const open = () =>
    Deno.open(temp, { write: true, createNew: true, mode: (mode ?? 0o666) & 0o777 });
  try {
    return await open();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    // A regular file is a leftover of an interrupted save; anything else (a symbolic link,
    // a directory) is not ours to touch.
    const info = await Deno.lstat(temp);
    if (!info.isFile) throw error;
    await Deno.remove(temp);
    return await open();
  }
}
