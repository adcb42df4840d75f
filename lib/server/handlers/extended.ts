/**
 * The requests of the rap extensions (`docs/protocol.md`): READ_AT, WRITE_AT and SIZE,
 * each naming its fd and offset, through the session's fd-addressed read and write (the
 * session owns the rules: offsets, read-only, memory). Large payloads stream in pieces
 * of {@linkcode SERVER_BUFFERS} `piece` bytes, so a connection's memory stays bounded.
 *
 * @module
 */

import { CURRENT_FD, ExtErrorCode, ExtOpcode, REPLY_FLAG } from "../../protocol/constants.ts";
import type { PacketHeader } from "../../protocol/decode.ts";
import { encodePacket } from "../../protocol/encode.ts";
import type { RapPacket } from "../../protocol/packets.ts";
import { memoryView } from "../../io/memory_descriptor.ts";
import type { ReadIntoOptions } from "../../io/types.ts";
import { PIECE_BUFFERS, SERVER_BUFFERS } from "../buffers.ts";
import type { ConnectionContext as Connection } from "../context.ts";
import { ConnectionLostError } from "../../io/errors.ts";
import { errorReply, RequestError, wireCode } from "../wire_errors.ts";
import { reply32, reply64, sync } from "./_replies.ts";

const READ_AT_REPLY = ExtOpcode.READ_AT | REPLY_FLAG;
const WRITE_AT_REPLY = ExtOpcode.WRITE_AT | REPLY_FLAG;
const SIZE_REPLY = ExtOpcode.SIZE | REPLY_FLAG;

type Packet<T extends RapPacket["type"]> = Extract<RapPacket, { type: T }>;

/** How a piece of a file is read: at once when its request is the only one under way. */
const AT_ONCE: ReadIntoOptions = { atOnce: true };
const QUEUED: ReadIntoOptions = { atOnce: false };

/** Give the session its default file first when a request addresses the current one. */
async function ready(c: Connection, fd: number): Promise<void> {
  if (fd === CURRENT_FD) await c.ensureDefault();
}

/** The failure of a sync after a write, as the request's failure. */
async function synced(c: Connection, fd: number): Promise<void> {
  await sync(c, c.session.descriptor(fd)).catch((error) => {
    throw new RequestError(ExtErrorCode.IO_ERROR, `sync failed: ${(error as Error).message}`);
  });
}

/** SIZE of a file (`0xffffffffffffffff` when unbounded). */
export async function size(c: Connection, packet: Packet<"size">): Promise<void> {
  await ready(c, packet.fd);
  reply64(c.writer, SIZE_REPLY, await c.session.sizeOf(packet.fd));
}

/** WRITE_AT small enough to arrive whole: the byte count written. */
export async function writeAt(c: Connection, packet: Packet<"write_at">): Promise<void> {
  await ready(c, packet.fd);
  const written = await c.session.write(packet.fd, packet.offset, packet.data);
  await synced(c, packet.fd);
  reply32(c.writer, WRITE_AT_REPLY, written);
}

/**
 * READ_AT: the first piece is read before the header goes out (so a failure can still be
 * an error reply), later pieces stream from the plugin to the socket. In-memory files go
 * out as views of their own bytes.
 */
export async function readAt(c: Connection, packet: Packet<"read_at">): Promise<void> {
  const { fd, offset, length } = packet;
  const max = c.ext!;
  if (length > max) {
    throw new RequestError(ExtErrorCode.TOO_LONG, `READ of ${length} bytes is over maxdata ${max}`);
  }
  await ready(c, fd);
  const { session, writer } = c;
  const piece = SERVER_BUFFERS.piece;
  const view = memoryView(session.descriptor(fd), offset, length);
  if (view !== undefined) {
    reply32(writer, READ_AT_REPLY, view.length);
    for (let done = 0; done < view.length; done += piece) {
      if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
      writer.write(view.subarray(done, done + piece));
    }
    c.views = true;
    return;
  }
  const desc = session.descriptor(fd);
  if (desc.readInto === undefined) return await readAtCopies(c, fd, offset, length);
  // Read into pooled buffers, each sent from and given back once written: no allocation,
  // no copy, no garbage per piece. With no other request under way anywhere, file pieces
  // are read at once (see ReadIntoOptions.atOnce).
  const give = (bytes: Uint8Array) => () => PIECE_BUFFERS.give(bytes);
  const firstLength = Math.min(length, piece);
  const alone = () => c.server.requestsUnderWay === 1 ? AT_ONCE : QUEUED;
  let buffer = PIECE_BUFFERS.take();
  let got: number;
  try {
    got = await session.readInto(fd, offset, buffer.subarray(0, firstLength), alone());
  } catch (error) {
    PIECE_BUFFERS.give(buffer);
    throw error;
  }
  const total = await replyLength(c, fd, offset, length, got, firstLength);
  reply32(writer, READ_AT_REPLY, total);
  writer.write(buffer.subarray(0, Math.min(got, total)), give(buffer));
  let done = Math.min(got, total);
  while (done < total) {
    if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
    const n = Math.min(piece, total - done);
    buffer = PIECE_BUFFERS.take();
    const data = buffer.subarray(0, n);
    let filled = 0;
    try {
      filled = await session.readInto(fd, offset + BigInt(done), data, alone());
    } catch (error) {
      readFailed(c, fd, error);
    }
    // The header promised `total` bytes: pad what the plugin did not deliver.
    if (filled < n) data.fill(0xff, filled);
    writer.write(data, give(buffer));
    done += n;
  }
}

