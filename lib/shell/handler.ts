/**
 * The shell as a RAP server's command handler, and as a client's reverse-CMD handler.
 *
 * @module
 */

import type { CommandHandler } from "../server.ts";
import type { IoSession } from "../io/session.ts";
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
