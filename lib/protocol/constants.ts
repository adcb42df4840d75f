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
