/**
 * The shape of a shell command: its name, help, the capability it needs and what it does.
 *
 * @module
 */

import type { CommandCapability } from "./policy.ts";
import type { ShellOutput } from "./output.ts";
import type { Shell } from "./shell.ts";

/**
 * What a running command gets.
 *
 * @example
 * ```ts
 * import type { CommandEnv } from "@rap/cli/shell";
 * const echo = async (env: CommandEnv) => {
 *   await env.pace();
 *   env.out.write(env.args + "\n");
 * };
 * console.assert(typeof echo === "function");
 * ```
 */
export interface CommandEnv {
  /** The shell running the command. */
  shell: Shell;
  /** The command name as matched (e.g. `px`). */
  name: string;
  /** Everything after the name, trimmed. */
  args: string;
  /** Where the command writes (it may be full: writing then throws and ends the command). */
  out: ShellOutput;
  /** Stops the command (`--cmd-timeout`, a client gone): checked by {@linkcode CommandEnv.pace}. */
  signal: AbortSignal;
  /**
   * Call between pieces of a long command (rows, blocks, iterations): throws once `signal`
   * is aborted, and lets the event loop run after each slice of CPU time.
   */
  pace(): Promise<void>;
}

/**
 * A shell command.
 *
 * @example
 * ```ts
 * import type { CommandSpec } from "@rap/cli/shell";
 * const hello: CommandSpec = {
 *   name: "hello", usage: "", help: "say hello",
 *   run: ({ out }) => out.write("hello\n"),
 * };
 * console.assert(hello.name === "hello");
 * ```
 */
export interface CommandSpec {
  /** The name, matched as a prefix of the command text (the longest name wins). */
  name: string;
  /** The arguments, for help (e.g. `[addr]`). */
  usage: string;
  /** One line of help. */
  help: string;
  /** The capability needed, if any (a function may decide from the arguments). */
  capability?: CommandCapability | ((args: string) => CommandCapability | undefined);
  /**
   * Run without the session lock (commands that do not use the session's seek or files,
   * or that call back into the shell, like the `=` family).
   */
  unlocked?: boolean;
  /**
   * Run the command.
   *
   * @param env See {@linkcode CommandEnv}.
   */
  run(env: CommandEnv): Promise<void> | void;
}
