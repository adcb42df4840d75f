/**
 * The `rap` command line: picks the subcommand (`serve`, `cat`, `cert`, `plugins`,
 * `shell`), and turns what it throws into one line and an exit code: 2 for a usage mistake
 * (`rap cat: unknown option "--bogus" (see rap cat --help)`), 1 for a runtime error
 * (`rap cat: Cannot open "x": no such file`), 0 when standard output was closed by its
 * reader (`rap cat F | head -c 10`), as coreutils do.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import type { CliPlugins } from "./registry.ts";
import { StdoutClosed } from "./stdout.ts";
import { errorLine, UsageError, usageLine } from "./usage.ts";

/**
 * The help of `rap` itself.
 *
 * @example
 * ```ts
 * import { MAIN_USAGE } from "@rap/cli/commands";
 * console.assert(MAIN_USAGE.includes("Usage: rap <command>"));
 * ```
 */
export const MAIN_USAGE = `rap ${VERSION} — radare2's Remote Access Protocol for Deno

Usage: rap <command> [options]

Commands:
  serve [URI]     serve RAP (and optionally HTTP) on 127.0.0.1:9999
  cat URI         write the bytes of any URI to stdout
  cert DIR        make a CA and a server certificate for --cert/--key and --ca
  plugins         list the IO plugins (like r2 -L)
  shell [URI]     r2-style command shell with the = remote commands
  proxy UPSTREAM  serve radare2 clients the files of a rap:// or raps:// server, cached

Options:
  -h, --help      help (also "rap <command> --help")
  -V, --version   print the version
`;

type Subcommand = (args: string[], plugins: CliPlugins) => Promise<number>;

/**
 * Each subcommand is imported when it runs: `rap cat` loads neither the server nor the
 * shell, and starts in about half the time it took with all of them loaded
 * (docs/benchmarks.md).
 */
const COMMANDS: Readonly<Record<string, Subcommand>> = {
  serve: async (args, plugins) => (await import("./serve.ts")).serve(args, plugins),
  cat: async (args, plugins) => (await import("./cat.ts")).cat(args, plugins),
  cert: async (args) => (await import("./cert.ts")).cert(args),
  plugins: async (args, plugins) => (await import("./list_plugins.ts")).listPlugins(args, plugins),
  proxy: async (args, plugins) => (await import("./proxy.ts")).proxy(args, plugins),
  shell: async (args, plugins) => (await import("./shell.ts")).shellMain(args, undefined, plugins),
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
 * import { runCli } from "@rap/cli/commands";
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
    if (!run) {
      console.error(usageLine(undefined, `unknown command "${command}"`));
      return 2;
    }
    return await run(rest, plugins);
  } catch (error) {
    if (error instanceof StdoutClosed) return 0;
    const name = Object.hasOwn(COMMANDS, command) ? command : undefined;
    if (error instanceof UsageError) {
      console.error(usageLine(name, error.message));
      return 2;
    }
    console.error(errorLine(name, (error as Error).message));
    return 1;
  }
}
