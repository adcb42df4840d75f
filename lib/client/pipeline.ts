/**
 * The one pipelined loop of the client's reads and writes. It takes a list of pieces
 * (offset, bytes), puts each on the wire as soon as the window has room, and keeps a window
 * of requests in flight: on plain RAP a SEEK and a READ or WRITE per piece (or radare2's
 * lock-step, SEEK, wait, READ, wait, for a window of 1), with the extensions one READ_AT or
 * WRITE_AT carrying its fd and offset. A read's payload lands in the piece's own bytes
 * (received straight into them where the reader can); a write's payload is sent from them
 * without a copy. {@linkcode splitRange} cuts one range into pieces of the peer's payload
 * limit; a block cache passes the blocks it fills, anywhere in the file.
 *
 * @module
 */

import { ExtOpcode, Opcode, RAP_PACKET_MAX, Whence } from "../protocol/constants.ts";
import { putU32, putU64 } from "../protocol/_bytes.ts";
import { encodePacket } from "../protocol/encode.ts";
import type { RapReply } from "../protocol/packets.ts";
import { Fifo, handled } from "./_support.ts";
import type { RapTransport } from "./transport.ts";

/**
 * Preferred extended request size and bytes in flight per call. 4 MiB requests (two in
 * flight) took 0.76× the wall time of 1 MiB ones (eight in flight) for a whole `rap cat`
 * (docs/benchmarks.md); the server still streams them in 1 MiB pieces.
 */
const EXT_CHUNK = 4 * 1024 * 1024;
const EXT_INFLIGHT = 8 * 1024 * 1024;
/** Requests in flight for plain RAP (SEEK+READ pairs count two): 128 pieces of 4 KiB. */
const PLAIN_WINDOW = 256;

/**
 * One request's worth of a read or write: `bytes.length` bytes at `offset` of the file.
 *
 * @example
 * ```ts
 * import type { Piece } from "./pipeline.ts";
 * const piece: Piece = { offset: 4096n, bytes: new Uint8Array(4096) };
 * console.assert(piece.bytes.length === 4096);
 * ```
 */
export interface Piece {
  /** Where in the file. */
  offset: bigint;
  /** A read's destination, or a write's data; its length is the piece's. */
  bytes: Uint8Array;
}

/**
 * How pieces go on the wire.
 *
 * @example
 * ```ts
 * import type { PipelinePlan } from "./pipeline.ts";
 * const lockStep: PipelinePlan = { window: 1 };
 * console.assert(lockStep.fd === undefined);
 * ```
 */
export interface PipelinePlan {
  /** The fd of extended requests (READ_AT, WRITE_AT); `undefined`: plain RAP, a SEEK per piece. */
  fd?: number;
  /**
   * Requests in flight. On plain RAP each piece takes two (its SEEK and its READ or
   * WRITE), and 1 is radare2's lock-step: SEEK, wait, READ, wait.
   */
  window: number;
}

/**
 * The piece size and window of a client's reads and writes: plain RAP, 4096-byte pieces
 * and 256 requests in flight (128 pieces); with the extensions, pieces of up to 4 MiB
 * (never over the negotiated `maxData`) and 8 MiB in flight.
 *
 * @param extMaxData The negotiated extensions' `maxData`, or `undefined` on plain RAP.
 * @param options The client's `maxPayload` and `window` (see `RapClientOptions`).
 * @returns The piece size (`step`) and the window.
 *
 * @example
 * ```ts
 * import { pipelineShape } from "./pipeline.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(pipelineShape(undefined, {}), { step: 4096, window: 256 });
 * assert.deepEqual(pipelineShape(8 << 20, {}), { step: 4 << 20, window: 2 });
 * assert.deepEqual(pipelineShape(4096, { window: 3 }), { step: 4096, window: 3 });
 * ```
 */
export function pipelineShape(
  extMaxData: number | undefined,
  options: { maxPayload?: number; window?: number },
): { step: number; window: number } {
  const cap = options.maxPayload;
  const step = extMaxData === undefined
    ? cap ?? RAP_PACKET_MAX
    : Math.max(1, Math.min(extMaxData, cap ?? EXT_CHUNK));
  let window;
  if (options.window !== undefined) window = Math.max(1, Math.floor(options.window));
  else if (extMaxData === undefined) window = PLAIN_WINDOW;
  else window = Math.max(2, Math.ceil(EXT_INFLIGHT / step));
  return { step, window };
}

