/**
 * Motorola S-records: `S<type><count><address><data><checksum>` lines, checksums verified.
 *
 * @module
 */

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
  const lines = text.split(/\r\n|\n|\r/);
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const record = lines[i].trim();
    if (record === "") continue;
    const fail = (why: string) => new SyntaxError(`line ${line}: ${why}`);
    if (record[0] !== "S" || record.length < 2) {
      throw fail(`expected a record starting with "S"`);
    }
    const type = record[1];
    const width = Object.hasOwn(ADDRESS_BYTES, type) ? ADDRESS_BYTES[type] : undefined;
    if (width === undefined) {
      throw fail(type === "4" ? "S4 records are reserved" : `unknown record type "S${type}"`);
    }
    const body = record.slice(2);
    if (body.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(body)) throw fail("invalid hex digits");
    const bytes = new Uint8Array(body.length / 2);
    for (let k = 0; k < bytes.length; k++) bytes[k] = parseInt(body.slice(2 * k, 2 * k + 2), 16);
    const count = bytes[0];
    if (bytes.length !== count + 1) {
      throw fail(`record holds ${bytes.length - 1} bytes but its count says ${count}`);
    }
    if (count < width + 1) throw fail(`S${type} record too short for its ${width}-byte address`);
    let sum = 0;
    for (let k = 0; k < bytes.length - 1; k++) sum += bytes[k];
    const expected = 0xff - (sum & 0xff);
    const checksum = bytes[bytes.length - 1];
    if (checksum !== expected) {
      const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;
      throw fail(`bad checksum ${hex(checksum)} (expected ${hex(expected)})`);
    }
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
