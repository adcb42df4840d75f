/**
 * The `rap` command line: picks the subcommand (`serve`, `cat`, `plugins`, `shell`), and
 * turns what it throws into one line and an exit code (2 for a usage mistake, 1 for a
 * runtime error).
 *
 * @module
 */

import { VERSION } from "../version.ts";
import { cat } from "./cat.ts";
import { listPlugins } from "./list_plugins.ts";
import { proxy } from "./proxy.ts";
import type { CliPlugins } from "./registry.ts";
import { serve } from "./serve.ts";
import { UsageError } from "./usage.ts";

/**
 * The help of `rap` itself.
 *
 * @example
 * ```ts
 * import { MAIN_USAGE } from "@rap/cli/cli";
 * console.assert(MAIN_USAGE.includes("Usage: rap <command>"));
 * ```
 */
export const MAIN_USAGE = `rap ${VERSION} — radare2's Remote Access Protocol for Deno

Usage: rap <command> [options]

Commands:
  serve [URI]     serve RAP (and optionally HTTP) on 127.0.0.1:9999
  cat URI         write the bytes of any URI to stdout
  plugins         list the IO plugins (like r2 -L)
  shell [URI]     r2-style command shell with the = remote commands
  proxy UPSTREAM  serve radare2 clients the files of a rap:// or raps:// server, cached

Options:
  -h, --help      help (also "rap <command> --help")
  -V, --version   print the version
`;

type Subcommand = (args: string[], plugins: CliPlugins) => Promise<number>;

const COMMANDS: Readonly<Record<string, Subcommand>> = {
  serve,
  cat,
  plugins: listPlugins,
  proxy,
  shell: async (args, plugins) => {
    const { shellMain } = await import("./shell.ts");
    return await shellMain(args, undefined, plugins);
  },
};

/**
 * Run the command line with the given plugins.
 *
 * @param args The arguments (without the program name).
 * @param plugins The plugins (the entry point hands down the built-in ones).
 * @returns The exit code: 0 success, 1 runtime error, 2 usage error.
 *
 * @example
 * ```ts
 * import { runCli } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await runCli(["--version"], { table: {} }), 0);
 * ```
 */
export async function runCli(args: string[], plugins: CliPlugins): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      if (command === undefined) {
        console.error(MAIN_USAGE);
        return 2;
      }
      if (rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) {
        return await COMMANDS[rest[0]](["--help"], plugins);
      }
      console.log(MAIN_USAGE);
      return 0;
    }
    if (command === "-V" || command === "--version") {
      console.log(VERSION);
      return 0;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command "${command}" (try "rap --help")`);
    return await run(rest, plugins);
  } catch (error) {
    console.error(`rap: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
