/**
 * Seek and block size: `s`, `s+`, `s-`, `s++`, `s--`, `b`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { MAX_LENGTH } from "./_args.ts";

const hex = (n: bigint | number) => `0x${n.toString(16)}\n`;
const U64 = (1n << 64n) - 1n;

/**
 * The seek commands.
 *
 * @example
 * ```ts
 * import { SEEK_COMMANDS } from "@rap/cli/shell";
 * console.assert(SEEK_COMMANDS.some((c) => c.name === "s"));
 * ```
 */
export const SEEK_COMMANDS: readonly CommandSpec[] = [
  {
    name: "s",
    usage: "[addr]",
    help: "print the seek, or seek to addr",
    async run({ shell, args, out }) {
      if (args === "") out.write(hex(shell.session.seek));
      else shell.session.seek = await shell.number(args);
    },
  },
  {
    name: "s+",
    usage: "n",
    help: "seek n bytes forward",
    async run({ shell, args }) {
      shell.session.seek = (shell.session.seek + await shell.number(args || "1")) & U64;
    },
  },
  {
    name: "s-",
    usage: "n",
    help: "seek n bytes backward",
    async run({ shell, args }) {
      const n = await shell.number(args || "1");
      shell.session.seek = n > shell.session.seek ? 0n : shell.session.seek - n;
    },
  },
  {
    name: "s++",
    usage: "",
    help: "seek one block forward",
    run({ shell }) {
      shell.session.seek = (shell.session.seek + BigInt(shell.session.blockSize)) & U64;
    },
  },
  {
    name: "s--",
    usage: "",
    help: "seek one block backward",
    run({ shell }) {
      const n = BigInt(shell.session.blockSize);
      shell.session.seek = n > shell.session.seek ? 0n : shell.session.seek - n;
    },
  },
  {
    name: "b",
    usage: "[size]",
    help: "print the block size, or set it",
    async run({ shell, args, out }) {
      if (args === "") return out.write(hex(shell.session.blockSize));
      const size = await shell.number(args);
      if (size < 1n || size > BigInt(MAX_LENGTH)) {
        throw new RangeError(`Block size must be 1 to 32M, got ${args}`);
      }
      shell.session.blockSize = Number(size);
    },
  },
];
