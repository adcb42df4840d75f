/**
 * The `shell` subcommand: `rap shell [URI] [-w] [-q] [-c "cmds"] [-i script]`, radare2's
 * command line with its `=` remote commands. Short flags combine (`-qc "px 16"`). On a
 * terminal it shows the `[0x00000000]> ` prompt with line editing and history; with piped
 * input it reads plain lines, without a prompt.
 *
 * @module
 */

import { IoError } from "../io/errors.ts";
import { installedPluginTable } from "../io/registry.ts";
import { IoSession } from "../io/session.ts";
import { LineEditor } from "../shell/line_editor.ts";
import { LineReader } from "../shell/line_reader.ts";
import type { ShellOutput } from "../shell/output.ts";
import { parseCommandPolicy } from "../shell/policy.ts";
import { type CliPlugins, registryWith, useClientCredentials } from "./registry.ts";
import { StdoutClosed, writeStdout } from "./stdout.ts";
import { errorLine, UsageError, usageLine } from "./usage.ts";

/**
 * Usage of the `shell` subcommand.
 *
 * @example
 * ```ts
 * import { SHELL_USAGE } from "@rap/cli/commands";
 * console.assert(SHELL_USAGE.startsWith("Usage: rap shell"));
 * ```
 */
export const SHELL_USAGE = `Usage: rap shell [URI] [options]

An r2-style command shell over any URI, with radare2's = remote commands
(type ? or =? inside).

Options:
  -w                 open URI (and later files) writable
  -c CMDS            run commands (repeatable; "px 16;p8 4")
  -i FILE            run the commands in FILE (repeatable)
  -q                 quit after -c / -i instead of reading more commands
  --allow-cmd CAPS   what peers of servers started here (=:port, =h ...) may run:
                     open, fs, remote, system, all (default: only their own files)
  --host H           address those servers bind (default 127.0.0.1)
  --ca FILE          trust this CA (PEM) for raps:// (o raps://, =+ raps://), besides the
                     system's (repeatable)
  --token-file FILE  the token of servers started with --token-file (o rap://, =+ rap://,
                     =:host:port)
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)
  -h, --help         this help

Short flags combine: rap shell -qc "px 16" malloc://64
`;

/**
 * The streams of the shell command (injectable for tests).
 *
 * @example
 * ```ts
 * import type { ShellCliIo } from "@rap/cli/commands";
 * const io: Partial<ShellCliIo> = { isTerminal: false };
 * console.assert(io.isTerminal === false);
 * ```
 */
export interface ShellCliIo {
  /** Standard input. */
  stdin: ReadableStream<Uint8Array>;
  /** Raw key reads when `isTerminal` (default `Deno.stdin.read`). */
  readRaw?: (p: Uint8Array) => Promise<number | null>;
  /** Raw mode switch when `isTerminal`. */
  setRaw?: (raw: boolean) => void;
  /**
   * Write to standard output.
   *
   * @param bytes The bytes.
   */
  stdout(bytes: Uint8Array): Promise<void>;
  /**
   * Write to standard error.
   *
   * @param bytes The bytes.
   */
  stderr(bytes: Uint8Array): Promise<void>;
  /** Whether standard input is a terminal (prompt and line editing). */
  isTerminal: boolean;
  /** Install the interrupt (^C) handler while a command runs (default: SIGINT). */
  onInterrupt?: (handler: () => void) => () => void;
  /**
   * Install the termination handler while a command runs (default: SIGTERM): the command
   * stops as on ^C (a foreground `=h`, `=:port` closes its server) and the shell quits.
   */
  onTerminate?: (handler: () => void) => () => void;
}

interface ShellArgs {
  uri?: string;
  write: boolean;
  quit: boolean;
  commands: string[];
  scripts: string[];
  allowCmd: string[];
  plugins: string[];
  ca: string[];
  tokenFile?: string;
  host?: string;
  help: boolean;
}

/**
 * Parse the arguments of `shell`, getopt style: short flags combine, and a flag that takes
 * a value takes the rest of its cluster or the next argument (`-qc "px 16"`, `-cpx`).
 */
