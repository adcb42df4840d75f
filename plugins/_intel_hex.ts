/**
 * Intel HEX: parse every record type (00 data, 01 end of file, 02 extended segment
 * address, 03 start segment address, 04 extended linear address, 05 start linear address)
 * with checksums verified, and write an image back as records with correct checksums.
 *
 * @module
 */

import { checkedRecord, type RecordLayout, recordLines } from "./_record_image.ts";
import type { DataRecord } from "./_sparse_image.ts";

/**
 * A parsed Intel HEX file.
 *
 * @example
 * ```ts
 * import type { IntelHex } from "./_intel_hex.ts";
 * const file: IntelHex = { records: [], recordSize: 16, lineEnding: "\n" };
 * console.assert(file.recordSize === 16);
 * ```
 */
export interface IntelHex {
  /** The data records, with absolute addresses. */
  records: DataRecord[];
  /** The type 03 start address (`CS << 16 | IP`), when present. */
  startSegment?: number;
  /** The type 05 start address (EIP), when present. */
  startLinear?: number;
  /** The largest data record length seen (16 when there is none), reused when saving. */
  recordSize: number;
  /** The line ending the file uses (`"\r\n"` or `"\n"`), reused when saving. */
  lineEnding: string;
}

/** Count, address (2), type, data, checksum: the two's complement of the sum. */
const INTEL_HEX: RecordLayout = {
  uncounted: 5,
  counts: "data bytes",
  checksum: (sum) => (0x100 - (sum & 0xff)) & 0xff,
};

function byteHex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

/**
 * Parse Intel HEX text. Every record's checksum is verified (radare2 skips the last
 * record's); blank lines and surrounding whitespace are allowed, anything after the end
 * of file record is ignored. A data record that runs past a 64 KiB boundary wraps inside
 * its segment, as the format specifies.
 *
 * @param text The file contents.
 * @returns The records and the start addresses.
 * @throws {SyntaxError} Naming the line: not a record, bad hex, wrong length, bad checksum,
 * malformed 02/03/04/05 record, unknown type, or no record at all.
 *
 * @example
 * ```ts
 * import { parseIntelHex } from "./_intel_hex.ts";
 * import assert from "node:assert/strict";
 *
 * const file = parseIntelHex(":0400100001020304E2\n:00000001FF\n");
 * assert.equal(file.records[0].address, 0x10);
 * assert.deepEqual([...file.records[0].bytes], [1, 2, 3, 4]);
 * assert.throws(() => parseIntelHex(":0400100001020304E3\n"), /line 1: bad checksum 0xE3 \(expected 0xE2\)/);
 * ```
 */
export function parseIntelHex(text: string): IntelHex {
  const result: IntelHex = {
    records: [],
    recordSize: 0,
    lineEnding: /\r\n/.test(text) ? "\r\n" : "\n",
  };
  let base = 0;
  let seen = 0;
  for (const at of recordLines(text)) {
    const { line, fail } = at;
    if (at.text[0] !== ":") throw fail(`expected a record starting with ":"`);
    const bytes = checkedRecord(at.text.slice(1), at, INTEL_HEX);
    const count = bytes[0];
    seen++;
    const offset = (bytes[1] << 8) | bytes[2];
    const type = bytes[3];
    const data = bytes.subarray(4, 4 + count);
    const value = () => data.reduce((v, b) => v * 256 + b, 0);
    switch (type) {
      case 0x00: {
        result.recordSize = Math.max(result.recordSize, count);
        const first = Math.min(count, 0x10000 - offset);
        result.records.push({ address: base + offset, bytes: data.slice(0, first), line });
        if (first < count) result.records.push({ address: base, bytes: data.slice(first), line });
        break;
      }
      case 0x01:
        result.recordSize ||= 16;
        return result;
      case 0x02:
      case 0x04:
        if (count !== 2 || offset !== 0) {
          throw fail(`invalid type 0${type} record (needs 2 data bytes and address 0000)`);
        }
        base = type === 0x02 ? value() * 16 : value() * 0x10000;
        break;
      case 0x03:
      case 0x05:
        if (count !== 4) throw fail(`invalid type 0${type} record (needs 4 data bytes)`);
        if (type === 0x03) result.startSegment = value();
        else result.startLinear = value();
        break;
      default:
        throw fail(`unknown record type 0x${byteHex(type)}`);
    }
  }
  if (seen === 0) throw new SyntaxError("no Intel HEX records");
  result.recordSize ||= 16;
  return result;
}

/**
 * Options of {@linkcode formatIntelHex}.
 *
 * @example
 * ```ts
 * import type { IntelHexFormatOptions } from "./_intel_hex.ts";
 * const options: IntelHexFormatOptions = { recordSize: 32 };
 * console.assert(options.recordSize === 32);
 * ```
 */
export interface IntelHexFormatOptions {
  /** Data bytes per record (1 to 255, default 16). */
  recordSize?: number;
  /** Line ending (default `"\n"`). */
  lineEnding?: string;
  /** A type 03 start address to write. */
  startSegment?: number;
  /** A type 05 start address to write. */
  startLinear?: number;
}

function record(type: number, address: number, data: ArrayLike<number>): string {
  let sum = data.length + (address >> 8) + (address & 0xff) + type;
  let text = `:${byteHex(data.length)}${address.toString(16).toUpperCase().padStart(4, "0")}${
    byteHex(type)
  }`;
  for (let i = 0; i < data.length; i++) {
    sum += data[i];
    text += byteHex(data[i]);
  }
  return text + byteHex((0x100 - (sum & 0xff)) & 0xff);
}

function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/**
 * Write data chunks as Intel HEX: uppercase hex, a type 04 record whenever the upper 16
 * address bits change, data records of `recordSize` bytes that never cross a 64 KiB
 * boundary, the start address records, then `:00000001FF`.
 *
 * @param chunks Data by address, sorted and not overlapping.
 * @param options See {@linkcode IntelHexFormatOptions}.
 * @returns The file text.
 *
 * @example
 * ```ts
 * import { formatIntelHex } from "./_intel_hex.ts";
 * import assert from "node:assert/strict";
 *
 * const text = formatIntelHex([{ address: 0x10010, bytes: new Uint8Array([1, 2, 3, 4]) }]);
 * assert.equal(text, ":020000040001F9\n:0400100001020304E2\n:00000001FF\n");
 * ```
 */
export function formatIntelHex(
  chunks: Iterable<{ address: number; bytes: Uint8Array }>,
  options: IntelHexFormatOptions = {},
): string {
  const size = Math.max(1, Math.min(255, options.recordSize ?? 16));
  const lines: string[] = [];
  let upper = 0;
  for (const { address, bytes } of chunks) {
    let at = 0;
    while (at < bytes.length) {
      const addr = address + at;
      const high = Math.floor(addr / 0x10000);
      if (high !== upper) {
        lines.push(record(0x04, 0, [high >> 8, high & 0xff]));
        upper = high;
      }
      const low = addr % 0x10000;
      const n = Math.min(size, bytes.length - at, 0x10000 - low);
      lines.push(record(0x00, low, bytes.subarray(at, at + n)));
      at += n;
    }
  }
  if (options.startSegment !== undefined) lines.push(record(0x03, 0, u32(options.startSegment)));
  if (options.startLinear !== undefined) lines.push(record(0x05, 0, u32(options.startLinear)));
  lines.push(":00000001FF");
  const eol = options.lineEnding ?? "\n";
  return lines.join(eol) + eol;
}
