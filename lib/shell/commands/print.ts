/**
 * Printing: `px` (hexdump), `pxw` (32-bit words), `p8` (hex string), `pr` (raw bytes),
 * `ps` (string).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
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
    async run(env) {
      const n = await lengthArg(env.shell, env.args);
      await readPieces(env, n, (bytes, at, first) => env.out.write(hexdump(bytes, at, first)));
    },
  },
  {
    name: "pxw",
    usage: "[n]",
    help: "hexdump n bytes as 32-bit little-endian words",
    async run(env) {
      const n = await lengthArg(env.shell, env.args);
      await readPieces(env, n, (bytes, at) => env.out.write(hexdumpWords(bytes, at)));
    },
  },
  {
    name: "p8",
    usage: "[n]",
    help: "print n bytes as a hex string",
    async run(env) {
      const n = await lengthArg(env.shell, env.args);
      if (n === 0) return env.out.write("\n");
      await readPieces(env, n, (bytes, _at, _first, last) => {
        const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        env.out.write(last ? hex + "\n" : hex);
      });
    },
  },
  {
    name: "pr",
    usage: "[n]",
    help: "print n raw bytes",
    async run(env) {
      const n = await lengthArg(env.shell, env.args);
      await readPieces(env, n, (bytes) => env.out.write(bytes));
    },
  },
  {
    name: "ps",
    usage: "[n]",
    help: "print the string at the seek (up to NUL or n bytes), escaped",
    async run(env) {
      const n = await lengthArg(env.shell, env.args);
      if (n === 0) return env.out.write("\n");
      await readPieces(env, n, (bytes, _at, _first, last) => {
        const nul = bytes.indexOf(0);
        const text = escapeString(nul < 0 ? bytes : bytes.subarray(0, nul));
        env.out.write(last || nul >= 0 ? text + "\n" : text);
        return nul >= 0;
      });
    },
  },
];
