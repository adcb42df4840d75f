/**
 * The shell as a RAP server's command handler, and as a client's reverse-CMD handler.
 *
 * @module
 */

import type { CommandHandler } from "../server.ts";
import type { IoSession } from "../io/session.ts";
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Cut output to at most `max` UTF-8 bytes, ending with a note line that says so.
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
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  const note = `\n[output truncated: ${bytes.length} bytes, ` +
    `radare2 clients take at most ${max}; use @ and a smaller size]\n`;
  let cut = Math.max(0, max - encoder.encode(note).length);
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--; // stay on a character boundary
  return decoder.decode(bytes.subarray(0, cut)) + note;
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
  /** Longest output sent back, in bytes (default 16383, what radare2 clients accept). */
  maxOutput?: number;
}

/**
 * A `CommandHandler` for `RapServer` that runs each CMD in a shell bound to the client's
 * own session, under a command policy. Refused and failing commands answer one
 * `ERROR: ...` line; output longer than radare2 clients accept is cut with a note.
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
  const max = options.maxOutput ?? RAP_CMD_OUTPUT_MAX;
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
    return truncateOutput(await shell.run(command), max);
  };
}

/**
 * The `onReverseCommand` callback of a `RapClient`: runs a server's reverse CMD in the
 * local shell, under a policy (default {@linkcode CommandPolicy.RESTRICTED}: the server
 * may read and write the shell's files, nothing more).
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
  return (command) => shell.run(command, { policy, peer: true });
}
