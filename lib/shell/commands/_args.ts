/**
 * Helpers shared by the built-in commands.
 *
 * @module
 */

import type { CommandEnv, CommandShell } from "../command.ts";

/**
 * The most bytes one print or dump command handles, and the largest block size (radare2
 * refuses a block size over its `R_CORE_BLOCKSIZE_MAX` in the same way).
 */
export const MAX_LENGTH = 32 * 1024 * 1024;

/** Bytes the print and dump commands read at a time: a command holds little more. */
export const READ_CHUNK = 4096;

/**
 * A length argument: empty means the block size.
 *
 * @param shell The shell.
 * @param text The argument.
 * @returns The length.
 */
export async function lengthArg(shell: CommandShell, text: string): Promise<number> {
  if (text.trim() === "") return shell.session.blockSize;
  const value = await shell.number(text);
  if (value > BigInt(MAX_LENGTH)) {
    throw new RangeError(
      `Length "${text.trim()}" (${value}) is too large: at most ${MAX_LENGTH} bytes (32M)`,
    );
  }
  return Number(value);
}

/**
 * Read `length` bytes from the seek piece by piece, pausing between pieces (see
 * {@linkcode CommandEnv.pace}), so that a long dump neither holds the whole range nor keeps
 * the event loop.
 *
 * @param env The command environment.
 * @param length How many bytes.
 * @param each Called with each piece, its address, and whether it is the first and the
 *   last; a true result stops the reading.
 * @param chunk The size of a piece (default {@linkcode READ_CHUNK}).
 */
export async function readPieces(
  env: CommandEnv,
  length: number,
  each: (bytes: Uint8Array, address: bigint, first: boolean, last: boolean) => unknown,
  chunk: number = READ_CHUNK,
): Promise<void> {
  const { session } = env.shell;
  const start = session.seek;
  for (let done = 0; done < length; done += chunk) {
    const at = start + BigInt(done);
    const n = Math.min(chunk, length - done);
    if (await each(await session.readAt(at, n), at, done === 0, done + n === length)) return;
    await env.pace();
  }
}

/**
 * Split at the first run of white space.
 *
 * @param text The text.
 * @returns The first word and the rest (trimmed).
 */
export function firstWord(text: string): [string, string] {
  const m = /^(\S*)\s*(.*)$/s.exec(text.trim())!;
  return [m[1], m[2]];
}

/**
 * The current file's descriptor, or an error saying none is open.
 *
 * @param shell The shell.
 * @returns The fd and descriptor.
 */
export function currentFile(shell: CommandShell) {
  const file = shell.session.currentFile;
  if (!file) throw new Error("No file is open (open one with: o URI)");
  return file;
}
