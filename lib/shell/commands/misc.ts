/**
 * Other commands: `?e` (echo), `?v` (evaluate), `?V` (version), `q` (quit), `!cmd` (host
 * shell), `:cmd` / `=!cmd` (the current file's plugin commands).
 *
 * @module
 */

import { VERSION } from "../../version.ts";
import type { CommandEnv, CommandSpec } from "../command.ts";
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
    help: "print the value of an expression in hex",
    async run({ shell, args, out }) {
      out.write(`0x${(await shell.number(args)).toString(16)}\n`);
    },
  },
  {
    name: "?vi",
    usage: "expr",
    help: "print the value of an expression in decimal",
    async run({ shell, args, out }) {
      out.write(`${await shell.number(args)}\n`);
    },
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