function parseShellArgs(args: string[]): ShellArgs {
  const out: ShellArgs = {
    write: false,
    quit: false,
    commands: [],
    scripts: [],
    allowCmd: [],
    plugins: [],
    ca: [],
    help: false,
  };
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (flag: string, inline?: string): string => {
      if (inline !== undefined && inline !== "") return inline;
      if (i + 1 >= args.length) throw new UsageError(`${flag} needs a value`);
      return args[++i];
    };
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const [name, inline] = arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
      if (name === "--help") out.help = true;
      else if (name === "--allow-cmd") out.allowCmd.push(value(name, inline));
      else if (name === "--host") out.host = value(name, inline);
      else if (name === "--plugin") out.plugins.push(value(name, inline));
      else if (name === "--ca") out.ca.push(value(name, inline));
      else if (name === "--token-file") out.tokenFile = value(name, inline);
      else if (name === "--write") out.write = true;
      else throw new UsageError(`unknown option "${name}"`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const flag = arg[j];
        const rest = arg.slice(j + 1);
        if (flag === "w") out.write = true;
        else if (flag === "q") out.quit = true;
        else if (flag === "h") out.help = true;
        else if (flag === "c") {
          out.commands.push(value("-c", rest));
          break;
        } else if (flag === "i") {
          out.scripts.push(value("-i", rest));
          break;
        } else throw new UsageError(`unknown option "-${flag}"`);
      }
      continue;
    }
    positionals.push(arg);
  }
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one URI, got ${positionals.length}`);
  }
  out.uri = positionals[0];
  return out;
}

const encoder = new TextEncoder();

function defaultIo(): ShellCliIo {
  // A reader that went away (rap shell -qc 'px 1M' F | head) ends the shell quietly. The
  // shell writes asynchronously: its =h& and =g& servers run while its output waits.
  const write = (file: { write(p: Uint8Array): Promise<number> }) => (bytes: Uint8Array) =>
    writeStdout(bytes, { write: (p) => file.write(p) });
  return {
    stdin: Deno.stdin.readable,
    readRaw: (p) => Deno.stdin.read(p),
    setRaw: (raw) => Deno.stdin.setRaw(raw),
    stdout: write(Deno.stdout),
    stderr: write(Deno.stderr),
    isTerminal: Deno.stdin.isTerminal(),
    onInterrupt: (handler) => onSignal("SIGINT", handler),
    onTerminate: (handler) => onSignal("SIGTERM", handler),
  };
}

/** Listen for a signal; returns what removes the listener (nothing, where there is none). */
function onSignal(signal: Deno.Signal, handler: () => void): () => void {
  try {
    Deno.addSignalListener(signal, handler);
  } catch {
    return () => {}; // no such signal here (SIGTERM on Windows)
  }
  return () => Deno.removeSignalListener(signal, handler);
}

/**
 * Run the `shell` subcommand.
 *
 * @param args The arguments after `shell`.
 * @param streams The streams (default: the process's).
 * @param plugins The plugins (default: the installed table).
 * @returns The exit code: 0, 1 when the URI or a script cannot be opened, 2 on a usage
 *   error.
 *
 * @example
 * ```ts
 * import { shellMain } from "@rap/cli/commands";
 * import { builtinPlugins } from "@rap/cli/plugins";
 * import assert from "node:assert/strict";
 *
 * const out: Uint8Array[] = [];
 * const code = await shellMain(["-qc", "p8 2", "hex://cafe"], {
 *   stdin: ReadableStream.from([]),
 *   stdout: (b) => { out.push(b); return Promise.resolve(); },
 *   stderr: () => Promise.resolve(),
 *   isTerminal: false,
 * }, { table: builtinPlugins });
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(out[0]), "cafe\n");
 * ```
 */
export async function shellMain(
  args: string[],
  streams?: ShellCliIo,
  plugins?: CliPlugins,
): Promise<number> {
  const io = streams ?? defaultIo();
  const printError = (line: string) => io.stderr(encoder.encode(line + "\n"));
  let options: ShellArgs;
  let peerPolicy;
  try {
    options = parseShellArgs(args);
    peerPolicy = parseCommandPolicy(options.allowCmd);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof SyntaxError)) throw error;
    await printError(usageLine("shell", error.message));
    return 2;
  }
  if (options.help) {
    await io.stdout(encoder.encode(SHELL_USAGE));
    return 0;
  }

  // Output is written in order: stdout and stderr writes are chained. When the reader of
  // stdout goes away, the command running stops and the shell ends quietly (exit 0).
  let chain = Promise.resolve();
  const closed = new AbortController();
  const out: ShellOutput = {
    write(data) {
      const bytes = typeof data === "string" ? encoder.encode(data) : data.slice();
      chain = chain.then(() => closed.signal.aborted ? undefined : io.stdout(bytes)).catch(
        (error) => {
          if (!(error instanceof StdoutClosed)) throw error;
          closed.abort(error);
        },
      );
    },
    message(line) {
      chain = chain.then(() => printError(line));
    },
  };

  let stdinLines: LineReader | undefined;
  let editor: LineEditor | undefined;
  const readLine = async (prompt: string): Promise<string | null> => {
    await chain;
    if (io.isTerminal && io.readRaw) {
      editor ??= new LineEditor({
        read: io.readRaw,
        write: (text) => void io.stdout(encoder.encode(text)).catch(() => closed.abort()),
        setRaw: io.setRaw ?? (() => {}),
      });
      return await editor.readLine(prompt);
    }
    stdinLines ??= new LineReader(io.stdin);
    return await stdinLines.readLine();
  };

  let registry;
  let credentials;
  try {
    const cliPlugins = plugins ?? { table: installedPluginTable() };
    registry = await registryWith(cliPlugins, options.plugins);
    // o rap:// and o raps:// use them through the registry, =+ and =:host:port directly.
    credentials = await useClientCredentials(registry, cliPlugins, options.ca, options.tokenFile);
  } catch (error) {
    await printError(errorLine("shell", (error as Error).message));
    return 1;
  }
  await using session = new IoSession({ registry });
  // Loaded here, not with the module: `rap cat` needs none of the shell.
  const { Shell } = await import("../shell/shell.ts");
  await using shell = new Shell({
    session,
    writable: options.write,
    readLine,
    peerPolicy,
    hostname: options.host,
    caCerts: credentials.caCerts,
    token: credentials.token,
    log: (line) => out.message(line),
  });
  const run = async (line: string) => {
    const removeInterrupt = io.onInterrupt?.(() => shell.interrupt()) ?? (() => {});
    const removeTerminate = io.onTerminate?.(() => {
      shell.quitRequested = true;
      shell.interrupt();
    }) ?? (() => {});
    try {
      await shell.execute(line, out, { signal: closed.signal });
    } finally {
      removeInterrupt();
      removeTerminate();
      await chain;
    }
  };

  try {
    if (options.uri !== undefined) {
      try {
        await shell.session.open(options.uri, { write: options.write });
      } catch (error) {
        if (!(error instanceof IoError)) throw error;
        await printError(errorLine("shell", error.message));
        return 1;
      }
    }
    for (const script of options.scripts) {
      let text: string;
      try {
        text = await Deno.readTextFile(script);
      } catch (error) {
        const reason = (error as Error).message;
        await printError(errorLine("shell", `Cannot read script "${script}": ${reason}`));
        return 1;
      }
      for (const line of text.split(/\r?\n/)) {
        if (shell.quitRequested || closed.signal.aborted) break;
        await run(line);
      }
    }
    for (const command of options.commands) {
      if (shell.quitRequested || closed.signal.aborted) break;
      await run(command);
    }
    if (options.quit) return 0;
    while (!shell.quitRequested && !closed.signal.aborted) {
      const line = await readLine(shell.prompt());
      if (line === null) break;
      await run(line);
    }
    return 0;
  } catch (error) {
    if (closed.signal.aborted) return 0;
    throw error;
  } finally {
    await stdinLines?.cancel();
    await chain;
  }
}