/**
 * Cut `bytes`, to be read or written at `offset`, into pieces of at most `step` bytes
 * (views of `bytes`, no copy).
 *
 * @param offset Where the range starts in the file.
 * @param bytes The range's destination or data.
 * @param step The largest piece.
 * @returns The pieces, in order.
 *
 * @example
 * ```ts
 * import { splitRange } from "./pipeline.ts";
 * import assert from "node:assert/strict";
 *
 * const pieces = [...splitRange(100n, new Uint8Array(10), 4)];
 * const shape = pieces.map((p) => [p.offset, p.bytes.length]);
 * assert.deepEqual(shape, [[100n, 4], [104n, 4], [108n, 2]]);
 * assert.equal([...splitRange(0n, new Uint8Array(0), 4)].length, 0);
 * ```
 */
export function splitRange(offset: bigint, bytes: Uint8Array, step: number): Iterable<Piece> {
  if (bytes.length > step) return pieces(offset, bytes, step);
  return bytes.length === 0 ? [] : [{ offset, bytes }]; // the common small read, no generator
}

function* pieces(offset: bigint, bytes: Uint8Array, step: number): Generator<Piece> {
  for (let at = 0; at < bytes.length; at += step) {
    yield { offset: offset + BigInt(at), bytes: bytes.subarray(at, at + step) };
  }
}

/**
 * Read pieces, pipelined: each piece's bytes are filled from the file, 0xff past the end
 * of the data (as radare2 pads). Call it when the transport is free
 * (`await transport.turn()`); it waits again for any request run alone meanwhile.
 *
 * @param transport The connection.
 * @param plan Plain or extended, and the window.
 * @param pieces The pieces, in the order they go on the wire.
 * @returns The bytes read (the pieces' total length).
 * @throws {import("../protocol/errors.ts").RapRemoteError} If the server refuses a piece.
 *
 * @example Two pieces anywhere in the file, in flight together
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { Perm } from "@rap/cli/protocol";
 * import { RapTransport } from "./transport.ts";
 * import { readPieces } from "./pipeline.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const transport = new RapTransport(conn, { peer: "test server" });
 * await transport.request({ type: "open", flags: Perm.R, name: "hex://00112233" }, "open_reply");
 * const [a, b] = [new Uint8Array(2), new Uint8Array(3)];
 * await readPieces(transport, { window: 4 }, [{ offset: 2n, bytes: a }, { offset: 3n, bytes: b }]);
 * assert.deepEqual([...a, ...b], [0x22, 0x33, 0x33, 0xff, 0xff]);
 * await transport.close();
 * ```
 */
export function readPieces(
  transport: RapTransport,
  plan: PipelinePlan,
  pieces: Iterable<Piece>,
): Promise<number> {
  return pipeline(transport, READ, plan, pieces);
}

/**
 * Write pieces, pipelined. Payload bytes are sent from the pieces without a copy: do not
 * change them until this resolves. Call it when the transport is free, as
 * {@linkcode readPieces}.
 *
 * @param transport The connection.
 * @param plan Plain or extended, and the window.
 * @param pieces The pieces, in the order they go on the wire.
 * @returns The bytes written (radare2's reply 1, a boolean, counts as the whole piece).
 * @throws {Error} If the server reports a failed write (reply 0, or an error reply).
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { Perm } from "@rap/cli/protocol";
 * import { RapTransport } from "./transport.ts";
 * import { readPieces, splitRange, writePieces } from "./pipeline.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const transport = new RapTransport(conn, { peer: "test server" });
 * const open = { type: "open", flags: Perm.R | Perm.W, name: "malloc://64" } as const;
 * await transport.request(open, "open_reply");
 * const data = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
 * assert.equal(await writePieces(transport, { window: 256 }, splitRange(8n, data, 4)), 10);
 * const back = new Uint8Array(10);
 * await readPieces(transport, { window: 1 }, splitRange(8n, back, 3));
 * assert.deepEqual(back, data);
 * await transport.close();
 * ```
 */
export function writePieces(
  transport: RapTransport,
  plan: PipelinePlan,
  pieces: Iterable<Piece>,
): Promise<number> {
  return pipeline(transport, WRITE, plan, pieces);
}

/** What differs between a pipelined read and a pipelined write. */
interface Direction {
  /** The plain request (READ, WRITE) and its reply. */
  opcode: number;
  reply: "read_reply" | "write_reply";
  /** The extended request (READ_AT, WRITE_AT) and its reply. */
  extOpcode: number;
  extReply: "read_at_reply" | "write_at_reply";
  /** Whether the piece's bytes go with the request (a write) or come with the reply. */
  sends: boolean;
  /** The bytes a piece's reply counts for; throws if it reports a failure. */
  settle(reply: RapReply, piece: Piece, plain: boolean, peer: string): number;
}

