/**
 * The requests of radare2's own RAP: OPEN, READ, WRITE, SEEK and CLOSE on the session's
 * current file and seek, answered as radare2 clients expect (a failed OPEN closes the
 * connection, READ is padded with 0xff, a failed WRITE answers 0 ...). Once the client
 * negotiated the extensions, failures get error replies instead.
 *
 * @module
 */

import { ReadOnlyError } from "../../io/errors.ts";
import {
  CURRENT_FD,
  Opcode,
  RAP_PACKET_MAX,
  REPLY_FLAG,
  UT64_MAX,
  Whence,
} from "../../protocol/constants.ts";
import { encodePacket } from "../../protocol/encode.ts";
import type { RapPacket } from "../../protocol/packets.ts";
import { memoryView } from "../../io/memory_descriptor.ts";
import type { ConnectionContext as Connection } from "../context.ts";
import { DropConnection, errorReply } from "../wire_errors.ts";
import { reply32, reply64, sync } from "./_replies.ts";

const OPEN_REPLY = Opcode.OPEN | REPLY_FLAG;
const READ_REPLY = Opcode.READ | REPLY_FLAG;
const WRITE_REPLY = Opcode.WRITE | REPLY_FLAG;
const SEEK_REPLY = Opcode.SEEK | REPLY_FLAG;
const CLOSE_REPLY = Opcode.CLOSE | REPLY_FLAG;
const U64 = (1n << 64n) - 1n;

type Packet<T extends RapPacket["type"]> = Extract<RapPacket, { type: T }>;

/**
 * Accept the `rap://host:port//gzip:///x.gz` form: a name that is a URI behind one slash
 * is opened as that URI.
 */
function openTarget(name: string): string {
  return /^\/[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(name) ? name.slice(1) : name;
}

/**
 * A plain request the IO layer failed: logged, then answered with an error reply once
 * the extensions are on, else with `plain()` (radare2's answer, which has no room for a
 * reason).
 */
function failed(c: Connection, what: string, error: unknown, plain: () => void): void {
  c.log(`${what} failed: ${(error as Error).message}`);
  if (c.ext === undefined) return plain();
  c.writer.write(encodePacket(errorReply(error)));
}

/** OPEN: the new file becomes current, at seek 0. */
export async function open(c: Connection, packet: Packet<"open">): Promise<void> {
  let fd: number;
  try {
    if (packet.name === "") throw new DropConnection("OPEN with an empty name");
    fd = await c.session.open(openTarget(packet.name), { write: (packet.flags & 2) !== 0 });
  } catch (error) {
    // radare2 clients only notice a failed OPEN when the connection closes; a client that
    // negotiated the extensions gets an error reply instead.
    if (c.ext === undefined) {
      if (error instanceof DropConnection) throw error;
      throw new DropConnection(`OPEN failed: ${(error as Error).message}`);
    }
    c.log(`OPEN failed: ${(error as Error).message}`);
    c.writer.write(encodePacket(errorReply(error, true)));
    return;
  }
  c.session.seek = 0n;
  reply32(c.writer, OPEN_REPLY, fd);
}

/** READ at the seek: exactly the length asked (at most 4096), padded with 0xff. */
export async function read(c: Connection, packet: Packet<"read">): Promise<void> {
  if (packet.length >= 0x80000000) throw new DropConnection(`invalid READ length ${packet.length}`);
  const { session, writer } = c;
  const length = Math.min(packet.length, RAP_PACKET_MAX);
  if (session.current === undefined) await c.ensureDefault();
  const view = session.current === undefined
    ? undefined
    : memoryView(session.descriptor(CURRENT_FD), session.seek, length);
  if (view !== undefined && view.length === length) {
    // Copied into the reply batch at once: no copy of our own, no allocation.
    reply32(writer, READ_REPLY, length);
    writer.write(view);
    return;
  }
  let data: Uint8Array;
  try {
    data = await session.readAt(session.seek, length);
  } catch (error) {
    c.server.log(
      `[rap] read at 0x${session.seek.toString(16)} failed: ${(error as Error).message}`,
    );
    data = new Uint8Array(length).fill(0xff);
  }
  reply32(writer, READ_REPLY, data.length);
  writer.write(data);
}

/** WRITE at the seek: the byte count written, 0 when it failed. */
export async function write(c: Connection, packet: Packet<"write">): Promise<void> {
  const { session, writer } = c;
  if (session.current === undefined) await c.ensureDefault();
  let written = 0;
  if (packet.data.length > 0) {
    try {
      written = await session.writeAt(session.seek, packet.data);
    } catch (error) {
      // A read-only server answers 0, as radare2's does (its reply has no room for a
      // reason); the log says why, once per connection.
      if (error instanceof ReadOnlyError && session.readOnly) {
        if (!c.readOnlyLogged) c.log(`WRITE refused: ${error.message}`);
        c.readOnlyLogged = true;
        return reply32(writer, WRITE_REPLY, 0);
      }
      // radare2's reply has no room for a reason: 0 written (an error reply once the
      // extensions are on).
      return failed(
        c,
        `WRITE at 0x${session.seek.toString(16)}`,
        error,
        () => reply32(writer, WRITE_REPLY, 0),
      );
    }
    if (written > 0 && c.server.options.fsync) {
      try {
        await sync(c, session.current);
      } catch (error) {
        // Not on disk: not acknowledged (radare2's reply has no room for a reason).
        c.log(`sync failed: ${(error as Error).message}`);
        written = 0;
      }
    }
  }
  reply32(writer, WRITE_REPLY, written);
}

/** SEEK: SET, CUR and END (64-bit, wrapping), answered with the new seek. */
export async function seek(c: Connection, packet: Packet<"seek">): Promise<void> {
  const { session, writer } = c;
  if (session.current === undefined) await c.ensureDefault();
  if (packet.whence === Whence.SET) session.seek = packet.offset;
  else if (packet.whence === Whence.CUR) session.seek = (session.seek + packet.offset) & U64;
  else if (packet.whence === Whence.END) {
    let size: bigint;
    try {
      size = await session.size();
    } catch (error) {
      // The seek stays; -1 is what radare2 answers for a size it cannot get.
      return failed(c, "SEEK END", error, () => reply64(writer, SEEK_REPLY, UT64_MAX));
    }
    session.seek = size === UT64_MAX ? UT64_MAX : (size + packet.offset) & U64;
  }
  reply64(writer, SEEK_REPLY, session.seek);
}

/** CLOSE: only the session's own files (0 closed, -1 not). */
export async function close(c: Connection, packet: Packet<"close">): Promise<void> {
  const closed = await c.session.close(packet.fd).catch(() => false);
  reply32(c.writer, CLOSE_REPLY, closed ? 0 : -1);
}
