/**
 * What the text record formats (Intel HEX, Motorola S-records) share: reading the file's
 * lines as checked records (hex digits, byte count, checksum, errors naming the line), and
 * the plugin that opens such a file as a sparse memory image, optionally saving writes back.
 *
 * @module
 */

import { atomicWrite, atomicWritePermissions } from "../lib/io/atomic_write.ts";
import { IoError } from "../lib/io/errors.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { openFailure } from "./_open_error.ts";
import {
  buildSparseImage,
  type DataRecord,
  SparseImageDescriptor,
  TEXT_IMAGE_RAM_PER_BYTE,
} from "./_sparse_image.ts";

/** Text files larger than this are refused (a hex file is about 2.8 bytes per data byte). */
const MAX_FILE = 1024 * 1024 * 1024;

/**
 * One non-blank line of a record file.
 *
 * @example
 * ```ts
 * import type { RecordLine } from "./_record_image.ts";
 * const line: RecordLine = { line: 1, text: ":00000001FF", fail: (why) => new SyntaxError(why) };
 * console.assert(line.fail("bad").message === "bad");
 * ```
 */
export interface RecordLine {
  /** Its 1-based number. */
  line: number;
  /** Its text, without surrounding whitespace. */
  text: string;
  /**
   * The error for this line.
   *
   * @param why What is wrong.
   * @returns `SyntaxError("line N: why")`.
   */
  fail(why: string): SyntaxError;
}

/**
 * The non-blank lines of `text` (LF, CRLF or CR endings), trimmed, with their numbers.
 *
 * @param text The file's text.
 * @returns The lines.
 *
 * @example
 * ```ts
 * import { recordLines } from "./_record_image.ts";
 * import assert from "node:assert/strict";
 *
 * const [first, second] = recordLines("S0\r\n\n  S9 \n");
 * assert.deepEqual([first.line, first.text, second.line, second.text], [1, "S0", 3, "S9"]);
 * assert.equal(second.fail("bad").message, "line 3: bad");
 * ```
 */
export function* recordLines(text: string): Generator<RecordLine> {
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === "") continue;
    const line = i + 1;
    yield { line, text: trimmed, fail: (why) => new SyntaxError(`line ${line}: ${why}`) };
  }
}

/**
 * How a format lays out the bytes of a record: the first is the count, the last the
 * checksum of the others.
 *
 * @example
 * ```ts
 * import type { RecordLayout } from "./_record_image.ts";
 * const srec: RecordLayout = { uncounted: 1, counts: "bytes", checksum: (sum) => 0xff - (sum & 0xff) };
 * console.assert(srec.checksum(0x20) === 0xdf);
 * ```
 */
export interface RecordLayout {
  /** Bytes the count leaves out (Intel HEX: 5, the count, address, type and checksum). */
  uncounted: number;
  /** What the count counts, for the message (`data bytes`, `bytes`). */
  counts: string;
  /**
   * The checksum a record must end with.
   *
   * @param sum The sum of every byte but the checksum.
   * @returns The checksum byte.
   */
  checksum(sum: number): number;
}

function byteHex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * Decode the hex digits of one record and check its count and checksum.
 *
 * @param digits The record's hex digits (after its start mark).
 * @param at The line, for errors.
 * @param layout The format's {@linkcode RecordLayout}.
 * @returns The record's bytes, count and checksum included.
 * @throws {SyntaxError} Naming the line: invalid hex digits, a record too short, a count
 * that does not match, or a bad checksum.
 *
 * @example
 * ```ts
 * import { checkedRecord, recordLines } from "./_record_image.ts";
 * import assert from "node:assert/strict";
 *
 * const layout = { uncounted: 5, counts: "data bytes", checksum: (sum: number) => (0x100 - (sum & 0xff)) & 0xff };
 * const [line] = recordLines(":0100000041BE");
 * assert.deepEqual([...checkedRecord("0100000041BE", line, layout)], [1, 0, 0, 0, 0x41, 0xbe]);
 * assert.throws(() => checkedRecord("0100000041BF", line, layout), /line 1: bad checksum 0xBF \(expected 0xBE\)/);
 * ```
 */
