/**
 * Decoding of RAP wire bytes: an incremental decoder over a byte stream and a one-shot
 * {@linkcode decodePacket}.
 *
 * @module
 */

import {
  EXT_ERROR,
  EXT_MAX_DATA,
  ExtOpcode,
  Opcode,
  RAP_CMD_MAX,
  RAP_PACKET_MAX,
  REPLY_FLAG,
} from "./constants.ts";
import { BadLengthError, TruncatedPacketError, UnknownOpcodeError } from "./errors.ts";
import type { RapPacket } from "./packets.ts";

/**
 * Which packets a decoder accepts.
 *
 * - `"server"`: what a server receives (requests, plus the CMD reply to a reverse CMD);
 * - `"client"`: what a client receives (replies, plus reverse CMD requests);
 * - `"any"`: both.
 *
 * @example
 * ```ts
 * import { PacketDecoder, type DecoderRole } from "@rap/cli/protocol";
 * const role: DecoderRole = "server";
 * const decoder = new PacketDecoder({ role });
 * console.assert(decoder.buffered === 0);
 * ```
 */
export type DecoderRole = "server" | "client" | "any";

/**
 * Limits and role of a {@linkcode PacketDecoder}.
 *
 * @example
 * ```ts
 * import { PacketDecoder, type DecoderOptions } from "@rap/cli/protocol";
 * const options: DecoderOptions = { role: "client", maxData: 1 << 20 };
 * console.assert(new PacketDecoder(options).buffered === 0);
 * ```
 */
export interface DecoderOptions {
  /** Which direction's packets to accept (default `"any"`). */
  role?: DecoderRole;
  /** Largest WRITE and READ-reply payload (default 4096, radare2's `RAP_PACKET_MAX`). */
  maxData?: number;
  /** Largest CMD request length, NUL included (default 4095, as radare2's server). */
  maxCommand?: number;
  /** Largest CMD reply length, NUL included (default 16 MiB). */
  maxCommandReply?: number;
  /**
   * Accept the extended packets from the start, with this payload limit (default: not
   * accepted until {@linkcode PacketDecoder.enableExtensions}).
   */
  extensions?: number;
}

/**
 * The fixed part of the next packet, known as soon as its bytes have arrived: what
 * {@linkcode PacketDecoder.peekHeader} returns. The packet is `headerSize` bytes followed by
 * `payloadSize` payload bytes.
 *
 * @example
 * ```ts
 * import { PacketDecoder, type PacketHeader } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const decoder = new PacketDecoder({ role: "client" });
 * decoder.push(new Uint8Array([0x82, 0, 0, 0x10, 0]));
 * const header: PacketHeader | undefined = decoder.peekHeader();
 * assert.deepEqual(header, { opcode: 0x82, headerSize: 5, payloadSize: 4096 });
 * ```
 */
export interface PacketHeader {
  /** The opcode byte. */
  opcode: number;
  /** Bytes of the fixed part, the opcode included. */
  headerSize: number;
  /** Bytes that follow the fixed part. */
  payloadSize: number;
}

const SERVER_OPCODES = new Set<number>([
  Opcode.OPEN,
  Opcode.READ,
  Opcode.WRITE,
  Opcode.SEEK,
  Opcode.CLOSE,
  Opcode.CMD,
  Opcode.CMD | REPLY_FLAG,
]);
const CLIENT_OPCODES = new Set<number>([
  Opcode.OPEN | REPLY_FLAG,
  Opcode.READ | REPLY_FLAG,
  Opcode.WRITE | REPLY_FLAG,
  Opcode.SEEK | REPLY_FLAG,
  Opcode.CLOSE | REPLY_FLAG,
  Opcode.CMD | REPLY_FLAG,
  Opcode.CMD,
]);
const EXT_SERVER_OPCODES = new Set<number>([
  ExtOpcode.READ_AT,
  ExtOpcode.WRITE_AT,
  ExtOpcode.SIZE,
]);
const EXT_CLIENT_OPCODES = new Set<number>([
  ExtOpcode.READ_AT | REPLY_FLAG,
  ExtOpcode.WRITE_AT | REPLY_FLAG,
  ExtOpcode.SIZE | REPLY_FLAG,
  EXT_ERROR,
]);
const EXTENDED = new Set([EXT_SERVER_OPCODES, EXT_CLIENT_OPCODES]);
/** Longest error message accepted in an extended error reply. */
const MAX_ERROR_MESSAGE = 64 * 1024;

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** The big-endian 32-bit integer at `at`, signed. */
function i32(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
}

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

