/**
 * How a shell answers remote peers: a RAP server's CMD handler, the HTTP endpoint's
 * command runner and a RAP client's reverse-CMD handler, over a {@linkcode ShellFactory}.
 * `handler.ts` gives them the `Shell` class (`createShellCommandHandler`,
 * `createHttpCommandRunner`); the servers a shell starts (`=:port`, `=h`) give them the
 * factory their shell was made with, so nothing here imports the shell.
 *
 * @module
 */

import type { CommandHandler } from "../server/server.ts";
import type { CommandRunner } from "../http/endpoint.ts";
import { IoSession } from "../io/session.ts";
import type { CommandShell } from "./command.ts";
import type { ShellOptions } from "./options.ts";
import { OutputBuffer, OutputLimitError } from "./output.ts";
import { CommandPolicy } from "./policy.ts";

/**
 * The largest CMD output a radare2 client accepts (its limit is 16384 bytes with the NUL).
 *
 * @example
 * ```ts
 * import { RAP_CMD_OUTPUT_MAX } from "@rap/cli/shell";
 * console.assert(RAP_CMD_OUTPUT_MAX === 16383);
 * ```
 */
export const RAP_CMD_OUTPUT_MAX = 16383;

/**
 * Cut output to at most `max` UTF-8 bytes, ending with a note line that says so (for text
 * made whole; the shell cuts its output while it is produced, see `ExecuteOptions.maxOutput`).
 *
 * @param text The output.
 * @param max The most bytes.
 * @returns The output, or its beginning and the note.
 *
 * @example
 * ```ts
 * import { truncateOutput } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const cut = truncateOutput("x".repeat(20000), 16383);
 * assert.ok(new TextEncoder().encode(cut).length <= 16383);
 * assert.match(cut, /truncated/);
 * assert.equal(truncateOutput("short\n", 16383), "short\n");
 * ```
 */
export function truncateOutput(text: string, max: number = RAP_CMD_OUTPUT_MAX): string {
  const out = new OutputBuffer(undefined, { limit: max });
  try {
    out.write(text);
  } catch (error) {
    if (!(error instanceof OutputLimitError)) throw error;
    return out.text();
  }
  return text;
}

/**
 * A shell that peers' commands run in, as far as the handlers here use it.
 *
 * @example
 * ```ts
 * import { type PeerShell, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * const peer: PeerShell = shell;
 * assert.equal(await peer.run("?e hi"), "hi\n");
 * ```
 */
export interface PeerShell extends Pick<CommandShell, "run" | "execute"> {
  /** Close the shell (and its session when it made it). */
  close(): Promise<void>;
}

/**
 * Makes the shells of {@linkcode shellCommandHandlerWith} and
 * {@linkcode httpCommandRunnerWith} (the `Shell` class: `(options) => new Shell(options)`).
 *
 * @example
 * ```ts
 * import { Shell, type ShellFactory } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const spawn: ShellFactory = (options) => new Shell(options);
 * const shell = spawn({ peer: true });
 * assert.equal(await shell.run("q; ?e still here"), "still here\n");
 * await shell.close();
 * ```
 */
export type ShellFactory = (options: ShellOptions) => PeerShell;

/**
 * Options of `createShellCommandHandler` and {@linkcode shellCommandHandlerWith}.
 *
 * @example
 * ```ts
 * import { CommandPolicy, type ShellCommandHandlerOptions } from "@rap/cli/shell";
 * const options: ShellCommandHandlerOptions = { policy: CommandPolicy.RESTRICTED };
 * console.assert(options.maxOutput === undefined);
 * ```
 */
export interface ShellCommandHandlerOptions {
  /** What clients may run (default {@linkcode CommandPolicy.RESTRICTED}). */
  policy?: CommandPolicy;
  /**
   * Longest output sent back, in bytes: the server's limit (`CommandContext.maxOutput`,
   * 16383 for RAP, what radare2 clients accept) or this one if it is smaller. Output is cut
   * while the command produces it.
   */
  maxOutput?: number;
}

/**
 * A `CommandHandler` for `RapServer` that runs each CMD in a shell (made by `spawn`) bound
 * to the client's own session; see `createShellCommandHandler`, which is this with the
 * `Shell` class.
 *
 * @param spawn Makes the shell of each client session.
 * @param options See {@linkcode ShellCommandHandlerOptions}.
 * @returns The handler.
 *
 * @example
 * ```ts
 * import { Shell, shellCommandHandlerWith } from "@rap/cli/shell";
 * import type { CommandContext } from "@rap/cli";
 * import { IoSession } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const handler = shellCommandHandlerWith((options) => new Shell(options));
 * await using session = new IoSession();
 * await session.open("hex://4142");
 * const context: CommandContext = {
 *   session, readOnly: true, reverseCommand: () => Promise.resolve(null),
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
 * };
 * assert.equal(await handler("p8 2", context), "4142\n");
 * assert.match((await handler("!id", context))!, /not allowed/);
 * ```
 */
