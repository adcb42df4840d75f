/**
 * Byte-array helpers shared by the codec, its users and the tests.
 *
 * @module
 */

/**
 * Join byte arrays into one new array.
 *
 * @param parts The arrays, in order.
 * @returns Their bytes, joined.
 *
 * @example
 * ```ts
 * import { concatBytes } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])])], [1, 2, 3]);
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