/**
 * Build a packet that carries raw bytes from its header and its payload: used by readers
 * that receive large payloads straight into their own buffer.
 *
 * @param header The header bytes ({@linkcode PacketHeader.headerSize} of them).
 * @param data The payload, kept as is (not copied).
 * @returns The packet (`read_reply`, `write`, `read_at_reply` or `write_at`).
 * @throws {TypeError} If the header is not one of those packets.
 *
 * @example
 * ```ts
 * import { decodeDataPacket } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const data = new Uint8Array([1, 2, 3]);
 * const packet = decodeDataPacket(new Uint8Array([0x82, 0, 0, 0, 3]), data);
 * assert.equal(packet.type, "read_reply");
 * ```
 */
export function decodeDataPacket(header: Uint8Array, data: Uint8Array): RapPacket {
  switch (header[0]) {
    case Opcode.READ | REPLY_FLAG:
      return { type: "read_reply", data };
    case Opcode.WRITE:
      return { type: "write", data };
    case ExtOpcode.READ_AT | REPLY_FLAG:
      return { type: "read_at_reply", data };
    case ExtOpcode.WRITE_AT: {
      const view = new DataView(header.buffer, header.byteOffset, header.length);
      return { type: "write_at", fd: view.getInt32(1), offset: view.getBigUint64(5), data };
    }
    default:
      throw new TypeError(`Packet 0x${header[0].toString(16)} carries no raw payload`);
  }
}

/**
 * An incremental RAP decoder: push byte chunks of any size as they arrive, take whole
 * packets out. Payload bytes are views into the pushed chunks (no copy when a packet lies
 * within one chunk), so do not reuse a pushed buffer while its packets are in use.
 *
 * A length over the limit is rejected as soon as its header has arrived, so a peer cannot
 * make the decoder buffer more than the limits allow. The extended packets of
 * `docs/protocol.md` are refused (as unknown opcodes) until
 * {@linkcode PacketDecoder.enableExtensions} is called after a successful negotiation.
 *
 * @example Decode packets split across chunks
 * ```ts
 * import { PacketDecoder } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const decoder = new PacketDecoder({ role: "server" });
 * decoder.push(new Uint8Array([0x02, 0x00, 0x00]));
 * assert.equal(decoder.next(), undefined);
 * decoder.push(new Uint8Array([0x00, 0x10, 0x04]));
 * assert.deepEqual(decoder.next(), { type: "read", length: 16 });
 * assert.equal(decoder.buffered, 1); // the start of a SEEK
 * ```
 */
export class PacketDecoder {
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  readonly #role: DecoderRole;
  #accepts: Set<number>;
  readonly #maxData: number;
  readonly #maxCommand: number;
  readonly #maxCommandReply: number;
  #maxExtData = 0;
  #extensions = false;

  /**
   * Create a decoder.
   *
   * @param options Role and limits; see {@linkcode DecoderOptions}.
   */
  constructor(options: DecoderOptions = {}) {
    this.#role = options.role ?? "any";
    this.#accepts = this.#opcodes();
    this.#maxData = options.maxData ?? RAP_PACKET_MAX;
    this.#maxCommand = options.maxCommand ?? RAP_CMD_MAX;
    this.#maxCommandReply = options.maxCommandReply ?? 16 * 1024 * 1024;
    if (options.extensions !== undefined) this.enableExtensions(options.extensions);
  }

