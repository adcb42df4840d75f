/**
 * The shell's command table: the built-in commands, the `=` family and `?` (help), and
 * how a command's text finds its command.
 *
 * @module
 */

import type { CommandSpec } from "./command.ts";
import { BUILTIN_COMMANDS } from "./commands/mod.ts";
import type { RemoteShell } from "./remote/hosts.ts";
import { REMOTE_COMMANDS } from "./remote/dispatch.ts";

const HELP_COMMAND: CommandSpec = {
  name: "?",
  usage: "",
  help: "this help",
  unlocked: true,
  run({ out }) {
    const rows = COMMANDS.filter((c) => c.name !== "?")
      .sort((a, b) => a.name.localeCompare(b.name));
    const width = Math.max(...rows.map((c) => c.name.length + c.usage.length + 1));
    let text = "Usage: [N]cmd [args][~filter][@ addr|@@= addr ...|@@s:from to step][> file]" +
      " ; cmd ...\n";
    for (const c of rows) {
      text += `| ${(c.name + (c.usage ? " " + c.usage : "")).padEnd(width)}  ${c.help}\n`;
    }
    text += "| Expressions: 0x10+4*2, 4K, $$ (seek), $s (file size), $b (block size)\n";
    out.write(text);
  },
};

/** Every command, longest names first. */
const COMMANDS: readonly CommandSpec<RemoteShell>[] = [
  ...BUILTIN_COMMANDS,
  ...REMOTE_COMMANDS,
  HELP_COMMAND,
].sort((a, b) => b.name.length - a.name.length);

/**
 * Every command of the shell, longest names first.
 *
 * @returns The commands.
 *
 * @example
 * ```ts
 * import { shellCommands } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const names = shellCommands().map((c) => c.name);
 * assert.ok(names.includes("px") && names.includes("=") && names.includes("?"));
 * assert.ok(names.indexOf("pxw") < names.indexOf("px"));
 * ```
 */
export function shellCommands(): readonly CommandSpec<RemoteShell>[] {
  return COMMANDS;
}

/**
 * Find the command whose name is the longest prefix of `text`. A name that ends in a
 * letter or digit must not run into another letter (`pxw` is not `px` + `w`).
 *
 * @param text A command's text (see `ParsedCommand.command`).
 * @returns The command and its arguments (trimmed), or `undefined`.
 *
 * @example
 * ```ts
 * import { lookupCommand } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(lookupCommand("pxw 16")?.spec.name, "pxw");
 * assert.equal(lookupCommand("px16")?.args, "16");
 * assert.equal(lookupCommand("pxq"), undefined);
 * ```
 */
export function lookupCommand(
  text: string,
): { spec: CommandSpec<RemoteShell>; args: string } | undefined {
  for (const spec of COMMANDS) {
    if (!text.startsWith(spec.name)) continue;
    const next = text[spec.name.length] ?? "";
    if (/[A-Za-z0-9]$/.test(spec.name) && /[A-Za-z]/.test(next)) continue;
    return { spec, args: text.slice(spec.name.length).trim() };
  }
  return undefined;
}
