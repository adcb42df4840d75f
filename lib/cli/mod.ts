/**
 * The `rap` command line as a library: {@linkcode runCli} and its subcommands, each given
 * the plugins to use (the program's entry point, `cli.ts`, hands down the built-in ones).
 *
 * @example
 * ```ts
 * import { runCli } from "@rap/cli/commands";
 * console.assert(typeof runCli === "function");
 * ```
 *
 * @module
 */

export * from "./main.ts";
export * from "./usage.ts";
export * from "./registry.ts";
export * from "./serve.ts";
export * from "./serve_flags.ts";
export * from "./cat.ts";
export * from "./cert.ts";
export * from "./log.ts";
export * from "./progress.ts";
export * from "./stdout.ts";
export * from "./list_plugins.ts";
export * from "./shell.ts";
export * from "./proxy.ts";
