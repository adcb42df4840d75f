/**
 * Typed errors for malformed RAP input.
 *
 * @module
 */

/**
 * Base class of every error the RAP codec raises for malformed input.
 *
 * @example Catch any codec error
 * ```ts
 * import { decodePacket, RapProtocolError } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodePacket(new Uint8Array([0x42])), RapProtocolError);
 * ```
 */
export class RapProtocolError extends Error {
  /** The opcode of the packet being decoded, when known. */
  readonly opcode: number | undefined;

  /**
   * Create a protocol error.
   *
   * @param message What is wrong, quoting the bad value.
   * @param opcode The opcode of the offending packet, if known.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, opcode?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "RapProtocolError";
    this.opcode = opcode;
  }
}

/**
 * The first byte of a packet is not an opcode this side accepts.
 *
 * @example
 * ```ts
 * import { decodePacket, UnknownOpcodeError } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodePacket(new Uint8Array([0x06, 0, 0, 0, 0])), UnknownOpcodeError);
 * ```
 */
export class UnknownOpcodeError extends RapProtocolError {
  /**
   * Create it.
   *
   * @param opcode The unknown opcode byte.
   */
  constructor(opcode: number) {
    super(`Unknown RAP opcode 0x${opcode.toString(16).padStart(2, "0")}`, opcode);
    this.name = "UnknownOpcodeError";
  }
}

/**
 * A length field is outside what this side accepts (for example a WRITE over the payload
 * limit, or a CMD of 0xffffffff bytes).
 *
 * @example
 * ```ts
 * import { decodePacket, BadLengthError } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const write = new Uint8Array([0x03, 0x00, 0x00, 0x10, 0x01]); // WRITE of 4097 bytes
 * assert.throws(() => decodePacket(write), BadLengthError);
 * ```
 */
export class BadLengthError extends RapProtocolError {
  /** The offending length value. */
  readonly length: number;
  /** The largest length accepted here. */
  readonly limit: number;

  /**
   * Create it.
   *
   * @param opcode The packet's opcode.
   * @param length The length field as received.
   * @param limit The largest accepted value.
   * @param what What the length measures, for the message.
   */
  constructor(opcode: number, length: number, limit: number, what = "payload") {
    super(
      `Bad RAP ${what} length ${length} in packet 0x${
        opcode.toString(16).padStart(2, "0")
      } (limit ${limit})`,
      opcode,
    );
    this.name = "BadLengthError";
    this.length = length;
    this.limit = limit;
  }
}

/**
 * The input ended in the middle of a packet.
 *
 * @example
 * ```ts
 * import { decodePacket, TruncatedPacketError } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodePacket(new Uint8Array([0x02, 0x00])), TruncatedPacketError);
 * ```
 */
export class TruncatedPacketError extends RapProtocolError {
  /** How many bytes were available. */
  readonly available: number;

  /**
   * Create it.
   *
   * @param opcode The packet's opcode.
   * @param available Bytes received for the packet.
   * @param needed Bytes the packet needs in all (when known).
   */
  constructor(opcode: number, available: number, needed?: number) {
    super(
      `Truncated RAP packet 0x${opcode.toString(16).padStart(2, "0")}: ${available} byte(s)` +
        (needed === undefined ? "" : ` of ${needed}`),
      opcode,
    );
    this.name = "TruncatedPacketError";
    this.available = available;
  }
}

/**
 * The connection to the peer closed (or failed) while a request was waiting for its reply.
 *
 * @example
 * ```ts
 * import { RapConnectionError } from "@rap/cli/protocol";
 * const err = new RapConnectionError("Connection to 127.0.0.1:9999 closed while waiting for a READ reply");
 * console.assert(err.name === "RapConnectionError");
 * ```
 */
export class RapConnectionError extends Error {
  /**
   * Create it.
   *
   * @param message What happened, naming the peer.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RapConnectionError";
  }
}

/**
 * The peer answered a request with an extended error reply (`ff | code | message`): the
 * request failed, the connection is still usable.
 *
 * @example
 * ```ts
 * import { ExtErrorCode, RapRemoteError } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const err = new RapRemoteError(ExtErrorCode.BAD_FD, "No open file with fd 9");
 * assert.equal(err.code, 3);
 * assert.match(err.message, /fd 9/);
 * ```
 */
export class RapRemoteError extends Error {
  /** The error code (one of `ExtErrorCode`). */
  readonly code: number;

  /**
   * Create it.
   *
   * @param code The code from the error reply.
   * @param message The message from the error reply.
   * @param options Standard error options (`cause`).
   */
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RapRemoteError";
    this.code = code;
  }
}
