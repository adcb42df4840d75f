/**
 * `rap plugins [--json]`: the IO plugins, like `r2 -L`.
 *
 * @module
 */

import type { IoPlugin } from "../io/types.ts";
import { type CliPlugins, registryWith } from "./registry.ts";
import { parseFlags, UsageError } from "./usage.ts";

/**
 * The help of `plugins`.
 *
 * @example
 * ```ts
 * import { PLUGINS_USAGE } from "@rap/cli/commands";
 * console.assert(PLUGINS_USAGE.startsWith("Usage: rap plugins"));
 * ```
 */
export const PLUGINS_USAGE = `Usage: rap plugins [--json]

List the IO plugins like r2 -L: capabilities (r read, w write, s system commands), name,
description and URI forms.

Options:
  --json                machine-readable output
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)
`;

function capabilities(plugin: IoPlugin): string {
  const c = plugin.capabilities;
  return `${c.read ? "r" : "_"}${c.write ? "w" : "_"}${c.system ? "s" : "_"}`;
}

/**
 * Run `plugins`.
 *
 * @param args The arguments after `plugins`.
 * @param plugins The plugins the CLI was given.
 * @returns The exit code.
 * @throws {UsageError} For a usage mistake.
 */
export async function listPlugins(args: string[], plugins: CliPlugins): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    json: { type: "boolean" },
    plugin: { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(PLUGINS_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError("takes no arguments");
  const list = await (await registryWith(plugins, values.plugin)).list();
  if (values.json) {
    console.log(JSON.stringify(
      list.map((p) => ({
        name: p.name,
        description: p.description,
        schemes: p.schemes,
        uris: p.uriForms,
        capabilities: p.capabilities,
        license: p.license ?? "MIT",
      })),
      null,
      2,
    ));
    return 0;
  }
  const width = Math.max(...list.map((p) => p.name.length));
  for (const p of list) {
    console.log(
      `${capabilities(p)}  ${p.name.padEnd(width)}  ${p.description} (${p.uriForms.join(" ")})`,
    );
  }
  return 0;
}
