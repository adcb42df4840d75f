/**
 * What every subcommand of the CLI shares: the one usage error (exit code 2), flag
 * parsing, and the parsing of numeric flag values against what the option can use.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
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
 * Parse a subcommand's flags (`node:util` parseArgs, strict), turning mistakes into
 * {@linkcode UsageError}s that name the subcommand.
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
 * const { values } = parseFlags("cat", ["--size", "4"], { size: { type: "string" } });
 * assert.equal(values.size, "4");
 * ```
 */
export function parseFlags<const T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
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
