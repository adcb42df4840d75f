/**
 * A raw DEFLATE (RFC 1951) decoder that knows where the compressed stream ends and stops
 * at an output limit. Web `DecompressionStream` can do neither: it rejects any byte after
 * the end of the stream (so a gzip file with trailing data or several members fails) and
 * only learns about a decompression bomb after producing it.
 *
 * @module
 */

/**
 * The compressed data is corrupt or truncated, or inflates past the limit.
 *
 * @example
 * ```ts
 * import { InflateError, inflateRaw } from "./_inflate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => inflateRaw(new Uint8Array([0xff])), InflateError);
 * ```
 */
export class InflateError extends Error {
  /**
   * An inflate failure.
   *
   * @param message What is wrong (sentence case, no URI).
   */
  constructor(message: string) {
    super(message);
    this.name = "InflateError";
  }
}

/**
 * The result of {@linkcode inflateRaw}.
 *
 * @example
 * ```ts
 * import type { InflateResult } from "./_inflate.ts";
 * const result: InflateResult = { output: new Uint8Array(0), end: 2 };
 * console.assert(result.end === 2);
 * ```
 */
export interface InflateResult {
  /** The decompressed bytes. */
  output: Uint8Array;
  /** The index in the input just after the last byte of the compressed stream. */
  end: number;
}

/**
 * How {@linkcode inflateRaw} sizes and accounts for its output buffer.
 *
 * @example
 * ```ts
 * import type { InflateOptions } from "./_inflate.ts";
 * const options: InflateOptions = { sizeHint: 4096, onAllocate: (bytes) => console.log(bytes) };
 * console.assert(options.sizeHint === 4096);
 * ```
 */
export interface InflateOptions {
  /** The expected output size (gzip's ISIZE): the first buffer has this size when it fits. */
  sizeHint?: number;
  /**
   * Called before each output buffer is allocated, with its size and the bytes produced so
   * far; throwing stops the inflate (a running memory budget). While a buffer grows, the
   * old one is still held: the sizes add up.
   */
  onAllocate?: (bytes: number, produced: number) => void;
}

const LENGTH_BASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
];
const LENGTH_EXTRA = [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
];
const DIST_BASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DIST_EXTRA = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A decoding table indexed by the next `bits` input bits: `symbol << 4 | length`, 0 = no code. */
interface Huffman {
  table: Uint32Array;
  bits: number;
}

function buildHuffman(lengths: ArrayLike<number>, what: string): Huffman {
  const count = new Uint16Array(16);
  let maxBits = 0;
  for (let i = 0; i < lengths.length; i++) {
    count[lengths[i]]++;
    if (lengths[i] > maxBits) maxBits = lengths[i];
  }
  count[0] = 0;
  // Over-subscribed sets are invalid; incomplete ones are allowed (zlib accepts them where
  // a single code is used) and an unused bit pattern is an error when met.
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = (left << 1) - count[len];
    if (left < 0) throw new InflateError(`Corrupt deflate data: over-subscribed ${what} code`);
  }
  const next = new Uint16Array(16);
  for (let len = 1; len < 16; len++) next[len] = (next[len - 1] + count[len - 1]) << 1;
  const bits = Math.max(1, maxBits);
  const table = new Uint32Array(1 << bits);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const len = lengths[symbol];
    if (len === 0) continue;
    const code = next[len]++;
    let reversed = 0;
    for (let i = 0; i < len; i++) reversed |= ((code >> i) & 1) << (len - 1 - i);
    for (let i = reversed; i < table.length; i += 1 << len) table[i] = (symbol << 4) | len;
  }
  return { table, bits };
}

let fixedTables: { literal: Huffman; distance: Huffman } | undefined;

function fixed(): { literal: Huffman; distance: Huffman } {
  if (!fixedTables) {
    const lengths = new Uint8Array(288);
    lengths.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixedTables = {
      literal: buildHuffman(lengths, "literal/length"),
      distance: buildHuffman(new Uint8Array(30).fill(5), "distance"),
    };
  }
  return fixedTables;
}

/**
 * Decompress the raw DEFLATE stream that starts at `input[start]`, stopping at its final
 * block; bytes after it are left alone (their index is `end`).
 *
 * @param input The compressed bytes.
 * @param start Where the stream starts.
 * @param maxOutput The most bytes the output may have.
 * @param options A size hint and a running budget (see {@linkcode InflateOptions}).
 * @returns The output and where the stream ended.
 * @throws {InflateError} On corrupt or truncated data, or output over `maxOutput`.
 *
 * @example
 * ```ts
 * import { inflateRaw } from "./_inflate.ts";
 * import assert from "node:assert/strict";
 *
 * const text = new TextEncoder().encode("hello hello hello");
 * const raw = await new Response(
 *   new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw")),
 * ).bytes();
 * const input = new Uint8Array([...raw, 0xaa, 0xbb]);
 * const { output, end } = inflateRaw(input);
 * assert.deepEqual(output, text);
 * assert.equal(end, raw.length);
 * ```
 */