/**
 * The length a READ_AT reply announces, once its first piece is read: what the first read
 * gave, or, when it was full and more was asked, as much as the file has.
 */
async function replyLength(
  c: Connection,
  fd: number,
  offset: bigint,
  length: number,
  got: number,
  firstLength: number,
): Promise<number> {
  if (got < firstLength || length <= firstLength) return got;
  const size = await c.session.descriptor(fd).size().catch(() => Infinity);
  return Math.max(got, Math.min(length, size - Number(offset)));
}

/** Log a failed read of a piece after the reply's header went out (the piece is padded). */
function readFailed(c: Connection, fd: number, error: unknown): void {
  // An upstream that went away (rap proxy) ends this connection, with the reason logged.
  if (error instanceof ConnectionLostError) throw error;
  c.log(`read of ${c.session.get(fd)?.uri ?? "the file"} failed: ${(error as Error).message}`);
}

/** READ_AT of a descriptor that reads only into buffers of its own (`read`). */
async function readAtCopies(
  c: Connection,
  fd: number,
  offset: bigint,
  length: number,
): Promise<void> {
  const { session, writer } = c;
  const piece = SERVER_BUFFERS.piece;
  const firstLength = Math.min(length, piece);
  const first = await session.read(fd, offset, firstLength);
  const total = await replyLength(c, fd, offset, length, first.length, firstLength);
  reply32(writer, READ_AT_REPLY, total);
  writer.write(first.length > total ? first.subarray(0, total) : first);
  let done = Math.min(first.length, total);
  while (done < total) {
    if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
    const n = Math.min(piece, total - done);
    let data: Uint8Array;
    try {
      data = await session.read(fd, offset + BigInt(done), n);
    } catch (error) {
      readFailed(c, fd, error);
      data = new Uint8Array(0);
    }
    if (data.length < n) {
      // The header promised `total` bytes: pad what the plugin did not deliver.
      const padded = new Uint8Array(n).fill(0xff);
      padded.set(data);
      data = padded;
    }
    writer.write(data);
    done += n;
  }
}

/**
 * A WRITE_AT too large to hold: its payload goes to the plugin piece by piece as it
 * arrives, each piece with its own deadline; a refused write drains the payload and
 * answers one error reply.
 */
export async function streamWrite(c: Connection, header: PacketHeader): Promise<void> {
  const { reader, writer, session } = c;
  await c.settleViews();
  const head = reader.takeHeader(header);
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const fd = view.getInt32(1);
  const at = view.getBigUint64(5);
  let left = header.payloadSize;
  let failure: unknown;
  try {
    await ready(c, fd);
    await session.write(fd, at, new Uint8Array(0)); // every check, nothing written
  } catch (error) {
    failure = error;
  }
  let written = 0;
  while (left > 0) {
    const data = new Uint8Array(Math.min(SERVER_BUFFERS.piece, left));
    // Each piece has its own deadline: a slow link may take a while for 8 MiB.
    c.startPacketTimer();
    await c.wait(() => reader.readExactly(data));
    c.endPacketTimer();
    left -= data.length;
    if (failure !== undefined) continue; // drain the payload
    try {
      written += await session.write(fd, at + BigInt(written), data);
    } catch (error) {
      failure = new RequestError(
        wireCode(error),
        `${(error as Error).message} (after ${written} bytes)`,
      );
    }
  }
  if (failure === undefined && written > 0) {
    await synced(c, fd).catch((error) => failure = error);
  }
  if (failure !== undefined) writer.write(encodePacket(errorReply(failure)));
  else reply32(writer, WRITE_AT_REPLY, written);
}
