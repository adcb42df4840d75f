/**
 * Encoding of RAP packets to wire bytes.
 *
 * @module
 */

import { concatBytes } from "./bytes.ts";
import { EXT_ERROR, ExtOpcode, Opcode, REPLY_FLAG } from "./constants.ts";
import type { RapPacket } from "./packets.ts";

const utf8 = new TextEncoder();

function header(size: number, opcode: number): [Uint8Array, DataView] {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = opcode;
  return [bytes, view];
}

function withLength(opcode: number, payload: Uint8Array): Uint8Array {
  const [bytes, view] = header(5 + payload.length, opcode);
  view.setUint32(1, payload.length);
  bytes.set(payload, 5);
  return bytes;
}

function nulTerminated(text: string | null): Uint8Array {
  if (text === null) return new Uint8Array(0);
  const encoded = utf8.encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

function be32(opcode: number, value: number): Uint8Array {
  const [bytes, view] = header(5, opcode);
  view.setInt32(1, value | 0);
  return bytes;
}

/**
 * Encode the 5-byte header of a READ reply (`82 | len:be32`), for writers that send the
 * payload separately without copying it.
 *
 * @param length The payload length.
 * @returns The header bytes.
 *
 * @example
 * ```ts
 * import { encodeReadReplyHeader } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...encodeReadReplyHeader(16)], [0x82, 0, 0, 0, 16]);
 * ```
 */
export function encodeReadReplyHeader(length: number): Uint8Array {
  const [bytes, view] = header(5, Opcode.READ | REPLY_FLAG);
  view.setUint32(1, length);
  return bytes;
}

/**
 * The packets whose payload is raw bytes (`data`), which a writer can send uncopied.
 *
 * @example
 * ```ts
 * import type { DataPacket } from "@rap/cli/protocol";
 * const packet: DataPacket = { type: "read_reply", data: new Uint8Array(4) };
 * console.assert(packet.data.length === 4);
 * ```
 */
export type DataPacket = Extract<RapPacket, { data: Uint8Array }>;

/**
 * Encode the header of a packet that carries raw bytes (READ and extended READ replies,
 * WRITE and extended WRITE requests): everything but `data`, which the caller sends right
 * after it, so large payloads go to the socket without being copied.
 *
 * @param packet The packet.
 * @returns The header bytes; the header followed by `packet.data` is `encodePacket(packet)`.
 *
 * @example
 * ```ts
 * import { encodePacket, encodePacketHeader } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const packet = { type: "write_at", fd: 3, offset: 16n, data: new Uint8Array([1, 2]) } as const;
 * const header = encodePacketHeader(packet);
 * assert.equal(header.length, 17);
 * assert.deepEqual([...header, ...packet.data], [...encodePacket(packet)]);
 * ```
 */
export function encodePacketHeader(packet: DataPacket): Uint8Array {
  const length = packet.data.length;
  switch (packet.type) {
    case "read_reply":
    case "write":
    case "read_at_reply": {
      const op = packet.type === "read_reply"
        ? Opcode.READ | REPLY_FLAG
        : packet.type === "write"
        ? Opcode.WRITE
        : ExtOpcode.READ_AT | REPLY_FLAG;
      const [bytes, view] = header(5, op);
      view.setUint32(1, length);
      return bytes;
    }
    case "write_at":
      return atHeader(ExtOpcode.WRITE_AT, packet.fd, packet.offset, length);
  }
}

function atHeader(op: number, fd: number, offset: bigint, length: number): Uint8Array {
  const [bytes, view] = header(17, op);
  view.setInt32(1, fd | 0);
  view.setBigUint64(5, BigInt.asUintN(64, offset));
  view.setUint32(13, length);
  return bytes;
}

function withHeader(head: Uint8Array, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + payload.length);
  bytes.set(head);
  bytes.set(payload, head.length);
  return bytes;
}

