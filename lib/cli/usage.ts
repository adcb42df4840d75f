/**
 * What every subcommand of the CLI shares: the one usage error (exit code 2) and its one
 * line (`rap cat: unknown option "--bogus" (see rap cat --help)`), flag parsing, and the
 * parsing of numeric flag values against what the option can use.
 *
 * @module
 */

import type { parseArgs, ParseArgsOptionsConfig } from "node:util";
import { parseNumber } from "../io/uri.ts";

/**
 * A usage mistake: printed as one line, exit code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "@rap/cli/commands";
 * console.assert(new UsageError("serve: expected at most one URI") instanceof Error);
 * ```
 */
export class UsageError extends Error {
  /**
   * Create it.
   *
   * @param message What is wrong, naming the flag or argument.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The one line a usage mistake prints: `rap <command>: <what is wrong> (see rap <command>
 * --help)`.
 *
 * @param command The subcommand (`undefined` for `rap` itself).
 * @param message What is wrong.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import { usageLine } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.equal(usageLine("cat", "expected one URI"), "rap cat: expected one URI (see rap cat --help)");
 * assert.equal(usageLine(undefined, 'unknown command "x"'), 'rap: unknown command "x" (see rap --help)');
 * ```
 */
export function usageLine(command: string | undefined, message: string): string {
  const name = command === undefined ? "rap" : `rap ${command}`;
  return `${name}: ${message} (see ${name} --help)`;
}

/**
 * The one line a runtime error prints: `rap <command>: <message>`.
 *
 * @param command The subcommand (`undefined` for `rap` itself).
 * @param message What went wrong.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import { errorLine } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errorLine("cat", 'Cannot open "x": no such file'), 'rap cat: Cannot open "x": no such file');
 * ```
 */
export function errorLine(command: string | undefined, message: string): string {
  return `${command === undefined ? "rap" : `rap ${command}`}: ${message}`;
}

/**
 * Parse a subcommand's flags, strictly, as `node:util`'s parseArgs does with
 * `allowPositionals` (`--name value`, `--name=value`, `-x`, grouped short booleans, `--`
 * ending the flags; a value may not start with `-` unless given with `=`), turning mistakes
 * into {@linkcode UsageError}s of one short line. It is not parseArgs itself: loading
 * `node:util` cost every start of the command line some 14 ms.
 *
 * @param args The subcommand's arguments.
 * @param options The flags it takes.
 * @returns The values and positionals.
 * @throws {UsageError} For an unknown flag or a missing value.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const { values } = parseFlags(["--size", "4"], { size: { type: "string" } });
 * assert.equal(values.size, "4");
 * assert.throws(() => parseFlags(["--bogus"], {}), /^UsageError: unknown option "--bogus"$/);
 * assert.throws(() => parseFlags(["--size", "-5"], { size: { type: "string" } }), /--size needs a value/);
 * const many = { ca: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } } as const;
 * const parsed = parseFlags(["--ca=a", "x", "--ca", "b", "-h", "--", "-y"], many);
 * assert.deepEqual(parsed.values.ca, ["a", "b"]);
 * assert.equal(parsed.values.help, true);
 * assert.deepEqual(parsed.positionals, ["x", "-y"]);
 * assert.throws(() => parseFlags(["--help=1"], many), /--help takes no value/);
 * ```
 */
export function parseFlags<const T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  const fail = (message: string): never => {
    throw new UsageError(message);
  };
  const values: Record<string, unknown> = Object.create(null);
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    if (options[name].multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  const named = (name: string | undefined, shown: string) =>
    name !== undefined && Object.hasOwn(options, name)
      ? options[name]
      : fail(`unknown option "${shown}"`);
  const valueAfter = (at: number, name: string): string => {
    const next = args[at];
    if (next === undefined) fail(`--${name} needs a value`);
    if (next.startsWith("-") && next.length > 1) {
      fail(`--${name} needs a value; write --${name}=-X for one that starts with "-"`);
    }
    return next;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const option = named(name, `--${name}`);
      if (option.type === "boolean") {
        if (eq >= 0) fail(`--${name} takes no value`);
        set(name, true);
      } else {
        set(name, eq >= 0 ? arg.slice(eq + 1) : valueAfter(++i, name));
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const name = Object.keys(options).find((n) => options[n].short === arg[j]);
        const option = named(name, `-${arg[j]}`);
        if (option.type === "boolean") {
          set(name!, true);
          continue;
        }
        set(name!, j + 1 < arg.length ? arg.slice(j + 1) : valueAfter(++i, name!));
        break;
      }
    } else {
      positionals.push(arg);
    }
  }
  for (const [name, option] of Object.entries(options)) {
    if (option.default !== undefined && values[name] === undefined) values[name] = option.default;
  }
  return { values, positionals } as unknown as ReturnType<
    typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>
  >;
}

/**
 * What a numeric flag's value is: a count, milliseconds, or a number of bytes (a size or
 * an offset).
 *
 * @example
 * ```ts
 * import type { NumberKind } from "@rap/cli/commands";
 * const kind: NumberKind = "MS";
 * console.assert(kind === "MS");
 * ```
 */
export type NumberKind = "N" | "MS" | "SIZE";

const EXPECTS: Readonly<Record<NumberKind, string>> = {
  N: "a whole number",
  MS: "whole milliseconds (e.g. 5000)",
  SIZE: "a number of bytes (4096, 0x1000, 64K, 1G)",
};

/**
 * The value of a numeric flag (radare2 numbers: `4096`, `0x1000`, `4K`, `1G`), or
 * `fallback` when it is not given.
 *
 * @param flag The flag, e.g. `--max-connections`.
 * @param text Its value as given.
 * @param fallback The default.
 * @param min The smallest value the option can use (default 0).
 * @param kind What the value is, for the message (default a count).
 * @returns The number.
 * @throws {UsageError} For a value that is not a whole number, or is below `min`.
 *
 * @example
 * ```ts
 * import { numberFlag } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.equal(numberFlag("--size", "4K", 0), 4096);
 * assert.equal(numberFlag("--size", undefined, 7), 7);
 * assert.throws(() => numberFlag("--max-connections", "0", 256, 1), /must be at least 1/);
 * assert.throws(() => numberFlag("--cmd-timeout", "1.5", 0, 0, "MS"), /expects whole milliseconds/);
 * ```
 */
export function numberFlag(
  flag: string,
  text: string | undefined,
  fallback: number,
  min = 0,
  kind: NumberKind = "N",
): number {
  if (text === undefined) return fallback;
  let value: number;
  try {
    value = parseNumber(text);
  } catch {
    value = NaN;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`${flag} expects ${EXPECTS[kind]}, got "${text}"`);
  }
  if (value < min) throw new UsageError(`${flag} must be at least ${min}, got ${value}`);
  return value;
}
