/**
 * Files: `o` (list or open), `o+` (open writable), `o-N` (close), `oo` / `oo+` (reopen),
 * `i` (information on the current file, the lines of radare2's `r2 -n` `i`).
 *
 * @module
 */

import { UT64_MAX } from "../../protocol/constants.ts";
import type { IoDescriptor } from "../../io/types.ts";
import type { CommandShell, CommandSpec } from "../command.ts";
import { currentFile } from "./_args.ts";

function perms(desc: IoDescriptor): string {
  // radare2 opens files r-x, and rwx with -w.
  return desc.writable ? "rwx" : "r-x";
}

async function sizeOf(desc: IoDescriptor): Promise<bigint> {
  const size = await desc.size();
  return Number.isFinite(size) ? BigInt(size) : UT64_MAX;
}

/** `a / b` rounded half to even, as C's printf rounds an exact tie. */
function roundHalfEven(a: bigint, b: bigint): bigint {
  const q = a / b;
  const twice = (a % b) * 2n;
  return twice > b || (twice === b && q % 2n === 1n) ? q + 1n : q;
}

/**
 * A size as radare2's `r_num_units` writes it: `24`, `2K`, `1.5K`, `1.0M`, `16E` (one
 * decimal unless the value is whole).
 */
function humanSize(size: bigint): string {
  const units = ["K", "M", "G", "T", "P", "E"];
  let unit = "";
  let scale = 1n;
  units.forEach((u, i) => {
    if (size >= 1n << BigInt(10 * (i + 1))) [unit, scale] = [u, 1n << BigInt(10 * (i + 1))];
  });
  // radare2 tests wholeness on the double, then prints the exact long double.
  if (Number.isInteger(Number(size) / Number(scale))) {
    return `${roundHalfEven(size, scale)}${unit}`;
  }
  const tenths = roundHalfEven(size * 10n, scale);
  return `${tenths / 10n}.${tenths % 10n}${unit}`;
}

async function list(shell: CommandShell): Promise<string> {
  const current = shell.session.currentFd;
  let text = "";
  for (const { fd, descriptor } of shell.session.files()) {
    const size = (await sizeOf(descriptor)).toString(16).padStart(8, "0");
    text += `${String(fd).padStart(2)} ${fd === current ? "*" : "-"} ${
      perms(descriptor)
    } 0x${size} ${descriptor.uri}\n`;
  }
  return text;
}

async function reopen(shell: CommandShell, write: boolean): Promise<void> {
  const { fd, descriptor } = currentFile(shell);
  const seek = shell.session.seek;
  await shell.session.open(descriptor.uri, { write });
  await shell.session.close(fd);
  shell.session.seek = seek;
}

/**
 * The file commands.
 *
 * @example
 * ```ts
 * import { OPEN_COMMANDS } from "@rap/cli/shell";
 * console.assert(OPEN_COMMANDS.some((c) => c.name === "o"));
 * ```
 */
export const OPEN_COMMANDS: readonly CommandSpec[] = [
  {
    name: "o",
    usage: "[uri]",
    help: "list open files (r2's format), or open uri (writable with shell -w)",
    capability: (args) => args === "" ? undefined : "open",
    async run({ shell, args, out }) {
      if (args === "") return out.write(await list(shell));
      await shell.session.open(args, { write: shell.writable });
      shell.session.seek = 0n;
    },
  },
  {
    name: "o+",
    usage: "uri",
    help: "open uri writable",
    capability: "open",
    async run({ shell, args }) {
      if (args === "") throw new SyntaxError("Usage: o+ uri");
      await shell.session.open(args, { write: true });
      shell.session.seek = 0n;
    },
  },
  {
    name: "op",
    usage: "fd",
    help: "make fd the current file",
    run({ shell, args }) {
      if (!/^\d+$/.test(args)) throw new SyntaxError("Usage: op fd");
      shell.session.use(Number(args));
    },
  },
  {
    name: "o-",
    usage: "fd|*",
    help: "close file fd (o-* closes all)",
    async run({ shell, args }) {
      if (args === "*") return await shell.session.closeAll();
      if (!/^\d+$/.test(args)) throw new SyntaxError("Usage: o-fd or o-*");
      if (!await shell.session.close(Number(args))) throw new Error(`No open file with fd ${args}`);
    },
  },
  {
    name: "oo",
    usage: "",
    help: "reopen the current file",
    capability: "open",
    run: ({ shell }) => reopen(shell, currentFile(shell).descriptor.writable),
  },
  {
    name: "oo+",
    usage: "",
    help: "reopen the current file writable",
    capability: "open",
    run: ({ shell }) => reopen(shell, true),
  },
  {
    name: "i",
    usage: "",
    help: "information on the current file",
    async run({ shell, out }) {
      const { fd, descriptor } = currentFile(shell);
      const size = await sizeOf(descriptor);
      const rows: [string, string][] = [
        ["fd", String(fd)],
        ["file", descriptor.uri],
        ["size", `0x${size.toString(16)}`],
        ["humansz", humanSize(size)],
        ["mode", perms(descriptor)],
        ["iorw", String(descriptor.writable)],
        ["block", `0x${shell.session.blockSize.toString(16)}`],
      ];
      out.write(rows.map(([k, v]) => `${k.padEnd(8)} ${v}\n`).join(""));
    },
  },
];
