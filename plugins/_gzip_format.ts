/**
 * The gzip (RFC 1952) and zlib (RFC 1950) containers around DEFLATE: detect which one a
 * file is, check its header and checksums, inflate it under a size limit, and build it
 * again around new contents.
 *
 * @module
 */

import { concatBytes } from "../lib/protocol/bytes.ts";
import { adler32, crc32 } from "./_checksum.ts";
import { InflateError, type InflateOptions, inflateRaw } from "./_inflate.ts";

/**
 * A decoded gzip or zlib file.
 *
 * @example
 * ```ts
 * import type { CompressedFile } from "./_gzip_format.ts";
 * const file: CompressedFile = { format: "zlib", header: new Uint8Array([0x78, 0x9c]), data: new Uint8Array(0), members: 1 };
 * console.assert(file.format === "zlib");
 * ```
 */
export interface CompressedFile {
  /** Which container it was. */
  format: "gzip" | "zlib";
  /** The header bytes of the (first) member, kept to write the file back the same way. */
  header: Uint8Array;
  /** The decompressed contents (all members of a multi-member gzip file, joined). */
  data: Uint8Array;
  /** How many gzip members were read (1 for zlib). */
  members: number;
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/**
 * Whether `bytes` start like a gzip member (`1f 8b 08`).
 *
 * @param bytes The data.
 * @param at Where to look.
 * @returns True for a gzip magic.
 *
 * @example
 * ```ts
 * import { isGzip } from "./_gzip_format.ts";
 * console.assert(isGzip(new Uint8Array([0x1f, 0x8b, 8, 0])));
 * ```
 */
export function isGzip(bytes: Uint8Array, at = 0): boolean {
  return bytes[at] === 0x1f && bytes[at + 1] === 0x8b && bytes[at + 2] === 8;
}

/**
 * Whether `bytes` start with a zlib header (deflate, window ≤ 32 KiB, valid check bits).
 *
 * @param bytes The data.
 * @returns True for a zlib header.
 *
 * @example
 * ```ts
 * import { isZlib } from "./_gzip_format.ts";
 * console.assert(isZlib(new Uint8Array([0x78, 0x9c])));
 * ```
 */
export function isZlib(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  const cmf = bytes[0];
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | bytes[1]) % 31 === 0;
}

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** Parse one gzip member header at `at`; returns where the deflate data starts. */
function gzipHeaderEnd(bytes: Uint8Array, at: number): number {
  if (bytes.length - at < 10) throw new InflateError("Truncated gzip header");
  const flags = bytes[at + 3];
  if (flags & 0xe0) throw new InflateError("Invalid gzip header: reserved flags are set");
  let p = at + 10;
  if (flags & FEXTRA) {
    if (p + 2 > bytes.length) throw new InflateError("Truncated gzip header");
    p += 2 + (bytes[p] | (bytes[p + 1] << 8));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    while (p < bytes.length && bytes[p] !== 0) p++;
    p++;
  }
  if (flags & FHCRC) {
    if (p + 2 > bytes.length) throw new InflateError("Truncated gzip header");
    const want = bytes[p] | (bytes[p + 1] << 8);
    if ((crc32(bytes.subarray(at, p)) & 0xffff) !== want) {
      throw new InflateError("Corrupt gzip header: header CRC mismatch");
    }
    p += 2;
  }
  if (p > bytes.length) throw new InflateError("Truncated gzip header");
  return p;
}

/**
 * Decode a gzip or zlib file, as zlib's `inflateInit2(MAX_WBITS + 32)` does: the container
 * is detected from the header. Every checksum is verified. A gzip file may hold several
 * members (they are joined, as `gzip -d` does); anything after the last member or after
 * the zlib stream is ignored, as radare2 does.
 *
 * @param bytes The file contents.
 * @param maxOutput The most decompressed bytes allowed.
 * @param onAllocate Called before each output buffer is allocated, with its size and the
 * bytes produced so far; throwing stops the inflate (a running memory budget: gzip's ISIZE
 * is only the size modulo 2^32 and may lie, so it is only a hint for the first buffer).
 * @returns The decoded file.
 * @throws {InflateError} On a bad header, corrupt or truncated data, a checksum mismatch, or
 * output over `maxOutput`.
 *
 * @example
 * ```ts
 * import { decodeCompressed } from "./_gzip_format.ts";
 * import assert from "node:assert/strict";
 *
 * const gz = await new Response(
 *   new Blob(["hi"]).stream().pipeThrough(new CompressionStream("gzip")),
 * ).bytes();
 * const file = decodeCompressed(gz, 100);
 * assert.equal(file.format, "gzip");
 * assert.equal(new TextDecoder().decode(file.data), "hi");
 * ```
 */
