/**
 * Printing: `px` (hexdump), `pxw` (32-bit words), `p8` (hex string), `pr` (raw bytes),
 * `ps` (string).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { hexdump, hexdumpWords } from "../hexdump.ts";
import { lengthArg } from "./_args.ts";

function escapeString(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) {
    if (b === 0) break;
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
 * The print commands.
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
    async run({ shell, args, out }) {
      const n = await lengthArg(shell, args);
      out.write(hexdump(await shell.session.readAt(shell.session.seek, n), shell.session.seek));
    },
  },
  {
    name: "pxw",
    usage: "[n]",
    help: "hexdump n bytes as 32-bit little-endian words",
    async run({ shell, args, out }) {
      const n = await lengthArg(shell, args);
      const bytes = await shell.session.readAt(shell.session.seek, n);
      out.write(hexdumpWords(bytes, shell.session.seek));
    },
  },
  {
    name: "p8",
    usage: "[n]",
    help: "print n bytes as a hex string",
    async run({ shell, args, out }) {
      const n = await lengthArg(shell, args);
      const bytes = await shell.session.readAt(shell.session.seek, n);
      out.write(Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") + "\n");
    },
  },
  {
    name: "pr",
    usage: "[n]",
    help: "print n raw bytes",
    async run({ shell, args, out }) {
      const n = await lengthArg(shell, args);
      out.write(await shell.session.readAt(shell.session.seek, n));
    },
  },
  {
    name: "ps",
    usage: "[n]",
    help: "print the string at the seek (up to NUL or n bytes), escaped",
    async run({ shell, args, out }) {
      const n = await lengthArg(shell, args);
      out.write(escapeString(await shell.session.readAt(shell.session.seek, n)) + "\n");
    },
  },
];
