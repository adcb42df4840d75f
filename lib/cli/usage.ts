/**
 * What every subcommand of the CLI shares: the one usage error (exit code 2), flag
 * parsing, and the parsing of numeric flag values against what the option can use.
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
 * import { UsageError } from "@rap/cli/cli";
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
 * Parse a subcommand's flags, strictly, as `node:util`'s parseArgs does with
 * `allowPositionals` (`--name value`, `--name=value`, `-x`, grouped short booleans, `--`
 * ending the flags; a flag's value may not start with `-` unless given with `=`), turning
 * mistakes into {@linkcode UsageError}s that name the subcommand. It is not parseArgs
 * itself: loading `node:util` cost every start of the command line some 14 ms.
 *
 * @param command The subcommand, for messages.
 * @param args Its arguments.
 * @param options The flags it takes.
 * @returns The values and positionals.
 * @throws {UsageError} For an unknown flag or a missing value.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * const flags = { size: { type: "string" }, ca: { type: "string", multiple: true } } as const;
 * const { values, positionals } = parseFlags("cat", ["--size", "4", "x", "--ca=a", "--ca", "b"], flags);
 * assert.equal(values.size, "4");
 * assert.deepEqual(values.ca, ["a", "b"]);
 * assert.deepEqual(positionals, ["x"]);
 * assert.throws(() => parseFlags("cat", ["--nope"], flags), /cat: Unknown option '--nope'/);
 * assert.throws(() => parseFlags("cat", ["--size"], flags), /argument missing/);
 * ```
 */
export function parseFlags<const T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  const fail = (message: string): never => {
    throw new UsageError(`${command}: ${message}`);
  };
  const values: Record<string, unknown> = Object.create(null);
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    if (options[name].multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  const named = (name: string, shown: string) =>
    Object.hasOwn(options, name) ? options[name] : fail(`Unknown option '${shown}'`);
  const valueAfter = (at: number, shown: string): string => {
    const next = args[at];
    if (next === undefined || next.startsWith("-") && next.length > 1) {
      fail(`Option '${shown} <value>' argument missing`);
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
        if (eq >= 0) fail(`Option '--${name}' does not take an argument`);
        set(name, true);
      } else {
        set(name, eq >= 0 ? arg.slice(eq + 1) : valueAfter(++i, `--${name}`));
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const short = arg[j];
        const name = Object.keys(options).find((n) => options[n].short === short);
        const option = named(name ?? "", `-${short}`);
        if (option.type === "boolean") {
          set(name!, true);
          continue;
        }
        set(name!, j + 1 < arg.length ? arg.slice(j + 1) : valueAfter(++i, `-${short}`));
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
 * The value of a numeric flag (radare2 numbers: `4096`, `0x1000`, `4K`, `1G`), or
 * `fallback` when it is not given.
 *
 * @param flag The flag, e.g. `--max-connections`.
 * @param text Its value as given.
 * @param fallback The default.
 * @param min The smallest value the option can use (default 0).
 * @returns The number.
 * @throws {UsageError} For a value that is not a whole number, or is below `min`.
 *
 * @example
 * ```ts
 * import { numberFlag } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(numberFlag("--size", "4K", 0), 4096);
 * assert.equal(numberFlag("--size", undefined, 7), 7);
 * assert.throws(() => numberFlag("--max-connections", "0", 256, 1), /must be at least 1/);
 * ```
 */
export function numberFlag(
  flag: string,
  text: string | undefined,
  fallback: number,
  min = 0,
): number {
  if (text === undefined) return fallback;
  let value: number;
  try {
    value = parseNumber(text);
  } catch {
    value = NaN;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`${flag} expects a non-negative number, got "${text}"`);
  }
  if (value < min) throw new UsageError(`${flag} must be at least ${min}, got ${value}`);
  return value;
}
