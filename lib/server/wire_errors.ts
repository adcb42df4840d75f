/**
 * How failures reach the wire: the errors a connection throws to end itself, the one a
 * request throws to be refused, and the one mapping of every failure to the code of an
 * extended error reply.
 *
 * @module
 */

import {
  BadFdError,
  ConnectionLostError,
  MemoryLimitError,
  OffsetError,
  PermissionDeniedError,
  ReadOnlyError,
} from "../io/errors.ts";
import { ExtErrorCode } from "../protocol/constants.ts";
import { BadLengthError, RapProtocolError } from "../protocol/errors.ts";
import { encodePacket } from "../protocol/encode.ts";
import type { RapPacket } from "../protocol/packets.ts";
import type { ConnectionContext } from "./context.ts";

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

/**
 * Whether an error means the socket itself is gone (closed, reset, broken).
 *
 * @param error The error.
 * @returns True for the errors of a closed or broken connection.
 */
export function connectionGone(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted;
}

/**
 * Why a connection ended, for its log line, once `error` ended its request loop; a
 * last error reply goes out first where the client is owed one (a malformed request on
 * a connection with the extensions on).
 *
 * @param c The connection.
 * @param error What ended it.
 * @returns The reason (`closed: ...`, `disconnected`).
 */
export async function endReason(c: ConnectionContext, error: unknown): Promise<string> {
  const writer = c.writer;
  if (error instanceof ShuttingDown) {
    await writer.flush().catch(() => {});
    return "closed: server shutting down";
  }
  if (
    error instanceof DropConnection || error instanceof RapProtocolError ||
    error instanceof ConnectionLostError
  ) {
    let reason = `closed: ${error.message}`;
    if (error instanceof RapProtocolError && error.opcode === 0x16 && !c.ext) {
      reason += " (a TLS client? serve raps:// with --cert and --key)";
    }
    if (c.ext !== undefined && error instanceof RapProtocolError) {
      writer.write(encodePacket(errorReply(error)));
    }
    await writer.flush().catch(() => {});
    return reason;
  }
  if (connectionGone(error)) {
    return c.server.closing ? "closed: server shutting down" : "disconnected";
  }
  return `closed after an internal error: ${(error as Error).message}`;
}
