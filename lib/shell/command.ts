/**
 * The shell as its commands see it ({@linkcode CommandShell}), and the shape of a shell
 * command: its name, help, the capability it needs and what it does. Commands know the
 * shell only through this interface; `shell.ts` implements it and imports the commands.
 *
 * @module
 */

import type { IoSession } from "../io/session.ts";
import type { ExecuteOptions, ShellOptions } from "./options.ts";
import type { CommandCapability, CommandPolicy } from "./policy.ts";
import type { ShellOutput } from "./output.ts";

/**
 * What commands use of the shell running them (the `Shell` class implements it).
 *
 * @example
 * ```ts
 * import { type CommandShell, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * const seen: CommandShell = shell;
 * assert.equal(await seen.number("0x10+$$"), 16n);
 * ```
 */
export interface CommandShell {
  /** The session: open files, current file, seek, block size. */
  readonly session: IoSession;
  /** The seek the shell shows (its own one with `ownSeek`). */
  readonly seek: bigint;
  /** Options given at construction. */
  readonly options: Readonly<ShellOptions>;
  /** Whether files are opened writable by default. */
  writable: boolean;
  /** Set by `q`: the interactive loop should end. */
  quitRequested: boolean;
  /** The policy of the command running now (the call's, else the shell's). */
  readonly activePolicy: CommandPolicy;
  /** Whether the command running now comes from a remote peer. */
  readonly activePeer: boolean;
  /**
   * Evaluate an address or size expression as radare2 does, in 64-bit unsigned arithmetic
   * that wraps (`-1` is `0xffffffffffffffff`), with `$$` (seek), `$s` (size of the current
   * file) and `$b` (block size).
   *
   * @param expression The expression.
   * @returns Its value, modulo 2^64.
   */
  number(expression: string): Promise<bigint>;
  /**
   * Ask the interactive user for a line (for `==`).
   *
   * @param prompt The prompt.
   * @returns The line, or `null` at the end of input or without a terminal.
   */
  readLine(prompt: string): Promise<string | null>;
  /**
   * A promise that resolves when the running foreground command is interrupted (^C).
   *
   * @returns The promise.
   */
  interrupted(): Promise<void>;
  /**
   * Run one line, its output and messages going to `out`.
   *
   * @param line The line.
   * @param out Where output goes.
   * @param options See {@linkcode ExecuteOptions}.
   */
  execute(line: string, out: ShellOutput, options?: ExecuteOptions): Promise<void>;
  /**
   * Run one line and return what it printed, messages included.
   *
   * @param line The line.
   * @param options See {@linkcode ExecuteOptions}.
   * @returns The output text.
   */
  run(line: string, options?: ExecuteOptions): Promise<string>;
}

/**
 * What a running command gets.
 *
 * @typeParam S What the command sees of the shell (the `=` family sees its remote state too).
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
export interface CommandEnv<S extends CommandShell = CommandShell> {
  /** The shell running the command. */
  shell: S;
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
 * @typeParam S What the command sees of the shell.
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
export interface CommandSpec<S extends CommandShell = CommandShell> {
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
  run(env: CommandEnv<S>): Promise<void> | void;
}
