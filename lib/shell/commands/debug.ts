/**
 * radare2's debugger commands (`dr`, `ds`, `dso`, `dc`, `db`, `db-`, `dm`, `dp`, `dk`) as
 * shell commands: each runs as the current file's plugin command (`:dr` and `dr` are the
 * same), so they work on `dbg://` and `gdb://` files, and a radare2 client's `:dr` (which
 * arrives as the CMD `dr`) reaches the server's debugger. `db` takes an expression.
 *
 * @module
 */

import type { CommandEnv, CommandSpec } from "../command.ts";
import { ioSystem } from "./misc.ts";

/** The commands and their help. */
const DEBUG: readonly [name: string, usage: string, help: string][] = [
  ["dr", "[name[=value]]", "registers of the debugged process (dr rip: one)"],
  ["drj", "", "registers as JSON"],
  ["ds", "[n]", "step n instructions"],
  ["dso", "[n]", "step over calls"],
  ["dc", "", "continue until a breakpoint, a signal or the end"],
  ["db", "[addr]", "list breakpoints / add one at addr"],
  ["db-", "addr|*", "remove a breakpoint / all"],
  ["dm", "", "memory maps of the debugged process"],
  ["dp", "", "the debugged process"],
  ["dk", "", "kill the debugged process"],
];

/** Forward `name args` to the plugin; `db` and `db-` evaluate their address first. */
async function debugCommand(env: CommandEnv): Promise<void> {
  let args = env.args;
  if ((env.name === "db" || env.name === "db-") && args !== "" && args !== "*") {
    args = `0x${(await env.shell.number(args)).toString(16)}`;
  }
  const command = env.name === "db-"
    ? `db-${args}`
    : args === ""
    ? env.name
    : `${env.name} ${args}`;
  await ioSystem({ ...env, args: command });
}

/**
 * The debugger commands: the current file's plugin commands of the same names, needing
 * the `system` capability as `:cmd` does.
 *
 * @example
 * ```ts
 * import { DEBUG_COMMANDS } from "@rap/cli/shell";
 * console.assert(DEBUG_COMMANDS.every((c) => c.capability === "system"));
 * ```
 */
export const DEBUG_COMMANDS: readonly CommandSpec[] = DEBUG.map(([name, usage, help]) => ({
  name,
  usage,
  help,
  capability: "system",
  unlocked: true,
  run: debugCommand,
}));