const READ: Direction = {
  opcode: Opcode.READ,
  reply: "read_reply",
  extOpcode: ExtOpcode.READ_AT,
  extReply: "read_at_reply",
  sends: false,
  settle(reply, piece) {
    const data = (reply as Extract<RapReply, { data: Uint8Array }>).data;
    const into = piece.bytes;
    const n = into.length;
    if (data.buffer !== into.buffer || data.byteOffset !== into.byteOffset) {
      into.set(data.length > n ? data.subarray(0, n) : data);
    }
    if (data.length < n) into.fill(0xff, data.length);
    return n;
  },
};

const WRITE: Direction = {
  opcode: Opcode.WRITE,
  reply: "write_reply",
  extOpcode: ExtOpcode.WRITE_AT,
  extReply: "write_at_reply",
  sends: true,
  settle(reply, piece, plain, peer) {
    const result = (reply as Extract<RapReply, { result: number }>).result;
    const n = piece.bytes.length;
    if (result <= 0) {
      throw new Error(`Write of ${n} byte(s) at 0x${piece.offset.toString(16)} failed on ${peer}`);
    }
    // radare2's own server answers 1 (a boolean) for a successful write of any size.
    return plain && result === 1 ? n : result;
  },
};

/** The loop: a window of pieces in flight, refilled a quarter at a time. */
async function pipeline(
  transport: RapTransport,
  direction: Direction,
  plan: PipelinePlan,
  pieces: Iterable<Piece>,
): Promise<number> {
  const plain = plan.fd === undefined;
  const lockStep = plain && plan.window === 1;
  // Pieces in flight: on plain RAP each piece is two requests (SEEK, then READ or WRITE).
  const depth = plain ? Math.max(1, Math.floor(plan.window / 2)) : plan.window;
  const inflight = new Fifo<Promise<number>>();
  let total = 0;
  for (const piece of pieces) {
    if (lockStep) {
      // Alone, so that no other caller's SEEK or CMD comes between its SEEK and the rest.
      total += await transport.runAlone(() => lockStepPiece(transport, direction, piece));
      continue;
    }
    // A request running alone (a CMD) has nothing after it on the wire.
    if (transport.alone) await transport.turn();
    const reply = queue(transport, direction, plan.fd, piece, false);
    inflight.push(handled(reply.then((r) => direction.settle(r, piece, plain, transport.peer))));
    // A full window waits for a quarter of it, so requests leave in batches.
    if (inflight.length >= depth) {
      for (let i = refill(depth); i > 0 && inflight.length > 0; i--) {
        total += await inflight.shift()!;
      }
    }
  }
  for (let p = inflight.shift(); p !== undefined; p = inflight.shift()) total += await p;
  return total;
}

/** One piece as radare2 sends it, with one request in flight: SEEK, wait, READ, wait. */
async function lockStepPiece(
  transport: RapTransport,
  direction: Direction,
  piece: Piece,
): Promise<number> {
  const seek = encodePacket({ type: "seek", whence: Whence.SET, offset: piece.offset });
  await transport.send("seek_reply", seek);
  const reply = await queue(transport, direction, undefined, piece, true);
  return direction.settle(reply, piece, true, transport.peer);
}

/**
 * Queue one piece's request, its header encoded in place: READ_AT/WRITE_AT (17 bytes),
 * SEEK(SET) and READ/WRITE (15), or READ/WRITE alone after a lock-step SEEK (5); then a
 * write's payload.
 */
function queue(
  transport: RapTransport,
  direction: Direction,
  fd: number | undefined,
  piece: Piece,
  lockStep: boolean,
): Promise<RapReply> {
  const { offset, bytes } = piece;
  const into = direction.sends ? undefined : bytes;
  let reply: Promise<RapReply>;
  if (fd !== undefined) {
    reply = transport.expect(direction.extReply, into);
    const b = transport.reserve(17);
    b[0] = direction.extOpcode;
    putU32(b, 1, fd);
    putU64(b, 5, offset);
    putU32(b, 13, bytes.length);
  } else if (lockStep) {
    reply = transport.expect(direction.reply, into);
    const b = transport.reserve(5);
    b[0] = direction.opcode;
    putU32(b, 1, bytes.length);
  } else {
    transport.expect("seek_reply").catch(() => {}); // its failure is reported by the next
    reply = transport.expect(direction.reply, into);
    const b = transport.reserve(15);
    b[0] = Opcode.SEEK;
    b[1] = Whence.SET;
    putU64(b, 2, offset);
    b[10] = direction.opcode;
    putU32(b, 11, bytes.length);
  }
  if (direction.sends) transport.write(bytes);
  return reply;
}

/** How many requests complete before a full window is refilled (a quarter of it). */
function refill(window: number): number {
  return Math.max(1, Math.floor(window / 4));
}
