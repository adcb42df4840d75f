/**
 * Other commands: `?e` (echo), `?v` (evaluate), `?V` (version), `q` (quit), `!cmd` (host
 * shell), `:cmd` / `=!cmd` (the current file's plugin commands).
 *
 * @module
 */

import { VERSION } from "../../version.ts";
import type { CommandEnv, CommandSpec } from "../command.ts";
import { ExpressionError } from "../expr.ts";
import { currentFile } from "./_args.ts";

/**
 * Run a command of the current file's IO plugin (radare2's `r_io_system`) and print its
 * result with one trailing newline (nothing when it is blank). The plugin is told to stop
 * (a debugger's `dc` interrupts the process) when the command's signal aborts
 * (`--cmd-timeout`, a client gone) or the shell is interrupted (^C).
 *
 * @param env The command environment; `env.args` is the plugin command.
 */
export async function ioSystem(
  env: Pick<CommandEnv, "shell" | "name" | "args" | "out"> & { signal?: AbortSignal },
): Promise<void> {
  const { descriptor } = currentFile(env.shell);
  if (!descriptor.system) {
    throw new Error(`The "${descriptor.plugin}" plugin has no commands (=!cmd, :cmd)`);
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort(env.signal?.reason);
  env.signal?.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  env.shell.interrupted().then(() => {
    if (!finished) stop.abort(new Error("Interrupted"));
  });
  try {
    const result = await descriptor.system(env.args, { signal: stop.signal });
    if (result.trim() !== "") env.out.write(result.replace(/\n+$/, "") + "\n");
  } finally {
    finished = true;
    env.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * `?v` and `?vi`: print the value, even of an expression radare2 reports as invalid (it
 * prints the error, then the value it computed).
 */
async function printValue(env: CommandEnv, format: (n: bigint) => string): Promise<void> {
  let value: bigint;
  try {
    value = await env.shell.number(env.args);
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    env.out.message(`ERROR: ${error.message}`);
    value = error.value;
  }
  env.out.write(format(value) + "\n");
}

async function hostShell({ args, out }: CommandEnv): Promise<void> {
  if (args === "") throw new SyntaxError("Usage: !command");
  const shell = Deno.build.os === "windows" ? ["cmd", "/c"] : ["sh", "-c"];
  const output = await new Deno.Command(shell[0], {
    args: [shell[1], args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  out.write(output.stdout);
  if (output.stderr.length > 0) out.write(output.stderr);
}

/**
 * The other commands.
 *
 * @example
 * ```ts
 * import { MISC_COMMANDS } from "@rap/cli/shell";
 * console.assert(MISC_COMMANDS.some((c) => c.name === "?e"));
 * ```
 */
export const MISC_COMMANDS: readonly CommandSpec[] = [
  {
    name: "?e",
    usage: "text",
    help: "print text",
    unlocked: true,
    run: ({ args, out }) => out.write(args + "\n"),
  },
  {
    name: "?v",
    usage: "expr",
    help: "print the value of an expression in hex (64-bit, as radare2)",
    run: (env) => printValue(env, (n) => `0x${n.toString(16)}`),
  },
  {
    name: "?vi",
    usage: "expr",
    help: "print the value of an expression as a signed 64-bit decimal",
    run: (env) => printValue(env, (n) => String(BigInt.asIntN(64, n))),
  },
  {
    name: "?V",
    usage: "",
    help: "print the version",
    unlocked: true,
    run: ({ out }) => out.write(`${VERSION} rap (deno ${Deno.version.deno})\n`),
  },
  {
    name: "q",
    usage: "",
    help: "quit (does nothing for remote peers)",
    unlocked: true,
    run({ shell }) {
      if (!shell.activePeer) shell.quitRequested = true;
    },
  },
  {
    name: "!",
    usage: "cmd",
    help: "run cmd in the host's shell",
    capability: "system",
    unlocked: true,
    run: hostShell,
  },
  {
    name: ":",
    usage: "cmd",
    help: "run a command of the current file's plugin (same as =!cmd)",
    capability: "system",
    unlocked: true,
    run: ioSystem,
  },
];
