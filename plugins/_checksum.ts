/**
 * CRC-32 (ISO 3309, as in gzip and zip) and Adler-32 (zlib), incremental.
 *
 * @module
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * The CRC-32 of `bytes`, continuing from `crc` (the CRC of what came before).
 *
 * @param bytes The data.
 * @param crc The CRC so far (0 to start).
 * @returns The CRC-32 as an unsigned number.
 *
 * @example
 * ```ts
 * import { crc32 } from "./_checksum.ts";
 * import assert from "node:assert/strict";
 *
 * const data = new TextEncoder().encode("123456789");
 * assert.equal(crc32(data), 0xcbf43926);
 * assert.equal(crc32(data.subarray(4), crc32(data.subarray(0, 4))), 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The Adler-32 of `bytes`, continuing from `adler` (1 to start).
 *
 * @param bytes The data.
 * @param adler The checksum so far.
 * @returns The Adler-32 as an unsigned number.
 *
 * @example
 * ```ts
 * import { adler32 } from "./_checksum.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(adler32(new TextEncoder().encode("Wikipedia")), 0x11e60398);
 * ```
 */
export function adler32(bytes: Uint8Array, adler = 1): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  for (let i = 0; i < bytes.length;) {
    const end = Math.min(bytes.length, i + 5552);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