export function decodeCompressed(
  bytes: Uint8Array,
  maxOutput: number,
  onAllocate?: InflateOptions["onAllocate"],
): CompressedFile {
  if (isGzip(bytes)) {
    const parts: Uint8Array[] = [];
    let total = 0;
    let at = 0;
    let header = new Uint8Array(0);
    let members = 0;
    do {
      const start = gzipHeaderEnd(bytes, at);
      if (members === 0) header = bytes.slice(0, start);
      // The last four bytes are the ISIZE of a file with one member and nothing after it.
      const sizeHint = members === 0 && bytes.length >= 18 ? u32le(bytes, bytes.length - 4) : 0;
      const { output, end } = inflateRaw(bytes, start, maxOutput - total, {
        sizeHint,
        onAllocate: onAllocate && ((size, produced) => onAllocate(size, total + produced)),
      });
      if (end + 8 > bytes.length) throw new InflateError("Truncated gzip data: missing trailer");
      if (crc32(output) !== u32le(bytes, end)) {
        throw new InflateError("Corrupt gzip data: CRC-32 mismatch");
      }
      if ((output.length >>> 0) !== u32le(bytes, end + 4)) {
        throw new InflateError("Corrupt gzip data: length mismatch");
      }
      parts.push(output);
      total += output.length;
      members++;
      at = end + 8;
    } while (isGzip(bytes, at));
    if (parts.length > 1) onAllocate?.(total, total);
    const data = parts.length === 1 ? parts[0] : concatBytes(parts);
    return { format: "gzip", header, data, members };
  }
  if (isZlib(bytes)) {
    if (bytes[1] & 0x20) {
      throw new InflateError("Unsupported zlib data: it needs a preset dictionary");
    }
    const { output, end } = inflateRaw(bytes, 2, maxOutput, { onAllocate });
    if (end + 4 > bytes.length) throw new InflateError("Truncated zlib data: missing checksum");
    const want =
      ((bytes[end] << 24) | (bytes[end + 1] << 16) | (bytes[end + 2] << 8) | bytes[end + 3]) >>>
      0;
    if (adler32(output) !== want) throw new InflateError("Corrupt zlib data: Adler-32 mismatch");
    return { format: "zlib", header: bytes.slice(0, 2), data: output, members: 1 };
  }
  throw new InflateError(
    bytes.length === 0 ? "Empty file, not gzip or zlib data" : "Not gzip or zlib data",
  );
}

/**
 * Build a gzip or zlib file around `data` with the given header (kept from the original
 * file, so its name, time and flags survive a save). Compression is Web
 * `CompressionStream("deflate-raw")`.
 *
 * @param format The container.
 * @param header The header bytes (a whole gzip member header, or zlib's two bytes).
 * @param data The contents.
 * @returns The file bytes.
 *
 * @example
 * ```ts
 * import { decodeCompressed, encodeCompressed } from "./_gzip_format.ts";
 * import assert from "node:assert/strict";
 *
 * const data = new TextEncoder().encode("round trip");
 * const file = await encodeCompressed("zlib", new Uint8Array([0x78, 0x9c]), data);
 * assert.deepEqual(decodeCompressed(file, 100).data, data);
 * ```
 */
export async function encodeCompressed(
  format: "gzip" | "zlib",
  header: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  const deflated = await new Response(
    new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream("deflate-raw"),
    ),
  ).bytes();
  const trailer = new Uint8Array(format === "gzip" ? 8 : 4);
  const view = new DataView(trailer.buffer);
  if (format === "gzip") {
    view.setUint32(0, crc32(data), true);
    view.setUint32(4, data.length >>> 0, true);
  } else {
    view.setUint32(0, adler32(data), false);
  }
  return concatBytes([header, deflated, trailer]);
}
