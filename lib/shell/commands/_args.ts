/**
 * Helpers shared by the built-in commands.
 *
 * @module
 */

import type { Shell } from "../shell.ts";

/** The most bytes one print or dump command handles (radare2's block size limit). */
export const MAX_LENGTH = 32 * 1024 * 1024;

/**
 * A length argument: empty means the block size.
 *
 * @param shell The shell.
 * @param text The argument.
 * @returns The length.
 */
export async function lengthArg(shell: Shell, text: string): Promise<number> {
  if (text.trim() === "") return shell.session.blockSize;
  const value = await shell.number(text);
  if (value > BigInt(MAX_LENGTH)) {
    throw new RangeError(`Length ${value} is too large (at most ${MAX_LENGTH} bytes)`);
  }
  return Number(value);
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
export function currentFile(shell: Shell) {
  const file = shell.session.currentFile;
  if (!file) throw new Error("No file is open (open one with: o URI)");
  return file;
}
