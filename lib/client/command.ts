/**
 * A CMD of a {@linkcode RapClient}: checked against RAP's length limit, then sent alone on
 * the wire (no other request follows it before its reply was handled).
 *
 * @module
 */

import { RAP_CMD_MAX } from "../protocol/constants.ts";
import type { RapTransport } from "./transport.ts";

/**
 * Send a CMD alone on the wire; `onReply` runs before any other request may follow it.
 * With `timeout`, stop waiting after that long (the reply, if it comes, is still matched
 * to this CMD).
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { sendCommand } from "./command.ts";
 * import { RapTransport } from "./transport.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const transport = new RapTransport(conn, { peer: `127.0.0.1:${server.addr.port}` });
 * let output: string | null = null;
 * await sendCommand(transport, "# a comment", (text) => output = text);
 * assert.equal(typeof output, "string");
 * await assert.rejects(sendCommand(transport, "x".repeat(5000), () => {}), RangeError);
 * await transport.close();
 * ```
 *
 * @param transport The connection.
 * @param command The command (at most 4094 bytes with RAP's limit).
 * @param onReply Gets the output (`null` when the server sent none).
 * @param timeout Milliseconds to wait for the reply (default: the transport's).
 * @returns When the reply was handled.
 * @throws {RangeError} If the command is too long for a RAP server.
 */
export async function sendCommand(
  transport: RapTransport,
  command: string,
  onReply: (output: string | null) => void,
  timeout?: number,
): Promise<void> {
  const size = new TextEncoder().encode(command).length + 1;
  if (size > RAP_CMD_MAX) {
    throw new RangeError(
      `Command is ${size} bytes with its NUL; a RAP server takes at most ${RAP_CMD_MAX}`,
    );
  }
  await transport.sendAlone(
    { type: "cmd", command },
    "cmd_reply",
    (reply) => onReply(reply.output),
    timeout,
  );
}
