/**
 * Valid sample files of every parsed format (gzip, zlib, zip, ar, Intel HEX, S-records),
 * built in memory, for the fuzzers to mutate and the server to serve.
 *
 * @module
 */

import { concatBytes as join } from "../mod.ts";
import { crc32 } from "../plugins/_checksum.ts";
import { encodeCompressed } from "../plugins/_gzip_format.ts";
import { formatIntelHex } from "../plugins/_intel_hex.ts";
import { Random } from "./_random.ts";

const text = new TextEncoder();

/**
 * Raw DEFLATE of `data` (Web `CompressionStream("deflate-raw")`).
 *
 * @param data The bytes.
 * @returns The compressed bytes.
 *
 * @example
 * ```ts
 * import { deflateRaw } from "./_fixtures.ts";
 * console.assert((await deflateRaw(new Uint8Array(1000))).length < 100);
 * ```
 */
export async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  return await new Response(
    new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream("deflate-raw"),
    ),
  ).bytes();
}

/**
 * A gzip file holding `data`, with a file name in its header.
 *
 * @param data The contents.
 * @returns The file bytes.
 *
 * @example
 * ```ts
 * import { gzipFile } from "./_fixtures.ts";
 * const gz = await gzipFile(new Uint8Array([1, 2, 3]));
 * console.assert(gz[0] === 0x1f && gz[1] === 0x8b);
 * ```
 */
export async function gzipFile(data: Uint8Array): Promise<Uint8Array> {
  const name = text.encode("sample.bin\0");
  const header = new Uint8Array(10 + name.length);
  header.set([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]);
  header.set(name, 10);
  return await encodeCompressed("gzip", header, data);
}

/**
 * A zip archive with the given members (deflated when `deflate`, else stored).
 *
 * @param members Name, contents and method of each member.
 * @returns The archive bytes.
 *
 * @example
 * ```ts
 * import { zipFile } from "./_fixtures.ts";
 * const zip = await zipFile([{ name: "a", data: new Uint8Array([1]), deflate: false }]);
 * console.assert(new DataView(zip.buffer).getUint32(0, true) === 0x04034b50);
 * ```
 */
export async function zipFile(
  members: { name: string; data: Uint8Array; deflate: boolean }[],
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = text.encode(m.name);
    const body = m.deflate ? await deflateRaw(m.data) : m.data;
    const crc = crc32(m.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, m.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const entry = new Uint8Array(46 + name.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, m.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    entry.set(name, 46);
    parts.push(local, body);
    central.push(entry);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return join([...parts, ...central, end]);
}

/**
 * An ar archive (GNU names, with a long-name table when a name is over 15 characters).
 *
 * @param members Name and contents of each member.
 * @returns The archive bytes.
 *
 * @example
 * ```ts
 * import { arFile } from "./_fixtures.ts";
 * const ar = await arFile([{ name: "a.o", data: new Uint8Array([1]) }]);
 * console.assert(new TextDecoder().decode(ar.subarray(0, 8)) === "!<arch>\n");
 * ```
 */
export function arFile(members: { name: string; data: Uint8Array }[]): Uint8Array {
  const header = (name: string, size: number) =>
    text.encode(
      name.padEnd(16) + "0".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "644".padEnd(8) +
        String(size).padEnd(10) + "`\n",
    );
  const parts: Uint8Array[] = [text.encode("!<arch>\n")];
  const long = members.filter((m) => m.name.length > 15);
  const offsets = new Map<string, number>();
  if (long.length > 0) {
    let table = "";
    for (const m of long) {
      offsets.set(m.name, table.length);
      table += `${m.name}/\n`;
    }
    const bytes = text.encode(table);
    parts.push(header("//", bytes.length), bytes);
    if (bytes.length % 2) parts.push(text.encode("\n"));
  }
  for (const m of members) {
    const name = offsets.has(m.name) ? `/${offsets.get(m.name)}` : `${m.name}/`;
    parts.push(header(name, m.data.length), m.data);
    if (m.data.length % 2) parts.push(text.encode("\n"));
  }
  return join(parts);
}

/**
 * Motorola S-records for `data` at `address` (S0 header, S1/S2/S3 by address width, end
 * record).
 *
 * @param address Where the data starts.
 * @param data The bytes.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { srecText } from "./_fixtures.ts";
 * console.assert(srecText(0x10, new Uint8Array([1, 2, 3, 4])).includes("S107001001020304DE"));
 * ```
 */
export function srecText(address: number, data: Uint8Array): string {
  const line = (type: number, width: number, addr: number, bytes: ArrayLike<number>) => {
    const body: number[] = [width + bytes.length + 1];
    for (let i = width - 1; i >= 0; i--) body.push(Math.floor(addr / 256 ** i) & 0xff);
    for (let i = 0; i < bytes.length; i++) body.push(bytes[i]);
    const sum = body.reduce((a, b) => a + b, 0);
    body.push(0xff - (sum & 0xff));
    return `S${type}` + body.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  };
  const width = address + data.length > 0xffffff ? 4 : address + data.length > 0xffff ? 3 : 2;
  const type = width - 1;
  const lines = [line(0, 2, 0, text.encode("fuzz"))];
  for (let at = 0; at < data.length; at += 16) {
    lines.push(line(type, width, address + at, data.subarray(at, at + 16)));
  }
  lines.push(line(10 - type, width, address, []));
  return lines.join("\n") + "\n";
}

/**
 * Intel HEX text for `data` at `address`, with a start address record.
 *
 * @param address Where the data starts.
 * @param data The bytes.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { ihexText } from "./_fixtures.ts";
 * console.assert(ihexText(0, new Uint8Array([1])).endsWith(":00000001FF\n"));
 * ```
 */
export function ihexText(address: number, data: Uint8Array): string {
  return formatIntelHex([{ address, bytes: data }], { startLinear: address });
}

/**
 * Every fixture, as bytes by file name (the names the fuzzers and servers use).
 *
 * @param seed Seed for the contents.
 * @returns File name → bytes.
 *
 * @example
 * ```ts
 * import { makeFixtures } from "./_fixtures.ts";
 * const files = await makeFixtures(1);
 * console.assert(files.has("sample.gz") && files.has("sample.zip"));
 * ```
 */
export async function makeFixtures(seed: number): Promise<Map<string, Uint8Array>> {
  const random = new Random(seed);
  const small = random.bytes(300);
  const repetitive = text.encode("hello rap ".repeat(40));
  const files = new Map<string, Uint8Array>();
  files.set("sample.bin", random.bytes(8192));
  files.set("sample.gz", await gzipFile(join([repetitive, small])));
  files.set("sample.zlib", await encodeCompressed("zlib", new Uint8Array([0x78, 0x9c]), small));
  files.set(
    "sample.zip",
    await zipFile([
      { name: "a.txt", data: repetitive, deflate: true },
      { name: "dir/b.bin", data: small.subarray(0, 64), deflate: false },
    ]),
  );
  files.set(
    "sample.a",
    arFile([
      { name: "m.o", data: small.subarray(0, 33) },
      { name: "a_long_member_name.o", data: repetitive.subarray(0, 40) },
    ]),
  );
  files.set("sample.hex", text.encode(ihexText(0x0800_0100, small.subarray(0, 100))));
  files.set("sample.srec", text.encode(srecText(0x1000, small.subarray(0, 100))));
  return files;
}
