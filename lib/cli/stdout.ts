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
 * Write all of `bytes` to `file` (default standard output), synchronously when `file` can
 * (`Deno.stdout` can): the command has nothing else to do meanwhile, and an asynchronous
 * write is a hop to Deno's blocking-IO thread and back for every piece (with the 1 MiB
 * pieces of a streamed 256 MiB `rap cat` to /dev/null, about 0.97× the time, and 0.90×
 * with the streaming itself, docs/benchmarks.md).
 * A slow reader holds the write, and TCP flow control then holds the server back.
 *
 * @param bytes The bytes.
 * @param file Where to: anything with a `write` like `Deno.stdout`, and a `writeSync`
 *   that is preferred when present.
 * @throws {StdoutClosed} When the reader has gone.
 *
 * @example
 * ```ts
 * import { StdoutClosed, writeStdout } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const closed = { write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) };
 * await assert.rejects(writeStdout(new Uint8Array(1), closed), StdoutClosed);
 * const seen: number[] = [];
 * const oneByOne = {
 *   write: () => Promise.reject(new Error("not used")),
 *   writeSync: (p: Uint8Array) => (seen.push(p[0]), 1),
 * };
 * await writeStdout(new Uint8Array([1, 2, 3]), oneByOne);
 * assert.deepEqual(seen, [1, 2, 3]);
 * ```
 */
export async function writeStdout(
  bytes: Uint8Array,
  file: { write(p: Uint8Array): Promise<number>; writeSync?(p: Uint8Array): number } = Deno.stdout,
): Promise<void> {
  try {
    let done = 0;
    if (file.writeSync !== undefined) {
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
    } else {
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
    }
  } catch (error) {
    if (isBrokenPipe(error)) throw new StdoutClosed();
    throw error;
  }
}
