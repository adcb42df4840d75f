/**
 * Load your own IO plugins at run time: a TypeScript (or JavaScript) module whose default
 * export is an {@linkcode IoPlugin}, given as a path or a URL. This is what the CLI's
 * `--plugin PATH_OR_URL` option calls before `registry.register(plugin)`.
 *
 * Loading needs the permission to import the module: `--allow-read=PATH` for a local file,
 * `--allow-import=HOST` for a remote URL. It is checked with `Deno.permissions.query`
 * first, and a refusal is a {@linkcode PermissionDeniedError} naming the flag.
 *
 * @example
 * ```ts
 * import { loadPlugin } from "./plugin_loader.ts";
 * import { IoRegistry } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const source = `export default {
 *   name: "zero", description: "zeros", schemes: ["zero"], uriForms: ["zero://"],
 *   capabilities: { read: true, write: false, resize: false, system: false },
 *   permissions: () => [],
 *   open: async (uri) => ({ uri, plugin: "zero", writable: false,
 *     size: async () => Infinity, read: async (_o, n) => new Uint8Array(n),
 *     write: async () => 0, close: async () => {}, [Symbol.asyncDispose]: async () => {} }),
 * };`;
 * const plugin = await loadPlugin(`data:text/javascript,${encodeURIComponent(source)}`);
 * const registry = new IoRegistry();
 * registry.register(plugin);
 * await using desc = await registry.open("zero://");
 * assert.deepEqual([...await desc.read(0, 2)], [0, 0]);
 * ```
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PermissionDeniedError } from "./errors.ts";
import type { IoPlugin } from "./types.ts";

const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]+:/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/**
 * Turn a path (relative to the current directory) or a URL into the URL to import.
 *
 * @param specifier A path or a `file:`, `http:`, `https:` or `data:` URL.
 * @returns The URL.
 * @throws {TypeError} For other URL schemes.
 *
 * @example
 * ```ts
 * import { pluginUrl } from "./plugin_loader.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(pluginUrl("/opt/my plugin.ts").href, "file:///opt/my%20plugin.ts");
 * assert.equal(pluginUrl("https://example.com/p.ts").host, "example.com");
 * ```
 */
export function pluginUrl(specifier: string): URL {
  if (specifier === "") throw new TypeError("Invalid plugin specifier: empty");
  if (URL_LIKE.test(specifier) && !isAbsolute(specifier)) {
    let url: URL;
    try {
      url = new URL(specifier);
    } catch (error) {
      throw new TypeError(`Invalid plugin URL "${specifier}"`, { cause: error });
    }
    if (!["file:", "http:", "https:", "data:"].includes(url.protocol)) {
      throw new TypeError(
        `Cannot load plugin "${specifier}": unsupported URL scheme "${url.protocol}" ` +
          "(use a path, or a file:, http:, https: or data: URL)",
      );
    }
    return url;
  }
  return pathToFileURL(resolve(Deno.cwd(), specifier));
}

/**
 * The permission that importing `url` needs, or undefined when none (a `data:` URL).
 *
 * @param url The module URL.
 * @returns A read permission for a file, an import permission for a remote host.
 *
 * @example
 * ```ts
 * import { pluginPermission } from "./plugin_loader.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(pluginPermission(new URL("file:///opt/p.ts")), { name: "read", path: "/opt/p.ts" });
 * assert.deepEqual(pluginPermission(new URL("https://example.com:8443/p.ts")), {
 *   name: "import",
 *   host: "example.com:8443",
 * });
 * ```
 */
