/**
 * The plugins a command line has: the built-in table the program's entry point hands down
 * (`cli.ts` passes `plugins/mod.ts`), plus those loaded with `--plugin`.
 *
 * @module
 */

import { readTokenFile } from "../net/auth.ts";
import { loadCaCerts } from "../net/tls.ts";
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
 * import type { CliPlugins } from "@rap/cli/commands";
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
 * import { registryWith } from "@rap/cli/commands";
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

/**
 * What `--ca FILE` (repeatable) and `--token-file FILE` give a client: the CAs to trust for
 * `raps://` and the token to send.
 *
 * @example
 * ```ts
 * import type { ClientCredentials } from "@rap/cli/commands";
 * const none: ClientCredentials = { caCerts: [] };
 * console.assert(none.token === undefined);
 * ```
 */
export interface ClientCredentials {
  /** CA certificates (PEM), trusted besides the system's. */
  caCerts: string[];
  /** The token of a server started with `--token-file`. */
  token?: string;
}

/**
 * Read `--ca` and `--token-file`, and register a `rap://`/`raps://` plugin that uses them
 * (when either is given).
 *
 * @param registry Where to register the plugin.
 * @param plugins The CLI's plugins (their `rap` maker).
 * @param caFiles The `--ca` files.
 * @param tokenFile The `--token-file` file.
 * @returns What was read (empty when neither flag is given).
 * @throws {TypeError} If a file cannot be read or holds no certificate.
 *
 * @example
 * ```ts
 * import { registryWith, useClientCredentials } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const registry = await registryWith({ table: {} }, []);
 * assert.deepEqual(await useClientCredentials(registry, { table: {} }, undefined, undefined), {
 *   caCerts: [],
 * });
 * ```
 */
export async function useClientCredentials(
  registry: IoRegistry,
  plugins: CliPlugins,
  caFiles: readonly string[] | undefined,
  tokenFile: string | undefined,
): Promise<ClientCredentials> {
  const credentials: ClientCredentials = { caCerts: [] };
  for (const file of caFiles ?? []) credentials.caCerts.push(...await loadCaCerts(file));
  if (tokenFile !== undefined) credentials.token = await readTokenFile(tokenFile);
  if (caFiles?.length || tokenFile !== undefined) {
    if (!plugins.rap) {
      throw new Error("This command line has no rap:// plugin for --ca/--token-file");
    }
    registry.register(plugins.rap(credentials));
  }
  return credentials;
}
