/**
 * Motorola S-records: `S<type><count><address><data><checksum>` lines, checksums verified.
 *
 * @module
 */

import { checkedRecord, type RecordLayout, recordLines } from "./_record_image.ts";
import type { DataRecord } from "./_sparse_image.ts";

/**
 * A parsed S-record file.
 *
 * @example
 * ```ts
 * import type { SRecordFile } from "./_srec_format.ts";
 * const file: SRecordFile = { records: [], header: "hello" };
 * console.assert(file.header === "hello");
 * ```
 */
export interface SRecordFile {
  /** The S1/S2/S3 data records. */
  records: DataRecord[];
  /** The S0 header text, when present. */
  header?: string;
  /** The S7/S8/S9 start address, when present. */
  start?: number;
}

/** Address bytes by record type; S4 is reserved. */
const ADDRESS_BYTES: Record<string, number> = {
  "0": 2,
  "1": 2,
  "2": 3,
  "3": 4,
  "5": 2,
  "6": 3,
  "7": 4,
  "8": 3,
  "9": 2,
};

/** Count (of the bytes after it), address, data, checksum: the ones' complement of the sum. */
const S_RECORD: RecordLayout = {
  uncounted: 1,
  counts: "bytes",
  checksum: (sum) => 0xff - (sum & 0xff),
};

/**
 * Parse S-record text as radare2 does: blank lines, surrounding whitespace and CRLF are
 * fine; every checksum (ones' complement of the sum of count, address and data) must
 * match; only S1/S2/S3 carry data; S4 and unknown types fail.
 *
 * @param text The file contents.
 * @returns The data records, header and start address.
 * @throws {SyntaxError} Naming the line of the first bad record, or when there is none.
 *
 * @example
 * ```ts
 * import { parseSRecords } from "./_srec_format.ts";
 * import assert from "node:assert/strict";
 *
 * const file = parseSRecords("S107001001020304DE\nS9030000FC\n");
 * assert.equal(file.records[0].address, 0x10);
 * assert.equal(file.start, 0);
 * assert.throws(() => parseSRecords("S107001001020304DF"), /line 1: bad checksum 0xDF \(expected 0xDE\)/);
 * ```
 */
export function parseSRecords(text: string): SRecordFile {
  const result: SRecordFile = { records: [] };
  let seen = 0;
  for (const at of recordLines(text)) {
    const { line, fail } = at;
    if (at.text[0] !== "S" || at.text.length < 2) {
      throw fail(`expected a record starting with "S"`);
    }
    const type = at.text[1];
    const width = Object.hasOwn(ADDRESS_BYTES, type) ? ADDRESS_BYTES[type] : undefined;
    if (width === undefined) {
      throw fail(type === "4" ? "S4 records are reserved" : `unknown record type "S${type}"`);
    }
    const bytes = checkedRecord(at.text.slice(2), at, S_RECORD);
    if (bytes[0] < width + 1) throw fail(`S${type} record too short for its ${width}-byte address`);
    seen++;
    const address = bytes.subarray(1, 1 + width).reduce((v, b) => v * 256 + b, 0);
    const data = bytes.slice(1 + width, bytes.length - 1);
    switch (type) {
      case "0":
        result.header = new TextDecoder("latin1").decode(data);
        break;
      case "1":
      case "2":
      case "3":
        result.records.push({ address, bytes: data, line });
        break;
      case "7":
      case "8":
      case "9":
        result.start = address;
        break;
    }
  }
  if (seen === 0) throw new SyntaxError("no S-records");
  return result;
}
