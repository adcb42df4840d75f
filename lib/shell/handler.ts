/**
 * The shell as a RAP server's command handler and as the HTTP endpoint's command runner:
 * the handlers of `peer.ts` over the `Shell` class. (A client's reverse-CMD handler,
 * `createReverseCommandHandler`, needs no new shell and lives in `peer.ts`.)
 *
 * @module
 */

import type { CommandHandler } from "../server/server.ts";
import type { CommandRunner } from "../http/endpoint.ts";
import {
  type HttpCommandRunnerOptions,
  httpCommandRunnerWith,
  type ShellCommandHandlerOptions,
  shellCommandHandlerWith,
  type ShellFactory,
} from "./peer.ts";
import { Shell } from "./shell.ts";

const newShell: ShellFactory = (options) => new Shell(options);

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
  return shellCommandHandlerWith(newShell, options);
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
  return httpCommandRunnerWith(newShell, options);
}
