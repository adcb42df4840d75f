/**
 * The request handlers of a connection, grouped by family (plain RAP, CMD, the
 * extensions) and dispatched from one table.
 *
 * @module
 */

import { encodePacket } from "../../protocol/encode.ts";
import type { RapPacket } from "../../protocol/packets.ts";
import type { ConnectionContext as Connection } from "../context.ts";
import { connectionGone, DropConnection, errorReply, ShuttingDown } from "../wire_errors.ts";
import { ConnectionLostError } from "../../io/errors.ts";
import { cmd } from "./command.ts";
import { readAt, size, writeAt } from "./extended.ts";
import { close, open, read, seek, write } from "./plain.ts";

type Handler<T extends RapPacket["type"]> = (
  c: Connection,
  packet: Extract<RapPacket, { type: T }>,
) => Promise<void>;

/** One handler per request; `extended` ones answer a failure with an error reply. */
const HANDLERS: {
  [T in RapPacket["type"]]?: { run: Handler<T>; extended?: true; writes?: true };
} = {
  open: { run: open },
  read: { run: read },
  write: { run: write, writes: true },
  seek: { run: seek },
  close: { run: close },
  cmd: { run: cmd, writes: true },
  read_at: { run: readAt, extended: true },
  write_at: { run: writeAt, extended: true, writes: true },
  size: { run: size, extended: true },
};

/** Failures of the connection itself, which no error reply answers. */
function endsConnection(error: unknown): boolean {
  return error instanceof DropConnection || error instanceof ShuttingDown ||
    error instanceof ConnectionLostError || connectionGone(error);
}

/**
 * Handle one request of an authenticated client.
 *
 * @param c The connection.
 * @param packet The request.
 */
export async function handle(c: Connection, packet: RapPacket): Promise<void> {
  const entry = HANDLERS[packet.type] as
    | { run: Handler<RapPacket["type"]>; extended?: true; writes?: true }
    | undefined;
  if (entry === undefined) throw new DropConnection(`unexpected "${packet.type}" packet`);
  // Queued views of in-memory files go out before anything may write to them.
  if (entry.writes) await c.settleViews();
  if (!entry.extended) return await entry.run(c, packet as never);
  try {
    await entry.run(c, packet as never);
  } catch (error) {
    if (endsConnection(error)) throw error;
    c.writer.write(encodePacket(errorReply(error)));
  }
}
