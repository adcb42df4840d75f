/**
 * The URI → plugin registry: picks a plugin by scheme from a table of lazily imported
 * plugin modules (plus plugins registered at run time), checks the permissions the plugin
 * declares, then opens. The IO layer has no plugins of its own: it is given its table,
 * either per registry or once for the program with {@linkcode installPluginTable} (the
 * package's entry points, `mod.ts` and `cli.ts`, install the built-in one of
 * `plugins/mod.ts`).
 *
 * @module
 */

import { IoError, UnknownSchemeError } from "./errors.ts";
import { checkPermissions, withPermissionErrors } from "./permissions.ts";
import type { IoDescriptor, IoPlugin, OpenOptions, PluginModule } from "./types.ts";
import { splitUri } from "./uri.ts";

/**
 * A table of lazily imported plugin modules, keyed by URI scheme. Several schemes may share
 * one module.
 *
 * @example
 * ```ts
 * import type { PluginTable } from "@rap/cli/io";
 * const table: PluginTable = {};
 * console.assert(Object.keys(table).length === 0);
 * ```
 */
export type PluginTable = Readonly<Record<string, () => Promise<PluginModule>>>;

/** The scheme of a plain path (radare2's `default` plugin). */
const DEFAULT_SCHEME = "file";

let installed: PluginTable = {};

/**
 * Install the plugin table that registries made without one use (and {@linkcode openUri}).
 * Importing `@rap/cli` (or running its CLI) installs the built-in plugins; a program that
 * imports only `@rap/cli/io` installs a table of its own, or passes one to each registry.
 *
 * @param table The table (e.g. `builtinPlugins` of `@rap/cli/plugins`).
 *
 * @example
 * ```ts
 * import { installedPluginTable, installPluginTable } from "@rap/cli";
 * import { builtinPlugins } from "@rap/cli/plugins";
 * import assert from "node:assert/strict";
 *
 * installPluginTable(builtinPlugins);
 * assert.equal(installedPluginTable(), builtinPlugins);
 * ```
 */
export function installPluginTable(table: PluginTable): void {
  installed = table;
}

/**
 * The table installed by {@linkcode installPluginTable} (empty until one is).
 *
 * @returns The table.
 *
 * @example
 * ```ts
 * import { installedPluginTable } from "@rap/cli";
 * console.assert("malloc" in installedPluginTable()); // @rap/cli installs the built-in ones
 * ```
 */
export function installedPluginTable(): PluginTable {
  return installed;
}

/**
 * Resolves URIs to plugins and opens them, with a permission preflight.
 *
 * @example Open a URI through the built-in plugins
 * ```ts
 * import { IoRegistry } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const registry = new IoRegistry();
 * await using desc = await registry.open("malloc://16");
 * assert.equal(await desc.size(), 16);
 * assert.equal((await registry.resolve("/bin/ls")).name, "file");
 * ```
 */
export class IoRegistry {
  readonly #table: PluginTable;
  readonly #extra = new Map<string, IoPlugin>();

  /**
   * Create it.
   *
   * @param plugins Extra plugins; they win over the table for their schemes.
   * @param table The lazily imported plugin table (default: the installed one, see
   *   {@linkcode installPluginTable}).
   */
  constructor(plugins: readonly IoPlugin[] = [], table: PluginTable = installed) {
    this.#table = table;
    for (const plugin of plugins) this.register(plugin);
  }

  /**
   * Add a plugin for its schemes (replacing any built-in one for the same scheme).
   *
   * @param plugin The plugin.
   */
  register(plugin: IoPlugin): void {
    for (const scheme of plugin.schemes) this.#extra.set(scheme.toLowerCase(), plugin);
  }

  /**
   * The plugin for a URI: by scheme, or the `file` plugin for a plain path.
   *
   * @param uri The URI.
   * @returns The plugin.
   * @throws {UnknownSchemeError} If no plugin claims the scheme.
   * @throws {IoError} If the URI is malformed.
   */
  async resolve(uri: string): Promise<IoPlugin> {
    if (uri === "") throw new IoError(uri, `Cannot open "": empty URI`);
    const scheme = splitUri(uri)?.scheme ?? DEFAULT_SCHEME;
    const extra = this.#extra.get(scheme);
    if (extra) return extra;
    const load = Object.hasOwn(this.#table, scheme) ? this.#table[scheme] : undefined;
    if (!load) {
      throw new UnknownSchemeError(
        uri,
        scheme,
        Object.keys(this.#table).length === 0 && this.#extra.size === 0
          ? "this registry has no plugins: import @rap/cli, or give it a table " +
            "(builtinPlugins of @rap/cli/plugins)"
          : undefined,
      );
    }
    return (await load()).default;
  }

  /**
   * Every plugin, built-in and registered, once each, sorted by name.
   *
   * @returns The plugins.
   */
  async list(): Promise<IoPlugin[]> {
    const seen = new Map<string, IoPlugin>();
    for (const load of Object.values(this.#table)) {
      const plugin = (await load()).default;
      seen.set(plugin.name, plugin);
    }
    for (const plugin of this.#extra.values()) seen.set(plugin.name, plugin);
    return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Open a URI: resolve the plugin, check the permissions it declares, open.
   *
   * @param uri The URI or plain path.
   * @param options How to open it.
   * @returns The descriptor.
   * @throws {import("./errors.ts").PermissionDeniedError} Naming the flag to add.
   * @throws {IoError} For unknown schemes, malformed URIs and plugin failures.
   */
  async open(uri: string, options: OpenOptions = {}): Promise<IoDescriptor> {
    const plugin = await this.resolve(uri);
    const needs = plugin.permissions(uri, options);
    await checkPermissions(uri, needs, { create: options.create, prompt: !options.remote });
    return await withPermissionErrors(uri, needs, () => plugin.open(uri, options));
  }

  /**
   * Open every file a "many" URI names (e.g. `zipall://a.zip`); a plugin without
   * `openMany` opens the one file.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns The descriptors.
   */
  async openMany(uri: string, options: OpenOptions = {}): Promise<IoDescriptor[]> {
    const plugin = await this.resolve(uri);
    if (!plugin.openMany) return [await this.open(uri, options)];
    const needs = plugin.permissions(uri, options);
    await checkPermissions(uri, needs, { create: options.create, prompt: !options.remote });
    return await withPermissionErrors(uri, needs, () => plugin.openMany!(uri, options));
  }
}

let defaultRegistry: { table: PluginTable; registry: IoRegistry } | undefined;

/**
 * Open a URI with the built-in plugins (a shared default {@linkcode IoRegistry}).
 *
 * @param uri The URI or plain path.
 * @param options How to open it.
 * @returns The descriptor.
 *
 * @example
 * ```ts
 * import { openUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using desc = await openUri("hex://4142");
 * assert.equal(new TextDecoder().decode(await desc.read(0, 2)), "AB");
 * ```
 */
export function openUri(uri: string, options: OpenOptions = {}): Promise<IoDescriptor> {
  if (defaultRegistry?.table !== installed) {
    defaultRegistry = { table: installed, registry: new IoRegistry([], installed) };
  }
  return defaultRegistry.registry.open(uri, options);
}