export function pluginPermission(url: URL): Deno.PermissionDescriptor | undefined {
  switch (url.protocol) {
    case "file:":
      return { name: "read", path: fileURLToPath(url) };
    case "http:":
    case "https:":
      return { name: "import", host: url.host };
    default:
      return undefined;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value}`;
}

/**
 * Check that a value has the shape of an {@linkcode IoPlugin}.
 *
 * @param value The module's default export.
 * @param specifier Where it came from (for the message).
 * @returns The plugin.
 * @throws {TypeError} Naming every missing or mistyped field.
 *
 * @example
 * ```ts
 * import { validatePlugin } from "./plugin_loader.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => validatePlugin({ name: "x", schemes: ["x"] }, "x.ts"),
 *   /"description" \(a string\).*"open" \(a function\)/,
 * );
 * ```
 */
export function validatePlugin(value: unknown, specifier: string): IoPlugin {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Invalid plugin "${specifier}": the module's default export must be an IoPlugin ` +
        `object, got ${value === undefined ? "no default export" : describe(value)}`,
    );
  }
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const isStrings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
  if (typeof v.name !== "string" || v.name === "") problems.push(`"name" (a non-empty string)`);
  if (typeof v.description !== "string") problems.push(`"description" (a string)`);
  if (!isStrings(v.schemes) || (v.schemes as string[]).length === 0) {
    problems.push(`"schemes" (a non-empty array of strings)`);
  } else {
    const bad = (v.schemes as string[]).filter((s) => !SCHEME.test(s));
    if (bad.length > 0) {
      problems.push(`"schemes" (valid URI schemes without "://", got ${JSON.stringify(bad)})`);
    }
  }
  if (!isStrings(v.uriForms)) problems.push(`"uriForms" (an array of strings)`);
  const caps = v.capabilities as Record<string, unknown> | undefined;
  if (
    typeof caps !== "object" || caps === null ||
    !["read", "write", "resize", "system"].every((k) => typeof caps[k] === "boolean")
  ) {
    problems.push(`"capabilities" ({ read, write, resize, system } booleans)`);
  }
  if (typeof v.permissions !== "function") problems.push(`"permissions" (a function)`);
  if (typeof v.open !== "function") problems.push(`"open" (a function)`);
  if (v.openMany !== undefined && typeof v.openMany !== "function") {
    problems.push(`"openMany" (a function, when present)`);
  }
  if (problems.length > 0) {
    throw new TypeError(
      `Invalid plugin "${specifier}": missing or wrong ${problems.join(", ")}`,
    );
  }
  return value as IoPlugin;
}

function loadRefused(
  specifier: string,
  permission: Deno.PermissionDescriptor,
  cause?: unknown,
): PermissionDeniedError {
  const error = new PermissionDeniedError(specifier, permission, { cause });
  error.message = error.message.replace(/^Cannot open /, "Cannot load plugin ");
  return error;
}

/**
 * Import a plugin module and return its default export, checked to be an
 * {@linkcode IoPlugin}. Register it with `registry.register(plugin)`.
 *
 * @param specifier A path (relative to the current directory) or a URL (`file:`, `http:`,
 *   `https:`, `data:`).
 * @returns The plugin.
 * @throws {PermissionDeniedError} When the module may not be imported; the message names
 *   the flag (`--allow-read=PATH` or `--allow-import=HOST`).
 * @throws {TypeError} When the default export is not a plugin (naming what is missing) or
 *   the specifier is not usable.
 * @throws {Error} When the module cannot be found or does not compile.
 *
 * @example
 * ```ts
 * import { loadPlugin } from "./plugin_loader.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(loadPlugin("data:text/javascript,export default 42"), /got number/);
 * ```
 */
export async function loadPlugin(specifier: string): Promise<IoPlugin> {
  const url = pluginUrl(specifier);
  const permission = pluginPermission(url);
  if (permission) {
    const status = await Deno.permissions.query(permission);
    if (status.state !== "granted") throw loadRefused(specifier, permission);
  }
  let module: Record<string, unknown>;
  try {
    module = await import(url.href);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable && permission) {
      throw loadRefused(specifier, permission, error);
    }
    const reason = (error as Error)?.message ?? String(error);
    throw new Error(`Cannot load plugin "${specifier}": ${reason}`, { cause: error });
  }
  return validatePlugin(module.default, specifier);
}
