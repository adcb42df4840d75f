/**
 * Opcodes, limits and seek modes of radare2's Remote Access Protocol.
 *
 * @module
 */

/**
 * RAP request opcodes. A reply carries the same opcode with {@linkcode REPLY_FLAG} set.
 *
 * @example Build a reply opcode
 * ```ts
 * import { Opcode, REPLY_FLAG } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(Opcode.READ | REPLY_FLAG, 0x82);
 * ```
 */
export const Opcode = {
  OPEN: 0x01,
  READ: 0x02,
  WRITE: 0x03,
  SEEK: 0x04,
  CLOSE: 0x05,
  CMD: 0x07,
} as const;

/**
 * A RAP request opcode.
 *
 * @example
 * ```ts
 * import { Opcode, type OpcodeValue } from "@rap/cli/protocol";
 * const op: OpcodeValue = Opcode.SEEK;
 * console.assert(op === 4);
 * ```
 */
export type OpcodeValue = typeof Opcode[keyof typeof Opcode];

/**
 * The bit OR-ed into a request opcode to make its reply opcode.
 *
 * @example
 * ```ts
 * import { REPLY_FLAG } from "@rap/cli/protocol";
 * console.assert((0x81 & REPLY_FLAG) !== 0);
 * ```
 */
export const REPLY_FLAG = 0x80;

/**
 * radare2's `RAP_PACKET_MAX`: the largest READ/WRITE payload a radare2 peer handles.
 *
 * @example
 * ```ts
 * import { RAP_PACKET_MAX } from "@rap/cli/protocol";
 * console.assert(RAP_PACKET_MAX === 4096);
 * ```
 */
export const RAP_PACKET_MAX = 4096;

/**
 * The largest CMD request radare2's server accepts, the trailing NUL included (1..4095).
 *
 * @example
 * ```ts
 * import { RAP_CMD_MAX } from "@rap/cli/protocol";
 * console.assert(RAP_CMD_MAX === 4095);
 * ```
 */
export const RAP_CMD_MAX = 4095;

/**
 * The largest CMD reply a radare2 client accepts, the trailing NUL included.
 *
 * @example
 * ```ts
 * import { RAP_CMD_REPLY_MAX } from "@rap/cli/protocol";
 * console.assert(RAP_CMD_REPLY_MAX === 16384);
 * ```
 */
export const RAP_CMD_REPLY_MAX = 16384;

/**
 * The longest OPEN file name: the length byte counts the NUL and radare2's server stops on
 * a length byte of 255, so 253 characters is the safe maximum.
 *
 * @example
 * ```ts
 * import { RAP_NAME_MAX } from "@rap/cli/protocol";
 * console.assert(RAP_NAME_MAX === 253);
 * ```
 */
export const RAP_NAME_MAX = 253;

/**
 * SEEK modes (`R_IO_SEEK_*`).
 *
 * @example
 * ```ts
 * import { Whence } from "@rap/cli/protocol";
 * console.assert(Whence.END === 2);
 * ```
 */
export const Whence = { SET: 0, CUR: 1, END: 2 } as const;

/**
 * A SEEK mode value.
 *
 * @example
 * ```ts
 * import { Whence, type WhenceValue } from "@rap/cli/protocol";
 * const w: WhenceValue = Whence.CUR;
 * console.assert(w === 1);
 * ```
 */
export type WhenceValue = typeof Whence[keyof typeof Whence];

/**
 * radare2's permission bits, as sent in the OPEN flags byte.
 *
 * @example
 * ```ts
 * import { Perm } from "@rap/cli/protocol";
 * console.assert((Perm.R | Perm.X) === 5);
 * ```
 */
export const Perm = { R: 4, W: 2, X: 1 } as const;

/**
 * `UT64_MAX`, the offset radare2 uses for "no size" / "unbounded".
 *
 * @example
 * ```ts
 * import { UT64_MAX } from "@rap/cli/protocol";
 * console.assert(UT64_MAX === 0xffffffffffffffffn);
 * ```
 */
export const UT64_MAX = 0xffffffffffffffffn;