export function inflateRaw(
  input: Uint8Array,
  start = 0,
  maxOutput = Infinity,
  options: InflateOptions = {},
): InflateResult {
  let pos = start;
  let bitBuf = 0;
  let bitCount = 0;
  /** Zero bytes fed past the end of the input (a peek may look a little ahead). */
  let overrun = 0;
  let outLen = 0;
  const allocate = (size: number): Uint8Array => {
    options.onAllocate?.(size, outLen);
    return new Uint8Array(size);
  };
  const hint = options.sizeHint;
  let out = allocate(
    hint !== undefined && hint > 0 && hint <= maxOutput
      ? hint
      : Math.min(maxOutput, Math.max(1024, (input.length - start) * 4)),
  );

  const truncated = () => new InflateError("Truncated deflate data");
  const need = (n: number) => {
    while (bitCount < n) {
      if (pos < input.length) {
        bitBuf |= input[pos++] << bitCount;
      } else {
        if (++overrun > 4) throw truncated();
      }
      bitCount += 8;
    }
  };
  const take = (n: number): number => {
    need(n);
    const value = bitBuf & ((1 << n) - 1);
    bitBuf >>>= n;
    bitCount -= n;
    return value;
  };
  const decode = (h: Huffman): number => {
    need(h.bits);
    const entry = h.table[bitBuf & ((1 << h.bits) - 1)];
    const len = entry & 15;
    if (len === 0) throw new InflateError("Corrupt deflate data: invalid Huffman code");
    bitBuf >>>= len;
    bitCount -= len;
    return entry >>> 4;
  };
  const reserve = (n: number) => {
    const wanted = outLen + n;
    if (wanted > maxOutput) {
      throw new InflateError(`Inflated data exceeds the limit of ${maxOutput} bytes`);
    }
    if (wanted > out.length) {
      const grown = allocate(Math.min(maxOutput, Math.max(wanted, out.length * 2)));
      grown.set(out.subarray(0, outLen));
      out = grown;
    }
  };

  let final = 0;
  while (!final) {
    final = take(1);
    const type = take(2);
    if (type === 0) {
      // Stored: drop to a byte boundary, give back whole buffered bytes, copy LEN bytes.
      const buffered = bitCount >> 3;
      if (overrun > buffered) throw truncated();
      pos -= buffered - overrun;
      overrun = 0;
      bitBuf = 0;
      bitCount = 0;
      if (pos + 4 > input.length) throw truncated();
      const len = input[pos] | (input[pos + 1] << 8);
      const nlen = input[pos + 2] | (input[pos + 3] << 8);
      pos += 4;
      if ((len ^ 0xffff) !== nlen) {
        throw new InflateError("Corrupt deflate data: stored block length check failed");
      }
      if (pos + len > input.length) throw truncated();
      reserve(len);
      out.set(input.subarray(pos, pos + len), outLen);
      outLen += len;
      pos += len;
      continue;
    }
    let literal: Huffman;
    let distance: Huffman;
    if (type === 1) {
      ({ literal, distance } = fixed());
    } else if (type === 2) {
      const nlen = take(5) + 257;
      const ndist = take(5) + 1;
      const ncode = take(4) + 4;
      if (nlen > 286 || ndist > 30) {
        throw new InflateError("Corrupt deflate data: too many length or distance codes");
      }
      const codeLengths = new Uint8Array(19);
      for (let i = 0; i < ncode; i++) codeLengths[CODE_LENGTH_ORDER[i]] = take(3);
      const lengthCode = buildHuffman(codeLengths, "code length");
      const lengths = new Uint8Array(nlen + ndist);
      for (let i = 0; i < lengths.length;) {
        const symbol = decode(lengthCode);
        if (symbol < 16) {
          lengths[i++] = symbol;
          continue;
        }
        let repeat: number;
        let value = 0;
        if (symbol === 16) {
          if (i === 0) throw new InflateError("Corrupt deflate data: repeat with no length");
          value = lengths[i - 1];
          repeat = 3 + take(2);
        } else if (symbol === 17) {
          repeat = 3 + take(3);
        } else {
          repeat = 11 + take(7);
        }
        if (i + repeat > lengths.length) {
          throw new InflateError("Corrupt deflate data: too many code lengths");
        }
        lengths.fill(value, i, i + repeat);
        i += repeat;
      }
      if (lengths[256] === 0) {
        throw new InflateError("Corrupt deflate data: no end-of-block code");
      }
      literal = buildHuffman(lengths.subarray(0, nlen), "literal/length");
      distance = buildHuffman(lengths.subarray(nlen), "distance");
    } else {
      throw new InflateError("Corrupt deflate data: invalid block type");
    }
    for (;;) {
      const symbol = decode(literal);
      if (symbol < 256) {
        if (outLen === out.length) reserve(1);
        out[outLen++] = symbol;
        continue;
      }
      if (symbol === 256) break;
      const li = symbol - 257;
      if (li >= 29) throw new InflateError("Corrupt deflate data: invalid length code");
      const length = LENGTH_BASE[li] + take(LENGTH_EXTRA[li]);
      const di = decode(distance);
      if (di >= 30) throw new InflateError("Corrupt deflate data: invalid distance code");
      const dist = DIST_BASE[di] + take(DIST_EXTRA[di]);
      if (dist > outLen) {
        throw new InflateError("Corrupt deflate data: distance too far back");
      }
      reserve(length);
      for (let i = 0; i < length; i++, outLen++) out[outLen] = out[outLen - dist];
    }
  }
  // Whole bytes still buffered were read ahead and are not part of the stream.
  const end = pos + overrun - (bitCount >> 3);
  if (end > input.length) throw truncated();
  return { output: out.subarray(0, outLen), end };
}