export function shellCommandHandlerWith(
  spawn: ShellFactory,
  options: ShellCommandHandlerOptions = {},
): CommandHandler {
  const shells = new WeakMap<IoSession, PeerShell>();
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  const own = options.maxOutput ?? Infinity;
  return async (command, context) => {
    let shell = shells.get(context.session);
    if (!shell) {
      shell = spawn({
        session: context.session,
        policy,
        peer: true,
        writable: !context.readOnly,
        log: () => {},
      });
      shells.set(context.session, shell);
    }
    const maxOutput = Math.min(own, context.maxOutput ?? RAP_CMD_OUTPUT_MAX);
    return await shell.run(command, { maxOutput, signal: context.signal });
  };
}

/**
 * Options of `createHttpCommandRunner` and {@linkcode httpCommandRunnerWith}.
 *
 * @example
 * ```ts
 * import type { HttpCommandRunnerOptions } from "@rap/cli/shell";
 * const options: HttpCommandRunnerOptions = { writable: false };
 * console.assert(options.writable === false);
 * ```
 */
export interface HttpCommandRunnerOptions {
  /** The session commands run on (not closed by the runner). */
  session?: IoSession;
  /**
   * Makes the session at the first command, when no `session` is given (closed with the
   * runner). Without either, an empty session is used.
   */
  sessionFactory?: () => Promise<IoSession>;
  /** What requests may run (default {@linkcode CommandPolicy.RESTRICTED}). */
  policy?: CommandPolicy;
  /** Open files writable (as a RAP server started with `-w`; default false). */
  writable?: boolean;
  /** The endpoint the runner serves, stopped by an `=h-` it runs (`ShellOptions.endpoint`). */
  endpoint?: { stop(): void };
}

/**
 * A command runner for the HTTP endpoint (`lib/http/`) on one shell made by `spawn`; see
 * `createHttpCommandRunner`, which is this with the `Shell` class.
 *
 * @param spawn Makes the shell, at the first request.
 * @param options See {@linkcode HttpCommandRunnerOptions}.
 * @returns The runner, and `close()` to close the shell (and a session it made).
 *
 * @example
 * ```ts
 * import { httpCommandRunnerWith, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const runner = httpCommandRunnerWith((options) => new Shell(options));
 * const request = {
 *   peer: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 }, method: "GET",
 *   secure: false, signal: new AbortController().signal, maxOutput: 1 << 20,
 * };
 * const bytes = await runner.run("?e hi", request) as Uint8Array;
 * assert.equal(new TextDecoder().decode(bytes), "hi\n");
 * await runner.close();
 * ```
 */
export function httpCommandRunnerWith(
  spawn: ShellFactory,
  options: HttpCommandRunnerOptions = {},
): { run: CommandRunner; close(): Promise<void> } {
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  let shell: Promise<PeerShell> | undefined;
  let owned: IoSession | undefined;
  const getShell = () =>
    shell ??= (async () => {
      let session = options.session;
      if (!session) {
        session = owned = options.sessionFactory ? await options.sessionFactory() : new IoSession();
      }
      return spawn({
        session,
        policy,
        peer: true,
        ownSeek: true,
        writable: options.writable ?? false,
        endpoint: options.endpoint,
        log: () => {},
      });
    })();
  return {
    async run(command, request) {
      // Cut while produced at the endpoint's limit; the request's signal (its deadline, or
      // the client gone) stops the command.
      const out = new OutputBuffer(undefined, { limit: request.maxOutput });
      await (await getShell()).execute(command, out, {
        policy,
        peer: true,
        signal: request.signal,
      });
      return out.bytes();
    },
    async close() {
      if (shell) await (await shell).close();
      await owned?.closeAll();
    },
  };
}

/**
 * The `onReverseCommand` callback of a `RapClient`: runs a server's reverse CMD in the
 * local shell, under a policy (default {@linkcode CommandPolicy.RESTRICTED}: the server
 * may read and write the shell's files, nothing more), its output cut at
 * {@linkcode RAP_CMD_OUTPUT_MAX} bytes while it is produced.
 *
 * @param shell The local shell.
 * @param policy What the server may run.
 * @returns The callback.
 *
 * @example
 * ```ts
 * import { createReverseCommandHandler, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * const onReverseCommand = createReverseCommandHandler(shell);
 * assert.equal(await onReverseCommand("?e hi"), "hi\n");
 * assert.match(await onReverseCommand("!id"), /not allowed/);
 * ```
 */
export function createReverseCommandHandler(
  shell: Pick<CommandShell, "run">,
  policy: CommandPolicy = CommandPolicy.RESTRICTED,
): (command: string) => Promise<string> {
  return (command) => shell.run(command, { policy, peer: true, maxOutput: RAP_CMD_OUTPUT_MAX });
}
