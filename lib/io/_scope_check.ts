/**
 * The checks behind `openInScope` and `atomicWrite`: where a path really leads, and whether
 * a real path still names an opened file.
 *
 * @module
 */

/**
 * Lookups of the real path after each open. Each is, at random, either a resolution of
 * the real path (which must give the real path back: no link on it) or an `lstat` of it
 * (which must find the opened file's device and inode). A directory swapped back and forth
 * between a real one and a link makes one kind pass at a given moment, not the other; a
 * racer that cannot see which kind comes next passes each with a chance of about one half,
 * so all of them with a chance of about 2^-24.
 *
 * @example
 * ```ts
 * import { VERIFY_LOOKUPS } from "./_scope_check.ts";
 * console.assert(VERIFY_LOOKUPS === 24);
 * ```
 */
export const VERIFY_LOOKUPS = 24;

/**
 * A file's identity: its device and inode (`Deno.FileInfo` has both).
 *
 * @example
 * ```ts
 * import type { FileId } from "./_scope_check.ts";
 * const id: FileId = { dev: 1, ino: 2 };
 * console.assert(id.ino === 2);
 * ```
 */
export interface FileId {
  /** The device. */
  dev: number;
  /** The inode (null where the platform has none). */
  ino: number | null;
}

/**
 * Whether two identities are the same file.
 *
 * @param a One.
 * @param b The other.
 * @returns True for the same device and inode.
 *
 * @example
 * ```ts
 * import { sameFile } from "./_scope_check.ts";
 * console.assert(sameFile({ dev: 1, ino: 2 }, { dev: 1, ino: 2 }));
 * console.assert(!sameFile({ dev: 1, ino: null }, { dev: 1, ino: null }));
 * ```
 */
export function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.ino !== null;
}

/**
 * The directory and last name of a path (the directory "." for a bare name).
 *
 * @param path A path.
 * @returns Its parts.
 *
 * @example
 * ```ts
 * import { splitPath } from "./_scope_check.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitPath("/srv/a.bin"), { dir: "/srv", name: "a.bin" });
 * assert.deepEqual(splitPath("a.bin"), { dir: ".", name: "a.bin" });
 * ```
 */
export function splitPath(path: string): { dir: string; name: string } {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const cut = trimmed.lastIndexOf("/");
  if (cut < 0) return { dir: ".", name: trimmed };
  return { dir: cut === 0 ? "/" : trimmed.slice(0, cut), name: trimmed.slice(cut + 1) };
}

/**
 * Where `path` leads: its real path when it exists; with `mayCreate`, a missing file's
 * real directory plus its name. Anything else that cannot be resolved throws (NotFound for
 * a missing file), so nothing is ever opened unchecked.
 *
 * @param path A path.
 * @param mayCreate Whether a missing file is fine (it is about to be created).
 * @returns The real path and whether it exists.
 *
 * @example
 * ```ts
 * import { resolveTarget } from "./_scope_check.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir());
 * assert.deepEqual(resolveTarget(`${dir}/new`, true), { real: `${dir}/new`, exists: false });
 * assert.throws(() => resolveTarget(`${dir}/new`, false), Deno.errors.NotFound);
 * await Deno.remove(dir);
 * ```
 */
export function resolveTarget(
  path: string,
  mayCreate: boolean,
): { real: string; exists: boolean } {
  try {
    return { real: Deno.realPathSync(path), exists: true };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || !mayCreate) throw error;
  }
  const { dir, name } = splitPath(path);
  if (name === "" || name === "." || name === "..") throw new Deno.errors.NotFound(path);
  const realDir = Deno.realPathSync(dir);
  return { real: realDir.endsWith("/") ? realDir + name : `${realDir}/${name}`, exists: false };
}

/**
 * Whether `real` still names the opened file: {@linkcode VERIFY_LOOKUPS} lookups in a
 * random order, each either resolving `real` (it must resolve to itself) or `lstat`-ing it
 * (it must be the opened file), then one of each. A fixed order can be matched by a racer
 * that swaps at the pace of the checks (measured: 13 of 26,784 opens got through eight
 * fixed rounds); a random one cannot.
 *
 * @param real A real path.
 * @param opened The opened file's identity.
 * @returns True when every lookup agrees.
 *
 * @example
 * ```ts
 * import { stillAt } from "./_scope_check.ts";
 *
 * const path = await Deno.realPath(await Deno.makeTempFile());
 * console.assert(stillAt(path, await Deno.stat(path)));
 * console.assert(!stillAt(path, { dev: 0, ino: 0 }));
 * await Deno.remove(path);
 * ```
 */
export function stillAt(real: string, opened: FileId): boolean {
  const [coins] = crypto.getRandomValues(new Uint32Array(1));
  try {
    for (let i = 0; i <= VERIFY_LOOKUPS; i++) {
      // Step VERIFY_LOOKUPS does both kinds, so each kind runs at least once.
      const both = i === VERIFY_LOOKUPS;
      const resolve = both || ((coins >>> i) & 1) === 1;
      if (resolve && Deno.realPathSync(real) !== real) return false;
      if ((both || !resolve) && !sameFile(Deno.lstatSync(real), opened)) return false;
    }
    return true;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
      error instanceof Deno.errors.NotCapable
    ) {
      return false;
    }
    throw error;
  }
}
