/**
 * Big-endian integers written into a byte array in place, without allocating: the hot
 * paths of the client and server encode small packets straight into their write buffer.
 *
 * @module
 */

const scratch = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratch.buffer);

/**
 * Write `value` as a big-endian 32-bit integer (signed or unsigned) at `at`.
 *
 * @param bytes The destination.
 * @param at Where.
 * @param value The value.
 *
 * @example
 * ```ts
 * import { putU32 } from "./_bytes.ts";
 * const b = new Uint8Array(4);
 * putU32(b, 0, 0x01020304);
 * console.assert(b.join() === "1,2,3,4");
 * ```
 */
export function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/**
 * Write `value` as a big-endian unsigned 64-bit integer at `at` (taken modulo 2^64).
 *
 * @param bytes The destination.
 * @param at Where.
 * @param value The value.
 *
 * @example
 * ```ts
 * import { putU64 } from "./_bytes.ts";
 * const b = new Uint8Array(8);
 * putU64(b, 0, 0x1000n);
 * console.assert(b.join() === "0,0,0,0,0,0,16,0");
 * ```
 */
export function putU64(bytes: Uint8Array, at: number, value: bigint): void {
  scratch.setBigUint64(0, BigInt.asUintN(64, value));
  bytes.set(scratchBytes, at);
}
