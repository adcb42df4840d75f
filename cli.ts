/**
 * The `rap` program: `serve`, `cat`, `cert`, `plugins`, `shell` and `proxy`. This entry
 * point hands the built-in plugins down to the CLI (`lib/cli/`), which has none of its own,
 * and loads nothing else: each subcommand's module is imported when it runs, so `rap cat`
 * does not load the server, the shell or the HTTP page. The CLI as a library (`runCli`,
 * the subcommands, their flags) is `@rap/cli/commands`.
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

installPluginTable(builtinPlugins);

/**
 * Run the command line with the built-in plugins.
 *
 * @param args The arguments (without the program name).
 * @returns The exit code: 0 success, 1 runtime error, 2 usage error.
 *
 * @example
 * ```ts
 * import { main } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await main(["--help"]), 0);
 * ```
 */
export function main(args: string[]): Promise<number> {
  return runCli(args, { table: builtinPlugins, rap: createRapPlugin });
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
