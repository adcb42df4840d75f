/**
 * Writing to standard output the way coreutils do: when the reader goes away
 * (`rap cat F | head -c 10`), the command ends quietly with exit code 0 instead of
 * printing `Broken pipe`.
 *
 * @module
 */

/**
 * Standard output was closed by its reader: the command stops, prints nothing, exits 0.
 *
 * @example
 * ```ts
 * import { StdoutClosed } from "@rap/cli/commands";
 * console.assert(new StdoutClosed() instanceof Error);
 * ```
 */
export class StdoutClosed extends Error {
  /** Create it. */
  constructor() {
    super("Standard output was closed");
    this.name = "StdoutClosed";
  }
}

/**
 * Whether an error is the one a write to a pipe whose reader has gone gets.
 *
 * @param error What a write threw.
 * @returns Whether it is a broken pipe.
 *
 * @example
 * ```ts
 * import { isBrokenPipe } from "@rap/cli/commands";
 * console.assert(isBrokenPipe(new Deno.errors.BrokenPipe("x")));
 * ```
 */
export function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /os error 32\b|EPIPE/.test(error.message));
}

/**
 * Write all of `bytes` to `file` (default standard output).
 *
 * @param bytes The bytes.
 * @param file Where to (anything with a `write` like `Deno.stdout`).
 * @throws {StdoutClosed} When the reader has gone.
 *
 * @example
 * ```ts
 * import { StdoutClosed, writeStdout } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const closed = { write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) };
 * await assert.rejects(writeStdout(new Uint8Array(1), closed), StdoutClosed);
 * ```
 */
export async function writeStdout(
  bytes: Uint8Array,
  file: { write(p: Uint8Array): Promise<number> } = Deno.stdout,
): Promise<void> {
  try {
    let done = 0;
    while (done < bytes.length) done += await file.write(bytes.subarray(done));
  } catch (error) {
    if (isBrokenPipe(error)) throw new StdoutClosed();
    throw error;
  }
}
