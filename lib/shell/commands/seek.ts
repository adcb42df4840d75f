/**
 * Seek and block size: `s`, `s+`, `s-`, `s++`, `s--`, `b`, with radare2's 64-bit seek
 * arithmetic.
 *
 * @module
 */

import type { CommandShell, CommandSpec } from "../command.ts";
import { MAX_LENGTH } from "./_args.ts";

const hex = (n: bigint | number) => `0x${n.toString(16)}\n`;
const signed = (n: bigint) => BigInt.asIntN(64, n);

/**
 * Move the seek by a signed 64-bit delta as radare2's `r_core_seek_delta` does: forward
 * wraps past 2^64, backward stops at 0.
 */
function seekBy(shell: CommandShell, delta: bigint): void {
  const seek = shell.session.seek;
  if (delta > 0n) shell.session.seek = BigInt.asUintN(64, seek + delta);
  else if (delta < 0n) shell.session.seek = -delta > seek ? 0n : seek + delta;
}

/**
 * The distance of `s+ n` / `s- n` as a signed 64-bit number; as in radare2, a leading
 * minus is dropped (`s+ -8` goes forward).
 */
async function distance(shell: CommandShell, args: string): Promise<bigint> {
  const n = signed(await shell.number(args || "1"));
  return args.startsWith("-") ? signed(-n) : n;
}

/** `s++ [n]` / `s-- [n]`: a block, or a block divided by n (radare2's C division). */
async function blockStep(shell: CommandShell, args: string, bits: 32 | 64): Promise<bigint> {
  const block = BigInt(shell.session.blockSize);
  const parts = BigInt.asIntN(bits, await shell.number(args));
  return parts > 0n ? block / parts : block;
}

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
    help: "print the seek, or seek to addr (s -n, s +n: relative)",
    async run({ shell, args, out }) {
      if (args === "") return out.write(hex(shell.session.seek));
      const value = await shell.number(args);
      // radare2: "s -8" is "s- 8", "s +8" is "s+ 8".
      if (/^[+-]/.test(args)) seekBy(shell, signed(value));
      else shell.session.seek = value;
    },
  },
  {
    name: "s+",
    usage: "n",
    help: "seek n bytes forward",
    async run({ shell, args }) {
      seekBy(shell, await distance(shell, args));
    },
  },
  {
    name: "s-",
    usage: "n",
    help: "seek n bytes backward (not past 0)",
    async run({ shell, args }) {
      seekBy(shell, signed(-await distance(shell, args)));
    },
  },
  {
    name: "s++",
    usage: "[n]",
    help: "seek one block (or a block / n) forward",
    async run({ shell, args }) {
      seekBy(shell, await blockStep(shell, args, 64));
    },
  },
  {
    name: "s--",
    usage: "[n]",
    help: "seek one block (or a block / n) backward",
    async run({ shell, args }) {
      seekBy(shell, -await blockStep(shell, args, 32));
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
