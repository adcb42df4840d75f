/**
 * Hostile archives for the memory tests, written by hand: zip structures (local headers,
 * central directory, end record) around deflate streams of zeros, and gzip bombs.
 *
 * @module
 */

import { concatBytes } from "../mod.ts";
import { crc32 } from "../plugins/_checksum.ts";

/** A raw deflate stream of zeros with what a zip entry declares about it. */
export interface ZeroStream {
  /** The compressed bytes (deflate of zeros is about 1000:1). */
  data: Uint8Array;
  /** The uncompressed size. */
  size: number;
  /** The CRC-32 of `size` zeros. */
  crc32: number;
}

/** One central-directory entry of {@linkcode buildZip}. */
export interface ZipEntrySpec {
  /** The entry name. */
  name: string;
  /** The compressed bytes. */
  data: Uint8Array;
  /** The declared uncompressed size. */
  size: number;
  /** The declared CRC-32. */
  crc32: number;
  /** 8 deflate (default) or 0 stored. */
  method?: number;
  /**
   * Point the entry at the local header of the entry with this index instead of writing
   * its own (an overlapping entry: both share one local header and one data range).
   */
  sharesWith?: number;
  /** Declare this compressed size instead of `data.length` (a range that runs on). */
  compressedSize?: number;
}

/**
 * The CRC-32 of `size` zero bytes, without hashing them: the CRC of a 1 MiB block of zeros
 * combined with itself (zlib's `crc32_combine`, GF(2) matrices).
 *
 * @param size The count of zeros (a multiple of 1 MiB, or under it).
 * @returns The CRC-32.
 */
export function crc32OfZeros(size: number): number {
  const block = 1 << 20;
  if (size <= block) return crc32(new Uint8Array(size));
  if (size % block !== 0) throw new RangeError(`size ${size} is not a multiple of 1 MiB`);
  const one = crc32(new Uint8Array(block));
  let result = 0;
  let resultLength = 0;
  let power = one; // the CRC of `powerLength` zeros
  let powerLength = block;
  for (let count = size / block; count > 0; count >>= 1) {
    if (count & 1) {
      result = resultLength === 0 ? power : crc32Combine(result, power, powerLength);
      resultLength += powerLength;
    }
    power = crc32Combine(power, power, powerLength);
    powerLength *= 2;
  }
  return result;
}

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i];
  return sum >>> 0;
}

function square(out: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n]);
}

/** zlib's `crc32_combine`: the CRC of A+B from CRC(A), CRC(B) and B's length. */
function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  square(even, odd);
  square(odd, even);
  let crc = crcA;
  for (let length = lengthB; length > 0;) {
    square(even, odd);
    if (length % 2 === 1) crc = times(even, crc);
    length = Math.floor(length / 2);
    if (length === 0) break;
    square(odd, even);
    if (length % 2 === 1) crc = times(odd, crc);
    length = Math.floor(length / 2);
  }
  return (crc ^ crcB) >>> 0;
}

/**
 * Deflate `size` zeros (Web `CompressionStream`, fed one zero block at a time).
 *
 * @param size The uncompressed size (a multiple of 1 MiB, or under it).
 * @param format `deflate-raw` for zip members, `gzip` for a gzip file.
 * @returns The stream and its CRC-32.
 */
export async function deflateZeros(
  size: number,
  format: "deflate-raw" | "gzip" = "deflate-raw",
): Promise<ZeroStream> {
  const block = new Uint8Array(Math.min(size, 1 << 20));
  let left = size;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, block.length);
      controller.enqueue(block.subarray(0, n));
      left -= n;
    },
  });
  const data = await new Response(source.pipeThrough(new CompressionStream(format))).bytes();
  return { data, size, crc32: crc32OfZeros(size) };
}

/**
 * A zip archive with these entries: each gets a local header followed by its data (or
 * shares another's, see {@linkcode ZipEntrySpec.sharesWith}), then the central directory
 * and the end record (with zip64 end records past 65,535 entries). 32-bit sizes and offsets
 * (under 4 GiB).
 *
 * @param entries The entries, in central-directory order.
 * @returns The archive bytes.
 */
export function buildZip(entries: readonly ZipEntrySpec[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const entry of entries) {
    if (entry.sharesWith !== undefined) {
      offsets.push(offsets[entry.sharesWith]);
      continue;
    }
    const name = encoder.encode(entry.name);
    const local = new Uint8Array(30 + name.length);
    const view = new DataView(local.buffer);
    view.setUint32(0, 0x04034b50, true);
    view.setUint16(4, 20, true);
    view.setUint16(8, entry.method ?? 8, true);
    view.setUint32(14, entry.crc32, true);
    view.setUint32(18, entry.compressedSize ?? entry.data.length, true);
    view.setUint32(22, entry.size, true);
    view.setUint16(26, name.length, true);
    local.set(name, 30);
    offsets.push(at);
    parts.push(local, entry.data);
    at += local.length + entry.data.length;
  }
  const cdStart = at;
  entries.forEach((entry, i) => {
    const name = encoder.encode(entry.name);
    const central = new Uint8Array(46 + name.length);
    const view = new DataView(central.buffer);
    view.setUint32(0, 0x02014b50, true);
    view.setUint16(4, 20, true);
    view.setUint16(6, 20, true);
    view.setUint16(10, entry.method ?? 8, true);
    view.setUint32(16, entry.crc32, true);
    view.setUint32(20, entry.compressedSize ?? entry.data.length, true);
    view.setUint32(24, entry.size, true);
    view.setUint16(28, name.length, true);
    view.setUint32(42, offsets[i], true);
    central.set(name, 46);
    parts.push(central);
    at += central.length;
  });
  const cdSize = at - cdStart;
  if (entries.length > 0xffff) {
    // Zip64 end record and locator: the entry count does not fit 16 bits.
    const zip64 = new Uint8Array(56 + 20);
    const z = new DataView(zip64.buffer);
    z.setUint32(0, 0x06064b50, true);
    z.setBigUint64(4, 44n, true);
    z.setUint16(12, 45, true);
    z.setUint16(14, 45, true);
    z.setBigUint64(24, BigInt(entries.length), true);
    z.setBigUint64(32, BigInt(entries.length), true);
    z.setBigUint64(40, BigInt(cdSize), true);
    z.setBigUint64(48, BigInt(cdStart), true);
    z.setUint32(56, 0x07064b50, true);
    z.setBigUint64(56 + 8, BigInt(at), true);
    z.setUint32(56 + 16, 1, true);
    parts.push(zip64);
    at += zip64.length;
  }
  const end = new Uint8Array(22);
  const view = new DataView(end.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, Math.min(entries.length, 0xffff), true);
  view.setUint16(10, Math.min(entries.length, 0xffff), true);
  view.setUint32(12, cdSize, true);
  view.setUint32(16, cdStart, true);
  parts.push(end);
  return concatBytes(parts);
}

/**
 * The measured bomb: `count` central-directory entries that all point to one local header
 * and so to one shared deflate stream (1 GiB of zeros in about 1 MB).
 *
 * @param stream The shared stream.
 * @param count How many entries share it (default 8).
 * @returns The archive bytes.
 */
export function sharedStreamZip(stream: ZeroStream, count = 8): Uint8Array {
  return buildZip(
    Array.from({ length: count }, (_, i) => ({
      name: `zeros${i}.bin`,
      data: stream.data,
      size: stream.size,
      crc32: stream.crc32,
      ...(i > 0 ? { sharesWith: 0 } : {}),
    })),
  );
}