  #opcodes(): Set<number> {
    const role = this.#role;
    const sets = role === "server"
      ? [SERVER_OPCODES, EXT_SERVER_OPCODES]
      : role === "client"
      ? [CLIENT_OPCODES, EXT_CLIENT_OPCODES]
      : [SERVER_OPCODES, CLIENT_OPCODES, EXT_SERVER_OPCODES, EXT_CLIENT_OPCODES];
    const accepted = this.#extensions ? sets : sets.filter((set) => !EXTENDED.has(set));
    return new Set(accepted.flatMap((set) => [...set]));
  }

  /**
   * Accept the extended packets from now on, with payloads up to `maxData` bytes. Call it
   * at the point of the stream where the negotiation took effect; limits only grow.
   *
   * @param maxData The negotiated `maxdata` (default {@linkcode EXT_MAX_DATA}).
   *
   * @example
   * ```ts
   * import { PacketDecoder, UnknownOpcodeError } from "@rap/cli/protocol";
   * import assert from "node:assert/strict";
   *
   * const read = new Uint8Array([0x11, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
   * assert.throws(() => new PacketDecoder({ role: "server" }).decode(read), UnknownOpcodeError);
   * const decoder = new PacketDecoder({ role: "server" });
   * decoder.enableExtensions(1 << 20);
   * assert.deepEqual(decoder.decode(read), [{ type: "read_at", fd: 3, offset: 0n, length: 8 }]);
   * ```
   */
  enableExtensions(maxData: number = EXT_MAX_DATA): void {
    this.#extensions = true;
    this.#maxExtData = Math.max(this.#maxExtData, maxData);
    this.#accepts = this.#opcodes();
  }

  /** Whether extended packets are accepted. */
  get extensions(): boolean {
    return this.#extensions;
  }

  /** The largest extended payload accepted (0 before {@linkcode PacketDecoder.enableExtensions}). */
  get maxExtData(): number {
    return this.#maxExtData;
  }

  /** Bytes received but not yet returned as packets. */
  get buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /**
   * Add received bytes.
   *
   * @param chunk Bytes from the stream, in order. Kept as a view when nothing else is
   *   buffered, so it must not be reused while its packets are in use.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const rest = this.#buf.length - this.#pos;
    if (rest === 0) {
      this.#buf = chunk;
    } else {
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.#buf.subarray(this.#pos));
      joined.set(chunk, rest);
      this.#buf = joined;
    }
    this.#pos = 0;
  }

  /**
   * Take up to `max` raw buffered bytes out of the decoder (e.g. the start of a payload
   * that the caller receives into its own buffer, or the rest to join with new bytes).
   *
   * @param max The most bytes to take.
   * @returns A view of the bytes taken (possibly empty).
   *
   * @example
   * ```ts
   * import { PacketDecoder } from "@rap/cli/protocol";
   * import assert from "node:assert/strict";
   *
   * const decoder = new PacketDecoder();
   * decoder.push(new Uint8Array([1, 2, 3]));
   * assert.deepEqual([...decoder.take(2)], [1, 2]);
   * assert.equal(decoder.buffered, 1);
   * ```
   */
  take(max: number): Uint8Array {
    const n = Math.max(0, Math.min(max, this.#buf.length - this.#pos));
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    if (this.#pos === this.#buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
    return out;
  }

  /**
   * Push a chunk and return every whole packet now available.
   *
   * @param chunk Bytes from the stream.
   * @returns The packets completed by this chunk, in order.
   * @throws {import("./errors.ts").RapProtocolError} On malformed input.
   */
  decode(chunk: Uint8Array): RapPacket[] {
    this.push(chunk);
    const out: RapPacket[] = [];
    for (let p = this.next(); p !== undefined; p = this.next()) out.push(p);
    return out;
  }

  #limit(op: number): number {
    switch (op) {
      case Opcode.CMD:
        return this.#maxCommand;
      case Opcode.CMD | REPLY_FLAG:
        return this.#maxCommandReply;
      case ExtOpcode.WRITE_AT:
      case ExtOpcode.READ_AT | REPLY_FLAG:
        return this.#maxExtData;
      case EXT_ERROR:
        return MAX_ERROR_MESSAGE;
      default:
        return this.#maxData;
    }
  }

  /**
   * The fixed part of the next packet, without consuming anything.
   *
   * @returns The header, or `undefined` when more bytes are needed to know it.
   * @throws {UnknownOpcodeError} When the next byte is not an accepted opcode.
   * @throws {BadLengthError} When a length field is over its limit.
   */
  peekHeader(): PacketHeader | undefined {
    const buf = this.#buf;
    const at = this.#pos;
    const avail = buf.length - at;
    if (avail === 0) return undefined;
    const op = buf[at];
    if (!this.#accepts.has(op)) throw new UnknownOpcodeError(op);
    const fixed = (headerSize: number): PacketHeader | undefined =>
      avail < headerSize ? undefined : { opcode: op, headerSize, payloadSize: 0 };
    const sized = (headerSize: number, lengthAt: number): PacketHeader | undefined => {
      if (avail < headerSize) return undefined;
      const len = ((buf[at + lengthAt] << 24) | (buf[at + lengthAt + 1] << 16) |
        (buf[at + lengthAt + 2] << 8) | buf[at + lengthAt + 3]) >>> 0;
      const limit = this.#limit(op);
      if (len > limit) {
        throw new BadLengthError(
          op,
          len,
          limit,
          (op & 0x7f) === Opcode.CMD ? "command" : "payload",
        );
      }
      return { opcode: op, headerSize, payloadSize: len };
    };
    switch (op) {
      case Opcode.OPEN:
        return avail < 3 ? undefined : { opcode: op, headerSize: 3, payloadSize: buf[at + 2] };
      case Opcode.READ:
      case Opcode.CLOSE:
      case Opcode.OPEN | REPLY_FLAG:
      case Opcode.WRITE | REPLY_FLAG:
      case Opcode.CLOSE | REPLY_FLAG:
      case ExtOpcode.SIZE:
      case ExtOpcode.WRITE_AT | REPLY_FLAG:
        return fixed(5);
      case Opcode.SEEK:
        return fixed(10);
      case Opcode.SEEK | REPLY_FLAG:
      case ExtOpcode.SIZE | REPLY_FLAG:
        return fixed(9);
      case ExtOpcode.READ_AT:
        return fixed(17);
      case Opcode.WRITE:
      case Opcode.READ | REPLY_FLAG:
      case Opcode.CMD:
      case Opcode.CMD | REPLY_FLAG:
      case ExtOpcode.READ_AT | REPLY_FLAG:
        return sized(5, 1);
      case ExtOpcode.WRITE_AT:
        return sized(17, 13);
      case EXT_ERROR:
        return sized(9, 5);
      default:
        throw new UnknownOpcodeError(op);
    }
  }

  /**
   * Take the next whole packet.
   *
   * @returns The packet, or `undefined` when more bytes are needed.
   * @throws {UnknownOpcodeError} When the next byte is not an accepted opcode.
   * @throws {BadLengthError} When a length field is over its limit.
   */
  next(): RapPacket | undefined {
    const header = this.peekHeader();
    if (header === undefined) return undefined;
    const size = header.headerSize + header.payloadSize;
    if (this.buffered < size) return undefined;
    const buf = this.#buf;
    const at = this.#pos;
    const op = header.opcode;
    const payload = buf.subarray(at + header.headerSize, at + size);
    const view = () => new DataView(buf.buffer, buf.byteOffset + at, size);
    this.#pos = at + size;
    if (this.#pos === buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
    switch (op) {
      case Opcode.OPEN:
        return { type: "open", flags: buf[at + 1], name: cString(payload) };
      case Opcode.READ:
        return { type: "read", length: i32(buf, at + 1) >>> 0 };
      case Opcode.SEEK:
        return { type: "seek", whence: buf[at + 1], offset: view().getBigUint64(2) };
      case Opcode.CLOSE:
        return { type: "close", fd: i32(buf, at + 1) };
      case Opcode.OPEN | REPLY_FLAG:
        return { type: "open_reply", fd: i32(buf, at + 1) };
      case Opcode.WRITE | REPLY_FLAG:
        return { type: "write_reply", result: i32(buf, at + 1) };
      case Opcode.CLOSE | REPLY_FLAG:
        return { type: "close_reply", result: i32(buf, at + 1) };
      case Opcode.SEEK | REPLY_FLAG:
        return { type: "seek_reply", offset: view().getBigUint64(1) };
      case Opcode.CMD:
        return { type: "cmd", command: header.payloadSize === 0 ? null : cString(payload) };
      case Opcode.CMD | REPLY_FLAG:
        return { type: "cmd_reply", output: header.payloadSize === 0 ? null : cString(payload) };
      case ExtOpcode.READ_AT:
        return {
          type: "read_at",
          fd: i32(buf, at + 1),
          offset: view().getBigUint64(5),
          length: i32(buf, at + 13) >>> 0,
        };
      case ExtOpcode.SIZE:
        return { type: "size", fd: i32(buf, at + 1) };
      case ExtOpcode.WRITE_AT | REPLY_FLAG:
        return { type: "write_at_reply", result: i32(buf, at + 1) };
      case ExtOpcode.SIZE | REPLY_FLAG:
        return { type: "size_reply", size: view().getBigUint64(1) };
      case EXT_ERROR:
        return { type: "error", code: i32(buf, at + 1) >>> 0, message: utf8.decode(payload) };
      default:
        return decodeDataPacket(buf.subarray(at, at + header.headerSize), payload);
    }
  }

  /**
   * Declare the end of the stream.
   *
   * @throws {TruncatedPacketError} If a partial packet is still buffered.
   */
  finish(): void {
    if (this.buffered > 0) throw new TruncatedPacketError(this.#buf[this.#pos], this.buffered);
  }
}

/**
 * Decode exactly one packet from `bytes`.
 *
 * @param bytes The wire bytes of one whole packet.
 * @param options Role and limits, as for {@linkcode PacketDecoder}.
 * @returns The packet.
 * @throws {TruncatedPacketError} If `bytes` ends before the packet does.
 * @throws {RangeError} If bytes are left over after the packet.
 * @throws {import("./errors.ts").RapProtocolError} On any other malformed input.
 *
 * @example
 * ```ts
 * import { decodePacket } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const reply = decodePacket(new Uint8Array([0x87, 0, 0, 0, 4, 0x68, 0x69, 0x0a, 0]));
 * assert.deepEqual(reply, { type: "cmd_reply", output: "hi\n" });
 * ```
 */
export function decodePacket(bytes: Uint8Array, options: DecoderOptions = {}): RapPacket {
  const decoder = new PacketDecoder(options);
  decoder.push(bytes);
  const packet = decoder.next();
  if (packet === undefined) {
    decoder.finish();
    throw new TruncatedPacketError(bytes[0] ?? 0, bytes.length);
  }
  if (decoder.buffered > 0) {
    throw new RangeError(`${decoder.buffered} byte(s) left over after a "${packet.type}" packet`);
  }
  return packet;
}
