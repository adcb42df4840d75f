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

function tooLarge(text: string, value: bigint): RangeError {
  return new RangeError(
    `Length "${text.trim()}" (${value}) is too large: at most ${MAX_LENGTH} bytes (32M)`,
  );
}

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
  if (value > BigInt(MAX_LENGTH)) throw tooLarge(text, value);
  return Number(value);
}

/** A range of addresses: where it starts and how many bytes (the end may wrap past 2^64). */
export interface ByteRange {
  /** The first address. */
  start: bigint;
  /** How many bytes. */
  length: number;
}

/**
 * The range of a print command's length argument, as radare2 takes it: empty means the
 * block size from the seek; a negative length `-n` means the n bytes before the seek
 * (`px -16`).
 *
 * @param shell The shell.
 * @param text The argument.
 * @returns The range.
 */
export async function rangeArg(shell: CommandShell, text: string): Promise<ByteRange> {
  const seek = shell.session.seek;
  if (text.trim() === "") return { start: seek, length: shell.session.blockSize };
  const n = BigInt.asIntN(64, await shell.number(text));
  const length = n < 0n ? -n : n;
  if (length > BigInt(MAX_LENGTH)) throw tooLarge(text, n);
  const start = n < 0n ? BigInt.asUintN(64, seek - length) : seek;
  return { start, length: Number(length) };
}

/**
 * Read `length` bytes at `at` of the current file, the addresses wrapping from
 * 0xffffffffffffffff to 0 as radare2's do.
 */
function readWrapped(env: CommandEnv, at: bigint, length: number): Promise<Uint8Array> {
  const { session } = env.shell;
  const room = (1n << 64n) - at;
  if (BigInt(length) <= room) return session.readAt(at, length);
  return Promise.all([session.readAt(at, Number(room)), session.readAt(0n, length - Number(room))])
    .then(([head, tail]) => {
      const out = new Uint8Array(length);
      out.set(head);
      out.set(tail, head.length);
      return out;
    });
}

/**
 * Read a range piece by piece, pausing between pieces (see {@linkcode CommandEnv.pace}),
 * so that a long dump neither holds the whole range nor keeps the event loop.
 *
 * @param env The command environment.
 * @param range The addresses.
 * @param each Called with each piece, its address and its offset in the range; a true
 *   result stops the reading.
 * @param chunk The size of a piece (default {@linkcode READ_CHUNK}).
 */
export async function readPieces(
  env: CommandEnv,
  range: ByteRange,
  each: (bytes: Uint8Array, address: bigint, offset: number) => unknown,
  chunk: number = READ_CHUNK,
): Promise<void> {
  for (let done = 0; done < range.length; done += chunk) {
    const at = BigInt.asUintN(64, range.start + BigInt(done));
    const bytes = await readWrapped(env, at, Math.min(chunk, range.length - done));
    if (await each(bytes, at, done)) return;
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
