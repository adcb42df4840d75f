/**
 * How failures reach the wire: the errors a connection throws to end itself, the one a
 * request throws to be refused, and the one mapping of every failure to the code of an
 * extended error reply.
 *
 * @module
 */

import {
  BadFdError,
  MemoryLimitError,
  OffsetError,
  PermissionDeniedError,
  ReadOnlyError,
} from "../io/errors.ts";
import { ExtErrorCode } from "../protocol/constants.ts";
import { BadLengthError, RapProtocolError } from "../protocol/errors.ts";
import type { RapPacket } from "../protocol/packets.ts";

/** Thrown inside a connection to close it; the message is the logged reason. */
export class DropConnection extends Error {
  /**
   * Create it.
   *
   * @param reason Why the connection is closed (logged as `closed: REASON`).
   */
  constructor(reason: string) {
    super(reason);
    this.name = "DropConnection";
  }
}

/** Thrown inside a connection when the server is shutting down and the client is quiet. */
export class ShuttingDown extends Error {
  /** Create it. */
  constructor() {
    super("server shutting down");
    this.name = "ShuttingDown";
  }
}

/**
 * A request refused by the server itself (not the IO layer), with its wire code: a READ
 * over the negotiated `maxdata`, an unexpected packet.
 */
export class RequestError extends Error {
  /** The code of the error reply (one of `ExtErrorCode`). */
  readonly code: number;

  /**
   * Create it.
   *
   * @param code The code.
   * @param message The message of the reply.
   */
  constructor(code: number, message: string) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}

/**
 * The code of the extended error reply for a failure: the one place where failures are
 * mapped to the wire.
 *
 * @param error What failed.
 * @param opening Whether it failed an OPEN (a failure of the IO layer is then
 *   `OPEN_FAILED`, else `IO_ERROR`).
 * @returns One of `ExtErrorCode`.
 */
export function wireCode(error: unknown, opening = false): number {
  if (error instanceof RequestError) return error.code;
  if (error instanceof PermissionDeniedError || error instanceof Deno.errors.NotCapable) {
    return ExtErrorCode.NOT_PERMITTED;
  }
  if (opening) return ExtErrorCode.OPEN_FAILED;
  if (error instanceof BadFdError) return ExtErrorCode.BAD_FD;
  if (error instanceof ReadOnlyError) return ExtErrorCode.READ_ONLY;
  if (error instanceof MemoryLimitError) return ExtErrorCode.NOT_PERMITTED;
  if (error instanceof OffsetError) return ExtErrorCode.BAD_REQUEST;
  if (error instanceof BadLengthError) return ExtErrorCode.TOO_LONG;
  if (error instanceof RapProtocolError) return ExtErrorCode.BAD_REQUEST;
  return ExtErrorCode.IO_ERROR;
}

/**
 * The extended error reply for a failure.
 *
 * @param error What failed.
 * @param opening Whether it failed an OPEN.
 * @returns The packet.
 */
export function errorReply(error: unknown, opening = false): RapPacket {
  return { type: "error", code: wireCode(error, opening), message: (error as Error).message };
}