/**
 * Opcodes of the rap extensions (see `docs/protocol.md`). radare2 drops the connection on
 * each of them, so a client sends them only after the server accepted the extension probe
 * ({@linkcode EXT_PROBE}). Replies set {@linkcode REPLY_FLAG}, as for plain packets; any
 * extended request may instead be answered with {@linkcode EXT_ERROR}.
 *
 * @example
 * ```ts
 * import { ExtOpcode, REPLY_FLAG } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(ExtOpcode.READ_AT | REPLY_FLAG, 0x91);
 * ```
 */
export const ExtOpcode = {
  READ_AT: 0x11,
  WRITE_AT: 0x12,
  SIZE: 0x13,
} as const;

/**
 * The opcode of an extended error reply (`ff | code:be32 | len:be32 | message[len]`).
 *
 * @example
 * ```ts
 * import { EXT_ERROR } from "@rap/cli/protocol";
 * console.assert(EXT_ERROR === 0xff);
 * ```
 */
export const EXT_ERROR = 0xff;

/**
 * The fd that addresses the session's current file in extended requests (be32 `ffffffff`).
 *
 * @example
 * ```ts
 * import { CURRENT_FD } from "@rap/cli/protocol";
 * console.assert(CURRENT_FD === -1);
 * ```
 */
export const CURRENT_FD: number = -1;

/**
 * Codes carried by an extended error reply.
 *
 * @example
 * ```ts
 * import { ExtErrorCode } from "@rap/cli/protocol";
 * console.assert(ExtErrorCode.BAD_FD === 3);
 * ```
 */
export const ExtErrorCode = {
  /** The request is malformed (e.g. an offset past 2^53). */
  BAD_REQUEST: 1,
  /** A length is over the negotiated `maxdata`. */
  TOO_LONG: 2,
  /** No open file has that fd. */
  BAD_FD: 3,
  /** OPEN failed (the connection stays open, unlike plain RAP). */
  OPEN_FAILED: 4,
  /** Write to a file or server that is read-only. */
  READ_ONLY: 5,
  /** The IO plugin failed. */
  IO_ERROR: 6,
  /** The server's Deno permissions refuse it. */
  NOT_PERMITTED: 7,
  /** Reserved: the server wants a token in the probe first. */
  AUTH_REQUIRED: 8,
} as const;

/**
 * An extended error code value.
 *
 * @example
 * ```ts
 * import { ExtErrorCode, type ExtErrorCodeValue } from "@rap/cli/protocol";
 * const code: ExtErrorCodeValue = ExtErrorCode.IO_ERROR;
 * console.assert(code === 6);
 * ```
 */
export type ExtErrorCodeValue = typeof ExtErrorCode[keyof typeof ExtErrorCode];

/**
 * The text a client sends in a CMD to ask for the extensions. radare2 treats a command
 * starting with `#` as a comment and answers an empty string, so a radare2 server simply
 * stays plain.
 *
 * @example
 * ```ts
 * import { EXT_PROBE } from "@rap/cli/protocol";
 * console.assert(EXT_PROBE.startsWith("#"));
 * ```
 */
export const EXT_PROBE = "#rap-ext?";

/**
 * The first word of a server's positive answer to {@linkcode EXT_PROBE}.
 *
 * @example
 * ```ts
 * import { EXT_OFFER } from "@rap/cli/protocol";
 * console.assert(EXT_OFFER === "#rap-ext");
 * ```
 */
export const EXT_OFFER = "#rap-ext";

/**
 * The version of the extension set described in `docs/protocol.md`.
 *
 * @example
 * ```ts
 * import { EXT_VERSION } from "@rap/cli/protocol";
 * console.assert(EXT_VERSION === 1);
 * ```
 */
export const EXT_VERSION = 1;

/**
 * The largest extended READ/WRITE payload our server offers by default (8 MiB).
 *
 * @example
 * ```ts
 * import { EXT_MAX_DATA } from "@rap/cli/protocol";
 * console.assert(EXT_MAX_DATA === 8 * 1024 * 1024);
 * ```
 */
export const EXT_MAX_DATA = 8 * 1024 * 1024;

/**
 * The largest `maxdata` a peer may announce (256 MiB); larger values are capped to it.
 *
 * @example
 * ```ts
 * import { EXT_MAX_DATA_LIMIT } from "@rap/cli/protocol";
 * console.assert(EXT_MAX_DATA_LIMIT === 1 << 28);
 * ```
 */
export const EXT_MAX_DATA_LIMIT = 1 << 28;