/**
 * Encode one RAP packet into its exact wire bytes.
 *
 * Text (OPEN names, CMD text and output) is UTF-8 with the trailing NUL added and counted
 * in the length, as radare2 does; a `null` CMD text encodes as length 0. Extended packets
 * (`read_at`, `write_at`, `size` and their replies, `error`) follow `docs/protocol.md`.
 *
 * @param packet The packet to encode.
 * @returns The wire bytes.
 * @throws {RangeError} If a field does not fit its wire width (e.g. an OPEN name over 254 bytes).
 *
 * @example Encode an OPEN as radare2's client does for `rap://host:9999//bin/ls`
 * ```ts
 * import { encodePacket } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodePacket({ type: "open", flags: 5, name: "/bin/ls" });
 * assert.deepEqual([...bytes], [0x01, 0x05, 0x08, 0x2f, 0x62, 0x69, 0x6e, 0x2f, 0x6c, 0x73, 0x00]);
 * ```
 */
export function encodePacket(packet: RapPacket): Uint8Array {
  switch (packet.type) {
    case "open": {
      const name = nulTerminated(packet.name);
      if (name.length > 255) {
        throw new RangeError(
          `Cannot encode OPEN: name is ${name.length - 1} bytes long (at most 254)`,
        );
      }
      const [bytes] = header(3 + name.length, Opcode.OPEN);
      bytes[1] = packet.flags & 0xff;
      bytes[2] = name.length;
      bytes.set(name, 3);
      return bytes;
    }
    case "open_reply":
      return be32(Opcode.OPEN | REPLY_FLAG, packet.fd);
    case "read": {
      const [bytes, view] = header(5, Opcode.READ);
      view.setUint32(1, packet.length);
      return bytes;
    }
    case "read_reply":
      return withLength(Opcode.READ | REPLY_FLAG, packet.data);
    case "write":
      return withLength(Opcode.WRITE, packet.data);
    case "write_reply":
      return be32(Opcode.WRITE | REPLY_FLAG, packet.result);
    case "seek": {
      const [bytes, view] = header(10, Opcode.SEEK);
      bytes[1] = packet.whence & 0xff;
      view.setBigUint64(2, BigInt.asUintN(64, packet.offset));
      return bytes;
    }
    case "seek_reply": {
      const [bytes, view] = header(9, Opcode.SEEK | REPLY_FLAG);
      view.setBigUint64(1, BigInt.asUintN(64, packet.offset));
      return bytes;
    }
    case "close":
      return be32(Opcode.CLOSE, packet.fd);
    case "close_reply":
      return be32(Opcode.CLOSE | REPLY_FLAG, packet.result);
    case "cmd":
      return withLength(Opcode.CMD, nulTerminated(packet.command));
    case "cmd_reply":
      return withLength(Opcode.CMD | REPLY_FLAG, nulTerminated(packet.output));
    case "read_at":
      return atHeader(ExtOpcode.READ_AT, packet.fd, packet.offset, packet.length);
    case "read_at_reply":
      return withLength(ExtOpcode.READ_AT | REPLY_FLAG, packet.data);
    case "write_at":
      return withHeader(encodePacketHeader(packet), packet.data);
    case "write_at_reply":
      return be32(ExtOpcode.WRITE_AT | REPLY_FLAG, packet.result);
    case "size":
      return be32(ExtOpcode.SIZE, packet.fd);
    case "size_reply": {
      const [bytes, view] = header(9, ExtOpcode.SIZE | REPLY_FLAG);
      view.setBigUint64(1, BigInt.asUintN(64, packet.size));
      return bytes;
    }
    case "error": {
      const message = utf8.encode(packet.message);
      const [bytes, view] = header(9 + message.length, EXT_ERROR);
      view.setUint32(1, packet.code >>> 0);
      view.setUint32(5, message.length);
      bytes.set(message, 9);
      return bytes;
    }
  }
}

/**
 * Encode several packets into one buffer, as a client pipelining them sends it.
 *
 * @param packets The packets, in order.
 * @returns Their wire bytes, joined.
 *
 * @example
 * ```ts
 * import { encodePackets } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodePackets([{ type: "read", length: 1 }, { type: "cmd", command: "" }]);
 * assert.deepEqual([...bytes], [0x02, 0, 0, 0, 1, 0x07, 0, 0, 0, 1, 0]);
 * ```
 */
export function encodePackets(packets: readonly RapPacket[]): Uint8Array {
  return concatBytes(packets.map(encodePacket));
}
