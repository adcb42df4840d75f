/**
 * The `rap` command line: `serve`, `cat`, `plugins` and `shell`. This entry point hands
 * the built-in plugins down to the CLI (`lib/cli/`), which has none of its own.
 *
 * @example Run a command in-process and read its exit code
 * ```ts
 * import { main } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await main(["--version"]), 0);
 * ```
 *
 * @module
 */

import { installPluginTable } from "./lib/io/registry.ts";
import { runCli } from "./lib/cli/main.ts";
import { builtinPlugins } from "./plugins/mod.ts";
import { createRapPlugin } from "./plugins/rap.ts";

export * from "./lib/cli/mod.ts";

installPluginTable(builtinPlugins);

/**
 * Run the command line with the built-in plugins.
 *
 * @param args The arguments (without the program name).
 * @returns The exit code: 0 success, 1 runtime error, 2 usage error.
 */
export function main(args: string[]): Promise<number> {
  return runCli(args, { table: builtinPlugins, rap: createRapPlugin });
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
