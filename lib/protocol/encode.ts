/**
 * Encoding of RAP packets to wire bytes.
 *
 * @module
 */

import { Opcode, REPLY_FLAG } from "./constants.ts";
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
 * Encode one RAP packet into its exact wire bytes.
 *
 * Text (OPEN names, CMD text and output) is UTF-8 with the trailing NUL added and counted
 * in the length, as radare2 does; a `null` CMD text encodes as length 0.
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
  }
}
