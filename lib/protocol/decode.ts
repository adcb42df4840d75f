/**
 * Decoding of RAP wire bytes: an incremental decoder over a byte stream and a one-shot
 * {@linkcode decodePacket}.
 *
 * @module
 */

import { Opcode, RAP_CMD_MAX, RAP_PACKET_MAX, REPLY_FLAG } from "./constants.ts";
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

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

/**
 * An incremental RAP decoder: push byte chunks of any size as they arrive, take whole
 * packets out. Payload bytes are views into the pushed chunks (no copy when a packet lies
 * within one chunk), so do not reuse a pushed buffer while its packets are in use.
 *
 * A length over the limit is rejected as soon as its header has arrived, so a peer cannot
 * make the decoder buffer more than the limits allow.
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
  readonly #accepts: Set<number> | undefined;
  readonly #maxData: number;
  readonly #maxCommand: number;
  readonly #maxCommandReply: number;

  /**
   * Create it.
   *
   * @param options Role and limits; see {@linkcode DecoderOptions}.
   */
  constructor(options: DecoderOptions = {}) {
    const role = options.role ?? "any";
    this.#accepts = role === "server"
      ? SERVER_OPCODES
      : role === "client"
      ? CLIENT_OPCODES
      : undefined;
    this.#maxData = options.maxData ?? RAP_PACKET_MAX;
    this.#maxCommand = options.maxCommand ?? RAP_CMD_MAX;
    this.#maxCommandReply = options.maxCommandReply ?? 16 * 1024 * 1024;
  }

  /** Bytes received but not yet returned as packets. */
  get buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /**
   * Add received bytes.
   *
   * @param chunk Bytes from the stream, in order.
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

  /**
   * Take the next whole packet.
   *
   * @returns The packet, or `undefined` when more bytes are needed.
   * @throws {UnknownOpcodeError} When the next byte is not an accepted opcode.
   * @throws {BadLengthError} When a length field is over its limit.
   */
  next(): RapPacket | undefined {
    const buf = this.#buf;
    const at = this.#pos;
    const avail = buf.length - at;
    if (avail === 0) return undefined;
    const op = buf[at];
    if (this.#accepts !== undefined && !this.#accepts.has(op)) throw new UnknownOpcodeError(op);
    const view = new DataView(buf.buffer, buf.byteOffset + at, avail);
    const take = (size: number, packet: RapPacket): RapPacket => {
      this.#pos = at + size;
      return packet;
    };
    const data = (start: number, len: number) => buf.subarray(at + start, at + start + len);

    switch (op) {
      case Opcode.OPEN: {
        if (avail < 3) return undefined;
        const len = buf[at + 2];
        if (avail < 3 + len) return undefined;
        return take(3 + len, { type: "open", flags: buf[at + 1], name: cString(data(3, len)) });
      }
      case Opcode.READ:
        if (avail < 5) return undefined;
        return take(5, { type: "read", length: view.getUint32(1) });
      case Opcode.SEEK:
        if (avail < 10) return undefined;
        return take(10, { type: "seek", whence: buf[at + 1], offset: view.getBigUint64(2) });
      case Opcode.CLOSE:
        if (avail < 5) return undefined;
        return take(5, { type: "close", fd: view.getInt32(1) });
      case Opcode.OPEN | REPLY_FLAG:
        if (avail < 5) return undefined;
        return take(5, { type: "open_reply", fd: view.getInt32(1) });
      case Opcode.WRITE | REPLY_FLAG:
        if (avail < 5) return undefined;
        return take(5, { type: "write_reply", result: view.getInt32(1) });
      case Opcode.CLOSE | REPLY_FLAG:
        if (avail < 5) return undefined;
        return take(5, { type: "close_reply", result: view.getInt32(1) });
      case Opcode.SEEK | REPLY_FLAG:
        if (avail < 9) return undefined;
        return take(9, { type: "seek_reply", offset: view.getBigUint64(1) });
      case Opcode.WRITE:
      case Opcode.READ | REPLY_FLAG:
      case Opcode.CMD:
      case Opcode.CMD | REPLY_FLAG: {
        if (avail < 5) return undefined;
        const len = view.getUint32(1);
        const limit = op === Opcode.CMD
          ? this.#maxCommand
          : op === (Opcode.CMD | REPLY_FLAG)
          ? this.#maxCommandReply
          : this.#maxData;
        if (len > limit) {
          throw new BadLengthError(
            op,
            len,
            limit,
            (op & 0x7f) === Opcode.CMD ? "command" : "payload",
          );
        }
        if (avail < 5 + len) return undefined;
        const payload = data(5, len);
        if (op === Opcode.WRITE) return take(5 + len, { type: "write", data: payload });
        if (op === (Opcode.READ | REPLY_FLAG)) {
          return take(5 + len, { type: "read_reply", data: payload });
        }
        const text = len === 0 ? null : cString(payload);
        return take(
          5 + len,
          op === Opcode.CMD ? { type: "cmd", command: text } : { type: "cmd_reply", output: text },
        );
      }
      default:
        throw new UnknownOpcodeError(op);
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
