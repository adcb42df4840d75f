/**
 * radare2's hexdump layouts (`px`, `pxw`), byte for byte as radare2 6.x prints them with
 * `scr.color=0`.
 *
 * @module
 */

const HEX = "0123456789ABCDEF";
/** Lowercase hex pairs and printable characters of every byte value. */
const PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
const ASCII = Array.from(
  { length: 256 },
  (_, b) => b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : ".",
);

/**
 * Format an address the way radare2 prints it in dumps: `0x` and at least 8 lowercase hex
 * digits.
 *
 * @param address The address.
 * @returns The text, e.g. `0x00006270`.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatAddress(0x6270n), "0x00006270");
 * assert.equal(formatAddress(0x123456789n), "0x123456789");
 * ```
 */
export function formatAddress(address: bigint): string {
  return "0x" + address.toString(16).padStart(8, "0");
}

/**
 * The header line of `px`: the column labels are the low byte of each column's address,
 * as radare2 prints them (`7071 7273 ...` at 0x6270, ` 0 1  2 3 ...` at 0x100).
 */
function header(address: bigint, columns: number): string {
  const pad = " ".repeat(Math.max(0, formatAddress(address).length - 9));
  const k = Number(address & 0xfn);
  const big = Number((address >> 4n) & 0xfn);
  let text = "- offset -" + pad + " ";
  let ascii = "";
  for (let i = 0; i < columns; i++) {
    const hi = (((i + k) >> 4) + big) % 16;
    const lo = HEX[(i + k) % 16];
    text += hi ? HEX[hi] + lo : " " + lo;
    if (i & 1) text += " ";
    ascii += lo;
  }
  return text + " " + ascii + "\n";
}

/**
 * Format bytes as radare2's `px` does: a header line, then one row per 16 bytes with the
 * address (wrapping past 2^64 as radare2's), the bytes in groups of two, and an ASCII
 * column. Every line ends in `\n`;
 * no bytes give an empty string. A long dump can be made piece by piece: the first piece
 * with the header, the next ones (each a multiple of 16 bytes but the last) without.
 *
 * @param bytes The bytes.
 * @param address The address of the first byte.
 * @param withHeader Start with the header line (default true).
 * @returns The dump.
 *
 * @example
 * ```ts
 * import { hexdump } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   hexdump(new TextEncoder().encode("hi\"#"), 0x20n),
 *   "- offset -  2021 2223 2425 2627 2829 2A2B 2C2D 2E2F  0123456789ABCDEF\n" +
 *     "0x00000020  6869 2223                                hi\"#\n",
 * );
 * ```
 */
export function hexdump(bytes: Uint8Array, address: bigint, withHeader = true): string {
  if (bytes.length === 0) return "";
  const columns = 16;
  const lines = withHeader ? [header(address, columns)] : [];
  for (let row = 0; row < bytes.length; row += columns) {
    let text = formatAddress(BigInt.asUintN(64, address + BigInt(row))) + "  ";
    let ascii = "";
    for (let i = 0; i < columns; i++) {
      const j = row + i;
      if (j >= bytes.length) {
        text += i & 1 ? "   " : "  ";
        continue;
      }
      text += PAIRS[bytes[j]];
      if (i & 1) text += " ";
      ascii += ASCII[bytes[j]];
    }
    lines.push(text + " " + ascii + "\n");
  }
  return lines.join("");
}

/**
 * Format bytes as radare2's `pxw` does: rows of four little-endian 32-bit words with an
 * ASCII column, no header. A trailing partial word is left out, as in radare2.
 *
 * @param bytes The bytes.
 * @param address The address of the first byte.
 * @param bigEndian Read the words big-endian.
 * @returns The dump.
 *
 * @example
 * ```ts
 * import { hexdumpWords } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const elf = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
 * assert.equal(
 *   hexdumpWords(elf, 0n),
 *   "0x00000000  0x464c457f 0x00010102                        .ELF....\n",
 * );
 * ```
 */
export function hexdumpWords(bytes: Uint8Array, address: bigint, bigEndian = false): string {
  const length = bytes.length - (bytes.length % 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const columns = 16;
  let out = "";
  for (let row = 0; row < length; row += columns) {
    let text = formatAddress(BigInt.asUintN(64, address + BigInt(row))) + "  ";
    let ascii = "";
    for (let i = 0; i < columns; i += 4) {
      const j = row + i;
      if (j >= length) {
        text += " ".repeat(11);
        continue;
      }
      text += "0x" + view.getUint32(j, !bigEndian).toString(16).padStart(8, "0") + " ";
      for (let b = j; b < j + 4; b++) ascii += ASCII[bytes[b]];
    }
    out += text + " " + ascii + "\n";
  }
  return out;
}
