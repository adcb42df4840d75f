/**
 * The first words of a connection: the extension probe, answered with the offer (the
 * extensions are on from the next packet), and on a server with a token, the
 * authentication that must come first.
 *
 * @module
 */

import { EXT_OFFER, EXT_VERSION, RAP_PACKET_MAX } from "../protocol/constants.ts";
import { encodePacket } from "../protocol/encode.ts";
import { EXT_OPS, formatOffer, parseProbe } from "../protocol/extensions.ts";
import type { RapPacket } from "../protocol/packets.ts";
import type { ConnectionContext as Connection } from "./context.ts";
import { DropConnection, ShuttingDown } from "./wire_errors.ts";

/**
 * TLS: the handshake, within the packet deadline (with a token, together with the first
 * request that carries it).
 *
 * @param c The connection.
 * @param conn Its socket.
 */
export async function tlsHandshake(c: Connection, conn: Deno.Conn): Promise<void> {
  if (c.server.options.tls !== undefined || c.server.tokens !== undefined) c.startPacketTimer();
  if (c.server.options.tls === undefined) return;
  try {
    await c.wait(() => (conn as Deno.TlsConn).handshake());
  } catch (error) {
    if (error instanceof ShuttingDown || c.closeReason !== undefined) throw error;
    throw new DropConnection(
      `TLS handshake failed: ${(error as Error).message}` +
        (/corrupt message|InvalidContentType/i.test((error as Error).message)
          ? " (a plain rap:// client?)"
          : ""),
    );
  }
  if (c.server.tokens === undefined) c.endPacketTimer();
}

/** Why an unauthenticated request closes the connection (the log line). */
export function unauthenticated(): string {
  return "refused: the first request is not an extension probe with a token (--token-file); " +
    "plain radare2 clients cannot authenticate";
}

/**
 * Answer a probe: the offer (empty when the server offers no extensions, as radare2
 * answers a comment), and the extensions are on from the next packet.
 *
 * @param c The connection.
 * @param params The probe's parameters (`maxdata` ...).
 * @returns The reply's text.
 */
export function negotiate(c: Connection, params: Record<string, string>): string {
  const offered = c.server.options.maxExtData;
  if (offered === undefined) return "";
  const asked = Number(params.maxdata);
  const maxData = Number.isInteger(asked) && asked >= RAP_PACKET_MAX
    ? Math.min(asked, offered)
    : offered;
  if (c.ext === undefined) {
    c.reader.decoder.enableExtensions(maxData);
    c.ext = maxData;
    c.log(`extensions on (maxdata ${maxData})`);
  }
  return formatOffer({
    version: EXT_VERSION,
    maxData: c.ext,
    ops: [...EXT_OPS],
    params: c.server.tokens === undefined ? {} : { auth: "ok" },
  });
}

/**
 * The first request on a server with a token: an extension probe carrying the right
 * token lets the client in (and is answered like any probe); anything else closes the
 * connection. The token is never logged.
 *
 * @param c The connection.
 * @param packet Its first request.
 */
export async function authenticate(c: Connection, packet: RapPacket): Promise<void> {
  const probe = packet.type === "cmd" && packet.command !== null
    ? parseProbe(packet.command)
    : undefined;
  if (probe === undefined) throw new DropConnection(unauthenticated());
  const presented = probe.params.token;
  if (!await c.server.tokens!.verify(presented)) {
    const auth = presented === undefined ? "required" : "denied";
    c.writer.write(
      encodePacket({ type: "cmd_reply", output: `${EXT_OFFER} ${EXT_VERSION} auth=${auth}\n` }),
    );
    await c.writer.flush().catch(() => {});
    throw new DropConnection(
      presented === undefined
        ? "refused: no token in the probe (--token-file)"
        : "refused: wrong token (--token-file)",
    );
  }
  c.authenticated = true;
  c.proven();
  c.log("authenticated");
  c.writer.write(encodePacket({ type: "cmd_reply", output: negotiate(c, probe.params) }));
}
