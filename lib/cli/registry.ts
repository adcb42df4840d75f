/**
 * The plugins a command line has: the built-in table the program's entry point hands down
 * (`cli.ts` passes `plugins/mod.ts`), plus those loaded with `--plugin`.
 *
 * @module
 */

import type { PluginTable } from "../io/registry.ts";
import { IoRegistry } from "../io/registry.ts";
import type { IoPlugin } from "../io/types.ts";
import type { RapCacheOptions } from "../client/file_caches.ts";

/**
 * What the CLI is given of the plugins: their table, and how to make a `rap://` plugin
 * that trusts other CAs and sends a token (`--ca`, `--token-file`).
 *
 * @example
 * ```ts
 * import type { CliPlugins } from "@rap/cli/cli";
 * const none: CliPlugins = { table: {} };
 * console.assert(Object.keys(none.table).length === 0);
 * ```
 */
export interface CliPlugins {
  /** The plugin table. */
  table: PluginTable;
  /**
   * A `rap://`/`raps://` plugin with these client settings (absent: `--ca` and
   * `--token-file` cannot be used).
   *
   * @param options CAs to trust, the token to send, and the files' block cache (default
   *   the plugin's own; `false`: none).
   * @returns The plugin.
   */
  rap?(options: { caCerts: string[]; token?: string; cache?: RapCacheOptions | false }): IoPlugin;
}

/**
 * A registry of the CLI's plugins and the ones `--plugin` names.
 *
 * @param plugins The CLI's plugins.
 * @param specifiers Paths or URLs of plugin modules to load.
 * @returns The registry.
 *
 * @example
 * ```ts
 * import { registryWith } from "@rap/cli/cli";
 * import { builtinPlugins } from "@rap/cli/plugins";
 * import assert from "node:assert/strict";
 *
 * const registry = await registryWith({ table: builtinPlugins }, []);
 * assert.equal((await registry.resolve("malloc://1")).name, "malloc");
 * ```
 */
export async function registryWith(
  plugins: CliPlugins,
  specifiers: readonly string[] | undefined,
): Promise<IoRegistry> {
  const registry = new IoRegistry([], plugins.table);
  if (specifiers && specifiers.length > 0) {
    const { loadPlugin } = await import("../io/plugin_loader.ts");
    for (const specifier of specifiers) registry.register(await loadPlugin(specifier));
  }
  return registry;
}
