/**
 * Permission preflight: check what a plugin declares before it opens anything.
 *
 * @module
 */

import { IoError, PermissionDeniedError } from "./errors.ts";
import { allAccessError, isAllAccessRefusal } from "./all_access.ts";

/**
 * Check that every permission is granted. When a permission is in the "prompt" state,
 * standard input is a terminal and `options.prompt` is not false, Deno asks the user;
 * otherwise anything short of "granted" is a refusal. A remote client's open never asks
 * (the prompt would stop the whole server, and its answer is not the client's to give).
 *
 * @param uri The URI being opened (for the error message).
 * @param permissions What opening it needs.
 * @param options `create`: the file may be made (a missing file is then no error);
 *   `prompt: false`: never ask.
 * @throws {PermissionDeniedError} Naming every missing permission and its flag.
 * @throws {IoError} "no such file" when write access to the file is missing and the file
 *   does not exist.
 *
 * @example
 * ```ts
 * import { checkPermissions } from "@rap/cli";
 * // Tests run with --allow-all, so this passes.
 * await checkPermissions("/etc/hostname", [{ name: "read", path: "/etc/hostname" }]);
 * ```
 */
export async function checkPermissions(
  uri: string,
  permissions: readonly Deno.PermissionDescriptor[],
  options: { create?: boolean; prompt?: boolean } = {},
): Promise<void> {
  const prompt = options.prompt ?? true;
  const first = permissions.find((p) => p.name === "read" || p.name === "write");
  const missing: Deno.PermissionDescriptor[] = [];
  for (const permission of permissions) {
    if (!await granted(permission, prompt)) {
      // A file that is not there is better told than the write access it would need.
      if (!options.create) await refuseMissing(uri, permission, first);
      missing.push(permission);
      continue;
    }
    // Deno grants a path inside an allowed directory and then follows symbolic links out
    // of it: check where a path really leads as well.
    if ((permission.name === "read" || permission.name === "write") && permission.path) {
      const path = permission.path.toString();
      const real = await resolveRealPath(path).catch(() => path);
      const resolved = { name: permission.name, path: real };
      if (real !== path && !await granted(resolved, prompt)) missing.push(resolved);
    }
  }
  if (missing.length > 0) throw new PermissionDeniedError(uri, missing);
}

/**
 * Throw "no such file" when the write refused is of the URI's own file and it does not
 * exist (looking needs only read access, which was granted first).
 */
async function refuseMissing(
  uri: string,
  permission: Deno.PermissionDescriptor,
  first: Deno.PermissionDescriptor | undefined,
): Promise<void> {
  if (permission.name !== "write" || !permission.path || first?.name !== "read") return;
  if (first.path?.toString() !== permission.path.toString()) return;
  try {
    await Deno.lstat(permission.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new IoError(uri, `Cannot open "${uri}": no such file`, { cause: error });
    }
  }
}

async function granted(permission: Deno.PermissionDescriptor, prompt: boolean): Promise<boolean> {
  let status = await Deno.permissions.query(permission);
  if (status.state === "prompt" && prompt && Deno.stdin.isTerminal()) {
    status = await Deno.permissions.request(permission);
  }
  return status.state === "granted";
}

/**
 * Where `path` leads once every symbolic link is resolved; for a missing file (about to be
 * created), its directory resolved plus its name; unchanged when nothing resolves.
 *
 * @param path A file path.
 * @returns The resolved path.
 *
 * @example
 * ```ts
 * import { resolveRealPath } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir());
 * await Deno.symlink("/etc/hostname", `${dir}/link`);
 * assert.equal(await resolveRealPath(`${dir}/link`), await Deno.realPath("/etc/hostname"));
 * assert.equal(await resolveRealPath(`${dir}/new-file`), `${dir}/new-file`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function resolveRealPath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = cut < 0 ? "." : cut === 0 ? path.slice(0, 1) : path.slice(0, cut);
  try {
    const real = await Deno.realPath(dir);
    return real.endsWith("/") || real.endsWith("\\")
      ? real + path.slice(cut + 1)
      : `${real}/${path.slice(cut + 1)}`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

/**
 * Run `action`, turning Deno's capability refusal into a {@linkcode PermissionDeniedError}
 * for the permission the plugin declared first (or a generic one).
 *
 * @param uri The URI concerned.
 * @param declared The permissions the plugin declared.
 * @param action What to run.
 * @returns What `action` returns.
 *
 * @example
 * ```ts
 * import { withPermissionErrors } from "@rap/cli";
 * const n = await withPermissionErrors("x", [], () => Promise.resolve(1));
 * console.assert(n === 1);
 * ```
 */
export async function withPermissionErrors<T>(
  uri: string,
  declared: readonly Deno.PermissionDescriptor[],
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (isAllAccessRefusal(error)) {
      const path = /Requires all access to "([^"]*)"/.exec((error as Error).message)?.[1] ?? uri;
      throw allAccessError(uri, path, error);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      const guess = guessPermission(error.message) ?? declared[0];
      if (guess) throw new PermissionDeniedError(uri, guess, { cause: error });
    }
    throw error;
  }
}

function guessPermission(message: string): Deno.PermissionDescriptor | undefined {
  const m = /Requires (\w+) access to "([^"]*)"/.exec(message);
  if (!m) return undefined;
  switch (m[1]) {
    case "read":
    case "write":
      return { name: m[1], path: m[2] };
    case "net":
      return { name: "net", host: m[2] };
    case "run":
      return { name: "run", command: m[2] };
    case "env":
      return { name: "env", variable: m[2] };
  }
  return undefined;
}