export function checkedRecord(digits: string, at: RecordLine, layout: RecordLayout): Uint8Array {
  if (digits === "" || digits.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(digits)) {
    throw at.fail("invalid hex digits");
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  if (bytes.length < layout.uncounted) throw at.fail("record too short");
  const count = bytes[0];
  if (bytes.length !== count + layout.uncounted) {
    throw at.fail(
      `record holds ${
        bytes.length - layout.uncounted
      } ${layout.counts} but its count says ${count}`,
    );
  }
  let sum = 0;
  for (let i = 0; i < bytes.length - 1; i++) sum += bytes[i];
  const expected = layout.checksum(sum);
  const checksum = bytes[bytes.length - 1];
  if (checksum !== expected) {
    throw at.fail(`bad checksum ${byteHex(checksum)} (expected ${byteHex(expected)})`);
  }
  return bytes;
}

/**
 * A text record format, for {@linkcode recordImagePlugin}.
 *
 * @example
 * ```ts
 * import type { RecordFormat } from "./_record_image.ts";
 * const format: RecordFormat<{ records: [] }> = {
 *   name: "none", format: "no-record", description: "nothing", parse: () => ({ records: [] }),
 * };
 * console.assert(format.save === undefined);
 * ```
 */
export interface RecordFormat<F extends { records: DataRecord[] }> {
  /** The plugin name and scheme (`ihex`). */
  name: string;
  /** What the format calls itself in errors (`Intel HEX`). */
  format: string;
  /** The plugin's one-line description. */
  description: string;
  /**
   * Parse the file's text.
   *
   * @param text The text.
   * @returns The parsed file, with its data records.
   * @throws {SyntaxError} Naming the line of a bad record.
   */
  parse(text: string): F;
  /**
   * The file's new text for a written image; absent for a read-only format.
   *
   * @param chunks The image's data, by address.
   * @param file The file as parsed at open (its options: record size, line ending ...).
   * @returns The text to save.
   */
  save?(chunks: { address: number; bytes: Uint8Array }[], file: F): string;
}

/**
 * The plugin for a text record format: `NAME://PATH` opens the file as a sparse image
 * (gaps read as 0xff, size = highest address + 1, addresses below 2^32). With `save`, it
 * may be opened for writing, and a written image is saved on close, atomically; without,
 * opening for writing fails.
 *
 * @param format The format.
 * @returns The plugin.
 *
 * @example
 * ```ts
 * import { recordImagePlugin } from "./_record_image.ts";
 * import assert from "node:assert/strict";
 *
 * const plain = recordImagePlugin({
 *   name: "plain", format: "plain", description: "ADDRESS=BYTE lines",
 *   parse: (text) => ({
 *     records: text.trim().split("\n").map((l, i) => {
 *       const [address, byte] = l.split("=").map(Number);
 *       return { address, bytes: Uint8Array.of(byte), line: i + 1 };
 *     }),
 *   }),
 * });
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "2=7\n");
 * await assert.rejects(plain.open(`plain://${path}`, { write: true }), /plain files are read-only/);
 * {
 *   await using desc = await plain.open(`plain://${path}`, {});
 *   assert.deepEqual([...await desc.read(0, 8)], [0xff, 0xff, 7]);
 * }
 * await Deno.remove(path);
 * ```
 */
export function recordImagePlugin<F extends { records: DataRecord[] }>(
  format: RecordFormat<F>,
): IoPlugin {
  const { name, save } = format;
  return definePlugin({
    name,
    description: format.description,
    uriForms: [`${name}://PATH`],
    capabilities: { write: save !== undefined, system: true },
    permissions(uri, options) {
      const path = uriRest(uri, "a path");
      return options.write && save ? atomicWritePermissions(path) : [{ name: "read", path }];
    },
    async open(uri, options) {
      const path = uriRest(uri, "a path");
      if (options.write && !save) {
        throw new IoError(uri, `Cannot open "${uri}": ${format.format} files are read-only`);
      }
      try {
        const bytes = await readFileInScope(path, {
          uri,
          remote: options.remote,
          maxSize: MAX_FILE,
          beforeRead: (size) =>
            options.memoryBudget?.claim(size * TEXT_IMAGE_RAM_PER_BYTE, "parsing the file"),
        });
        const file = format.parse(new TextDecoder().decode(bytes));
        return new SparseImageDescriptor(uri, name, buildSparseImage(file.records), {
          writable: options.write ?? false,
          addressLimit: 2 ** 32,
          format: format.format,
          onClose: async (image, changed) => {
            if (!changed || !save) return;
            const chunks = image.ranges().map((r) => ({
              address: r.from,
              bytes: image.read(r.from, r.to - r.from, 0xff),
            }));
            await atomicWrite(path, new TextEncoder().encode(save(chunks, file)));
          },
        });
      } catch (error) {
        throw openFailure(uri, error);
      }
    },
  });
}
