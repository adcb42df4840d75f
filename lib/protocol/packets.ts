/**
 * The RAP packet types, one per opcode and direction.
 *
 * @module
 */

/**
 * OPEN request (`01 | flags:u8 | len:u8 | name[len]`, the NUL counted in `len`).
 * `flags` are radare2 permission bits (R=4, W=2, X=1).
 */
export interface OpenRequest {
  /** Discriminant. */
  type: "open";
  /** radare2 permission bits; the server only looks at W (2). */
  flags: number;
  /** The URI or path to open, without the trailing NUL. */
  name: string;
}

/** OPEN reply (`81 | fd:be32`). */
export interface OpenReply {
  /** Discriminant. */
  type: "open_reply";
  /** The descriptor number (signed 32 bit). */
  fd: number;
}

/** READ request (`02 | len:be32`): read at the session's seek without moving it. */
export interface ReadRequest {
  /** Discriminant. */
  type: "read";
  /** Requested length (unsigned 32 bit, as received). */
  length: number;
}

/** READ reply (`82 | len:be32 | data[len]`). */
export interface ReadReply {
  /** Discriminant. */
  type: "read_reply";
  /** The bytes read. */
  data: Uint8Array;
}

/** WRITE request (`03 | len:be32 | data[len]`): write at the session's seek. */
export interface WriteRequest {
  /** Discriminant. */
  type: "write";
  /** The bytes to write. */
  data: Uint8Array;
}

/** WRITE reply (`83 | result:be32`): bytes written (radare2's server sends 1 or 0). */
export interface WriteReply {
  /** Discriminant. */
  type: "write_reply";
  /** Bytes written (signed 32 bit). */
  result: number;
}

/** SEEK request (`04 | whence:u8 | offset:be64`). */
export interface SeekRequest {
  /** Discriminant. */
  type: "seek";
  /** 0 = SET, 1 = CUR, 2 = END (other values are kept as received). */
  whence: number;
  /** The offset (unsigned 64 bit). */
  offset: bigint;
}

/** SEEK reply (`84 | offset:be64`): the resulting absolute offset. */
export interface SeekReply {
  /** Discriminant. */
  type: "seek_reply";
  /** The resulting offset (unsigned 64 bit). */
  offset: bigint;
}

/** CLOSE request (`05 | fd:be32`). radare2 clients never send it. */
export interface CloseRequest {
  /** Discriminant. */
  type: "close";
  /** The descriptor to close (signed 32 bit). */
  fd: number;
}

/** CLOSE reply (`85 | result:be32`). */
export interface CloseReply {
  /** Discriminant. */
  type: "close_reply";
  /** 0 on success, -1 on failure (signed 32 bit). */
  result: number;
}

/**
 * CMD (`07 | len:be32 | text[len]`, `len` counting the trailing NUL). Sent by a client to
 * run a command, and by a server as a *reverse* command while the client awaits a reply.
 * `command` is `null` for a zero length.
 */
export interface CmdRequest {
  /** Discriminant. */
  type: "cmd";
  /** The command text without its trailing NUL, or `null` when the length is 0. */
  command: string | null;
}

/**
 * CMD reply (`87 | len:be32 | text[len]`, `len` counting the trailing NUL). `output` is
 * `null` for a zero length (radare2's "no result").
 */
export interface CmdReply {
  /** Discriminant. */
  type: "cmd_reply";
  /** The output without its trailing NUL, or `null` when the length is 0. */
  output: string | null;
}

/**
 * Extended READ (`11 | fd:be32 | offset:be64 | len:be32`): read at an offset of an fd
 * without a SEEK. Only after the extension probe succeeded.
 */
export interface ReadAtRequest {
  /** Discriminant. */
  type: "read_at";
  /** The fd to read (-1 = the current file). */
  fd: number;
  /** The offset (unsigned 64 bit). */
  offset: bigint;
  /** Requested length (at most the negotiated `maxdata`). */
  length: number;
}

/**
 * Extended READ reply (`91 | len:be32 | data[len]`). Shorter than requested only at the end
 * of the file's data; nothing is padded.
 */
export interface ReadAtReply {
  /** Discriminant. */
  type: "read_at_reply";
  /** The bytes read. */
  data: Uint8Array;
}

/**
 * Extended WRITE (`12 | fd:be32 | offset:be64 | len:be32 | data[len]`): write at an offset
 * of an fd without a SEEK.
 */
export interface WriteAtRequest {
  /** Discriminant. */
  type: "write_at";
  /** The fd to write (-1 = the current file). */
  fd: number;
  /** The offset (unsigned 64 bit). */
  offset: bigint;
  /** The bytes to write. */
  data: Uint8Array;
}

/** Extended WRITE reply (`92 | written:be32`): the byte count written. */
export interface WriteAtReply {
  /** Discriminant. */
  type: "write_at_reply";
  /** Bytes written. */
  result: number;
}

/** Extended SIZE (`13 | fd:be32`): the size of an fd. */
export interface SizeRequest {
  /** Discriminant. */
  type: "size";
  /** The fd (-1 = the current file). */
  fd: number;
}

/** Extended SIZE reply (`93 | size:be64`); `UT64_MAX` when unbounded. */
export interface SizeReply {
  /** Discriminant. */
  type: "size_reply";
  /** The size (unsigned 64 bit). */
  size: bigint;
}

/**
 * Extended error reply (`ff | code:be32 | len:be32 | message[len]`, UTF-8, no NUL): answers
 * any request, in its place, once the extensions are on; the connection stays usable.
 */
export interface ErrorReply {
  /** Discriminant. */
  type: "error";
  /** One of `ExtErrorCode`. */
  code: number;
  /** What went wrong, for people. */
  message: string;
}

/**
 * Any RAP packet.
 *
 * @example
 * ```ts
 * import { encodePacket, type RapPacket } from "@rap/cli/protocol";
 * const packet: RapPacket = { type: "read", length: 16 };
 * console.assert(encodePacket(packet).length === 5);
 * ```
 */
export type RapPacket =
  | OpenRequest
  | OpenReply
  | ReadRequest
  | ReadReply
  | WriteRequest
  | WriteReply
  | SeekRequest
  | SeekReply
  | CloseRequest
  | CloseReply
  | CmdRequest
  | CmdReply
  | ReadAtRequest
  | ReadAtReply
  | WriteAtRequest
  | WriteAtReply
  | SizeRequest
  | SizeReply
  | ErrorReply;

/**
 * A packet a client sends (including the CMD reply it sends to a reverse CMD).
 *
 * @example
 * ```ts
 * import type { RapRequest } from "@rap/cli/protocol";
 * const req: RapRequest = { type: "seek", whence: 0, offset: 0x10n };
 * console.assert(req.type === "seek");
 * ```
 */
export type RapRequest =
  | OpenRequest
  | ReadRequest
  | WriteRequest
  | SeekRequest
  | CloseRequest
  | CmdRequest
  | CmdReply
  | ReadAtRequest
  | WriteAtRequest
  | SizeRequest;

/**
 * A packet a server sends (including a reverse CMD).
 *
 * @example
 * ```ts
 * import type { RapReply } from "@rap/cli/protocol";
 * const reply: RapReply = { type: "open_reply", fd: 3 };
 * console.assert(reply.fd === 3);
 * ```
 */
export type RapReply =
  | OpenReply
  | ReadReply
  | WriteReply
  | SeekReply
  | CloseReply
  | CmdReply
  | CmdRequest
  | ReadAtReply
  | WriteAtReply
  | SizeReply
  | ErrorReply;
