/**
 * The shell as a RAP server's command handler, as the HTTP endpoint's command runner, and
 * as a client's reverse-CMD handler.
 *
 * @module
 */

import type { CommandHandler } from "../server/server.ts";
import type { CommandRunner } from "../http/endpoint.ts";
import { IoSession } from "../io/session.ts";
import { OutputBuffer, OutputLimitError } from "./output.ts";
import { CommandPolicy } from "./policy.ts";
import { Shell } from "./shell.ts";

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
 * Options of {@linkcode createShellCommandHandler}.
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
 * A `CommandHandler` for `RapServer` that runs each CMD in a shell bound to the client's
 * own session, under a command policy. Refused and failing commands answer one
 * `ERROR: ...` line; output longer than the server's limit (`CommandContext.maxOutput`:
 * what radare2 clients accept) is cut with a note while it is produced, and the command is
 * stopped there. The context's `signal` (`--cmd-timeout`) stops a running command.
 *
 * @param options See {@linkcode ShellCommandHandlerOptions}.
 * @returns The handler.
 *
 * @example
 * ```ts
 * import { createShellCommandHandler } from "@rap/cli/shell";
 * import { RapClient, RapServer } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({
 *   port: 0, log: () => {}, commandHandler: createShellCommandHandler(),
 * });
 * await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * await client.open("hex://41424344");
 * assert.equal(await client.cmd("p8 2 @ 2"), "4344\n");
 * assert.match(await client.cmd("wtf /tmp/x"), /^ERROR: .*not allowed/);
 * ```
 */
export function createShellCommandHandler(
  options: ShellCommandHandlerOptions = {},
): CommandHandler {
  const shells = new WeakMap<IoSession, Shell>();
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  const own = options.maxOutput ?? Infinity;
  return async (command, context) => {
    let shell = shells.get(context.session);
    if (!shell) {
      shell = new Shell({
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
 * Options of {@linkcode createHttpCommandRunner}.
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
  /** Open files writable (as a RAP server that is not `--read-only`; default false). */
  writable?: boolean;
}

/**
 * A command runner for the HTTP endpoint (`lib/http/`) built on one shell: every request
 * shares it, as radare2's `=h` shares its core, with a seek and block size of its own
 * (apart from a console's on the same session), under a command policy. The output is
 * the bytes the command printed, messages (`ERROR: ...`) included.
 *
 * @param options See {@linkcode HttpCommandRunnerOptions}.
 * @returns The runner, and `close()` to close the shell (and a session it made).
 *
 * @example
 * ```ts
 * import { createHttpCommandRunner } from "@rap/cli/shell";
 * import { IoSession } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * await session.open("hex://cafe");
 * const runner = createHttpCommandRunner({ session });
 * const request = {
 *   peer: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 }, method: "GET",
 *   secure: false, signal: new AbortController().signal, maxOutput: 1 << 20,
 * };
 * const text = async (command: string) =>
 *   new TextDecoder().decode(await runner.run(command, request) as Uint8Array);
 * assert.equal(await text("p8 2"), "cafe\n");
 * assert.match(await text("!id"), /not allowed/);
 * await runner.close();
 * ```
 */
export function createHttpCommandRunner(
  options: HttpCommandRunnerOptions = {},
): { run: CommandRunner; close(): Promise<void> } {
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  let shell: Promise<Shell> | undefined;
  let owned: IoSession | undefined;
  const getShell = () =>
    shell ??= (async () => {
      let session = options.session;
      if (!session) {
        session = owned = options.sessionFactory ? await options.sessionFactory() : new IoSession();
      }
      return new Shell({
        session,
        policy,
        peer: true,
        ownSeek: true,
        writable: options.writable ?? false,
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
  shell: Shell,
  policy: CommandPolicy = CommandPolicy.RESTRICTED,
): (command: string) => Promise<string> {
  return (command) => shell.run(command, { policy, peer: true, maxOutput: RAP_CMD_OUTPUT_MAX });
}
