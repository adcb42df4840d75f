/**
 * Printing: `px` (hexdump), `pxw` (32-bit words), `p8` (hex string), `pr` (raw bytes),
 * `ps` (string).
 *
 * @module
 */

import type { CommandEnv, CommandSpec } from "../command.ts";
import { hexdump, hexdumpWords } from "../hexdump.ts";
import { lengthArg, readPieces } from "./_args.ts";

function escapeString(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) {
    if (b === 0x5c) text += "\\\\";
    else if (b === 0x0a) text += "\\n";
    else if (b === 0x09) text += "\\t";
    else if (b === 0x0d) text += "\\r";
    else if (b >= 0x20 && b <= 0x7e) text += String.fromCharCode(b);
    else text += "\\x" + b.toString(16).padStart(2, "0");
  }
  return text;
}

/**
 * Print the range of the command's length argument piece by piece (see `readPieces`).
 *
 * @param env The command environment.
 * @param each Prints one piece; a true result stops the reading.
 */
async function printPieces(
  env: CommandEnv,
  each: (bytes: Uint8Array, address: bigint, first: boolean) => unknown,
): Promise<void> {
  await readPieces(env, await lengthArg(env.shell, env.args), each);
}

/**
 * Print the range as one line of text: each piece's text, a newline after the last one
 * (or after the piece that ends the text), a lone newline for an empty range.
 *
 * @param env The command environment.
 * @param text The text of one piece, and whether it ends the line.
 */
async function printLine(
  env: CommandEnv,
  text: (bytes: Uint8Array) => { text: string; end?: boolean },
): Promise<void> {
  const n = await lengthArg(env.shell, env.args);
  if (n === 0) return env.out.write("\n");
  await readPieces(env, n, (bytes, _at, _first, last) => {
    const piece = text(bytes);
    env.out.write(last || piece.end ? piece.text + "\n" : piece.text);
    return piece.end;
  });
}

/**
 * The print commands. Each reads and prints its range piece by piece, so its output can
 * be cut, and the command stopped, while it is produced.
 *
 * @example
 * ```ts
 * import { PRINT_COMMANDS } from "@rap/cli/shell";
 * console.assert(PRINT_COMMANDS.some((c) => c.name === "px"));
 * ```
 */
export const PRINT_COMMANDS: readonly CommandSpec[] = [
  {
    name: "px",
    usage: "[n]",
    help: "hexdump n bytes (default: the block size)",
    run: (env) => printPieces(env, (bytes, at, first) => env.out.write(hexdump(bytes, at, first))),
  },
  {
    name: "pxw",
    usage: "[n]",
    help: "hexdump n bytes as 32-bit little-endian words",
    run: (env) => printPieces(env, (bytes, at) => env.out.write(hexdumpWords(bytes, at))),
  },
  {
    name: "p8",
    usage: "[n]",
    help: "print n bytes as a hex string",
    run: (env) =>
      printLine(env, (bytes) => ({
        text: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
      })),
  },
  {
    name: "pr",
    usage: "[n]",
    help: "print n raw bytes",
    run: (env) => printPieces(env, (bytes) => env.out.write(bytes)),
  },
  {
    name: "ps",
    usage: "[n]",
    help: "print the string at the seek (up to NUL or n bytes), escaped",
    run: (env) =>
      printLine(env, (bytes) => {
        const nul = bytes.indexOf(0);
        return { text: escapeString(nul < 0 ? bytes : bytes.subarray(0, nul)), end: nul >= 0 };
      }),
  },
];
