/**
 * CMD: the extension probe, and every other command run by the server's command handler
 * under `--cmd-timeout`, its reply cut to what radare2 clients accept.
 *
 * @module
 */

import { RAP_CMD_REPLY_MAX } from "../../protocol/constants.ts";
import { encodePacket } from "../../protocol/encode.ts";
import { parseProbe } from "../../protocol/extensions.ts";
import type { RapPacket } from "../../protocol/packets.ts";
import type { CommandContext } from "../command.ts";
import type { ConnectionContext as Connection } from "../context.ts";
import { negotiate } from "../handshake.ts";
import { DropConnection } from "../wire_errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STOP = Symbol("stop");

/**
 * Cut `text` so that it encodes to at most `max` UTF-8 bytes: the wire's own bound, for
 * handlers that ignore `CommandContext.maxOutput` (the shell's handler produces no more
 * than that, so this never cuts its output).
 */
function capOutput(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  return decoder.decode(bytes.subarray(0, max)).replace(/\uFFFD$/, "");
}

/** CMD: a probe is answered with the offer; any other command is run. */
export async function cmd(
  c: Connection,
  packet: Extract<RapPacket, { type: "cmd" }>,
): Promise<void> {
  const writer = c.writer;
  if (packet.command === null) {
    writer.write(encodePacket({ type: "cmd_reply", output: null }));
    return;
  }
  const probe = parseProbe(packet.command);
  if (probe !== undefined) {
    writer.write(encodePacket({ type: "cmd_reply", output: negotiate(c, probe.params) }));
    return;
  }
  await c.ensureDefault().catch(() => {});
  writer.uncork(); // a command may take a while: let earlier replies go
  const output = await runCommand(c, packet.command);
  writer.cork();
  writer.write(encodePacket({
    type: "cmd_reply",
    output: output === null
      ? null
      : capOutput(output, c.context.maxOutput ?? RAP_CMD_REPLY_MAX - 1),
  }));
}

/** Run a CMD under the command timeout: on expiry, one error line answers it. */
async function runCommand(c: Connection, command: string): Promise<string | null> {
  const handler = c.server.commandHandler;
  const limit = c.server.options.commandTimeout;
  if (limit <= 0) return await handler(command, c.context);
  // A command given up must not reach the client later: its reverse CMDs would
  // interleave with the next requests' replies. Its signal stops it.
  let abandoned = false;
  const stop = new AbortController();
  const context: CommandContext = {
    ...c.context,
    signal: stop.signal,
    reverseCommand: (text) =>
      abandoned
        ? Promise.reject(new Error(`The command timed out (--cmd-timeout)`))
        : c.context.reverseCommand(text),
  };
  const running = handler(command, context);
  running.catch(() => {}); // a late failure of an abandoned command
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<typeof STOP>((resolve) => {
    timer = setTimeout(() => resolve(STOP), limit);
  });
  try {
    const result = await Promise.race([running, expired]);
    if (result !== STOP) return result as string | null;
  } finally {
    clearTimeout(timer);
  }
  abandoned = true;
  stop.abort(new Error(`The command timed out after ${limit} ms (--cmd-timeout)`));
  if (c.reversing) {
    // Its reverse CMD still waits for the client: the stream cannot be kept in step.
    throw new DropConnection(
      `command timed out after ${limit} ms during a reverse CMD (--cmd-timeout)`,
    );
  }
  c.log(`command timed out after ${limit} ms (--cmd-timeout)`);
  return `Command timed out after ${limit} ms (--cmd-timeout)\n`;
}
