/**
 * A read-only zip archive reader with random access: it reads the end-of-central-directory
 * record (zip64 too) and the central directory, then reads and inflates only the member
 * asked for, straight from the file. Stored and deflated members; CRC-32 verified.
 *
 * @module
 */

import { crc32 } from "./_checksum.ts";
import { readAt } from "./_file_range.ts";
import { openInScope, type ScopedOpenOptions } from "../lib/io/open_file.ts";

/**
 * One entry of the central directory.
 *
 * @example
 * ```ts
 * import type { ZipEntry } from "./_zip_archive.ts";
 * const entry: ZipEntry = {
 *   index: 0, name: "a.txt", flags: 0, method: 0, crc32: 0, compressedSize: 0, size: 0,
 *   localHeaderOffset: 0,
 * };
 * console.assert(entry.name === "a.txt");
 * ```
 */
export interface ZipEntry {
  /** Position in the central directory (0-based, radare2's `::N`). */
  index: number;
  /** The name (UTF-8 when flagged or valid, else code page 437). */
  name: string;
  /** General purpose flags (bit 0: encrypted). */
  flags: number;
  /** Compression method (0 stored, 8 deflate). */
  method: number;
  /** CRC-32 of the uncompressed data. */
  crc32: number;
  /** Compressed size. */
  compressedSize: number;
  /** Uncompressed size. */
  size: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Central directories larger than this are refused (millions of entries). */
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024;

/**
 * The most entries an archive may have: 100,000 (a large APK or JAR has tens of
 * thousands). More are refused before the central directory is parsed.
 *
 * @example
 * ```ts
 * import { ZIP_MAX_ENTRIES } from "./_zip_archive.ts";
 * console.assert(ZIP_MAX_ENTRIES === 100_000);
 * ```
 */
export const ZIP_MAX_ENTRIES = 100_000;
const CHUNK = 256 * 1024;
/**
 * Compressed bytes handed to the inflater at a time: a piece of a bomb inflates to at most
 * 16.5 MiB at once, so inflating holds the member plus one such chunk.
 */
const INFLATE_PIECE = 16 * 1024;
/** The most a DEFLATE stream can expand: 258 bytes per 2-bit length/distance pair. */
const MAX_DEFLATE_RATIO = 1032;

const METHODS: Record<number, string> = {
  1: "shrink",
  2: "reduce",
  3: "reduce",
  4: "reduce",
  5: "reduce",
  6: "implode",
  9: "deflate64",
  10: "PKWARE DCL implode",
  12: "bzip2",
  14: "LZMA",
  18: "IBM TERSE",
  19: "IBM LZ77",
  20: "zstd",
  93: "zstd",
  94: "MP3",
  95: "xz",
  96: "JPEG",
  97: "WavPack",
  98: "PPMd",
  99: "AES encryption",
};

const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

/**
 * Decode an entry name as libzip guesses: UTF-8 when the flag says so or the bytes are
 * valid UTF-8, otherwise code page 437.
 *
 * @param bytes The raw name.
 * @param utf8Flag Whether general purpose bit 11 is set.
 * @returns The name.
 *
 * @example
 * ```ts
 * import { decodeZipName } from "./_zip_archive.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeZipName(new Uint8Array([0x61, 0x80]), false), "aÇ");
 * assert.equal(decodeZipName(new TextEncoder().encode("é"), false), "é");
 * ```
 */
export function decodeZipName(bytes: Uint8Array, utf8Flag: boolean): string {
  if (utf8Flag) return new TextDecoder().decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return Array.from(bytes, (b) => b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80])
      .join("");
  }
}

function u64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new SyntaxError(`${what} is too large`);
  return Number(value);
}

/**
 * An open zip archive. Opening reads only the end records and the central directory;
 * {@linkcode ZipArchive.read} reads one member's local header and compressed bytes.
 *
 * @example
 * ```ts
 * import { ZipArchive } from "./_zip_archive.ts";
 * import assert from "node:assert/strict";
 *
 * // An archive with one stored member "a" holding "hi".
 * const name = new TextEncoder().encode("a");
 * const data = new TextEncoder().encode("hi");
 * const crc = 0xd8932aac;
 * const local = new Uint8Array(30 + 1 + 2);
 * const lv = new DataView(local.buffer);
 * lv.setUint32(0, 0x04034b50, true); lv.setUint32(14, crc, true);
 * lv.setUint32(18, 2, true); lv.setUint32(22, 2, true); lv.setUint16(26, 1, true);
 * local.set(name, 30); local.set(data, 31);
 * const central = new Uint8Array(46 + 1);
 * const cv = new DataView(central.buffer);
 * cv.setUint32(0, 0x02014b50, true); cv.setUint32(16, crc, true);
 * cv.setUint32(20, 2, true); cv.setUint32(24, 2, true); cv.setUint16(28, 1, true);
 * central.set(name, 46);
 * const end = new Uint8Array(22);
 * const ev = new DataView(end.buffer);
 * ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, 1, true); ev.setUint16(10, 1, true);
 * ev.setUint32(12, central.length, true); ev.setUint32(16, local.length, true);
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([...local, ...central, ...end]));
 *
 * using zip = await ZipArchive.open(path);
 * assert.deepEqual(zip.entries.map((e) => e.name), ["a"]);
 * assert.equal(new TextDecoder().decode(await zip.read(zip.entries[0], 100)), "hi");
 * await Deno.remove(path);
 * ```
 */
export class ZipArchive implements Disposable {
  /** The entries, in central directory order. */
  readonly entries: readonly ZipEntry[];
  readonly #file: Deno.FsFile;
  /** Bytes prepended to the archive (a self-extractor stub), added to every offset. */
  readonly #shift: number;
  /** Where each entry's data must end: the next local header or the central directory. */
  readonly #limits: Map<ZipEntry, number>;

  private constructor(file: Deno.FsFile, directory: Directory) {
    this.#file = file;
    this.entries = directory.entries;
    this.#shift = directory.shift;
    this.#limits = directory.limits;
  }

  /**
   * Open the archive at `path` and read its central directory.
   *
   * @param path The archive.
   * @param options How to open it (opened, then verified inside the permission scope).
   * @returns The archive (close it, or use `using`).
   * @throws {SyntaxError} When the file is not a valid zip archive, or its entries overlap
   * each other or the central directory (several entries sharing one deflate stream are
   * how a 1 MB file inflates to gigabytes).
   * @throws {RangeError} When it has more than {@linkcode ZIP_MAX_ENTRIES} entries.
   */
  static async open(path: string, options: ScopedOpenOptions = {}): Promise<ZipArchive> {
    const file = await openInScope(path, { ...options, write: false });
    try {
      const info = await file.stat();
      if (info.isDirectory) throw new Deno.errors.IsADirectory(path);
      return new ZipArchive(file, await readDirectory(file, info.size));
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * The entry with exactly this name (the first, if several have it).
   *
   * @param name The entry name.
   * @returns The entry, or undefined.
   */
  find(name: string): ZipEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /**
   * Read and, when deflated, inflate one member, then verify its size and CRC-32. Only
   * the member's local header and compressed bytes are read from the file.
   *
   * @param entry The member.
   * @param maxSize The largest uncompressed size accepted.
   * @returns The member's bytes.
   * @throws {Error} For encrypted members, unsupported methods, corrupt data, a CRC-32
   * mismatch, or a size over `maxSize`.
   */
  async read(entry: ZipEntry, maxSize: number): Promise<Uint8Array> {
    if (entry.flags & 1) {
      throw new Error(`member "${entry.name}" is encrypted, which is not supported`);
    }
    if (entry.method !== 0 && entry.method !== 8) {
      const name = METHODS[entry.method];
      throw new Error(
        `member "${entry.name}" uses compression method ${entry.method}${
          name ? ` (${name})` : ""
        }, which is not supported (only stored and deflate)`,
      );
    }
    if (entry.size > maxSize) {
      throw new RangeError(
        `member "${entry.name}" is ${entry.size} bytes, over the limit of ${maxSize} bytes`,
      );
    }
    const at = entry.localHeaderOffset + this.#shift;
    const header = await readAt(this.#file, at, 30);
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (header.length < 30 || view.getUint32(0, true) !== LOCAL) {
      throw new SyntaxError(`member "${entry.name}": bad local header at offset ${at}`);
    }
    const start = at + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + entry.compressedSize > this.#limits.get(entry)!) {
      throw new SyntaxError(
        `member "${entry.name}": its data runs into the next entry or the central directory ` +
          `(overlapping entries are refused)`,
      );
    }
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) {
        throw new SyntaxError(`member "${entry.name}": stored sizes disagree`);
      }
      data = await readAt(this.#file, start, entry.size);
    } else {
      // DEFLATE expands at most 1032:1, so a larger declared size is a lie; refusing it
      // keeps a tiny archive from making #inflate allocate up to maxSize bytes.
      if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
        throw new SyntaxError(
          `member "${entry.name}" declares ${entry.size} bytes, more than its ` +
            `${entry.compressedSize} deflated bytes can hold`,
        );
      }
      data = await this.#inflate(entry, start);
    }
    if (crc32(data) !== entry.crc32) {
      throw new SyntaxError(`member "${entry.name}": CRC-32 mismatch (corrupt data)`);
    }
    return data;
  }

  async #inflate(entry: ZipEntry, start: number): Promise<Uint8Array> {
    const file = this.#file;
    const end = start + entry.compressedSize;
    let position = start;
    const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        if (position >= end) return controller.close();
        const chunk = await readAt(file, position, Math.min(CHUNK, end - position));
        if (chunk.length === 0) return controller.error(new SyntaxError("truncated"));
        position += chunk.length;
        // Small pieces: each inflates to one output chunk, at most 1032 times its size.
        for (let at = 0; at < chunk.length; at += INFLATE_PIECE) {
          controller.enqueue(chunk.subarray(at, at + INFLATE_PIECE) as Uint8Array<ArrayBuffer>);
        }
      },
    });
    const out = new Uint8Array(entry.size);
    let filled = 0;
    const reader = source.pipeThrough(new DecompressionStream("deflate-raw")).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (filled + value.length > out.length) {
          await reader.cancel();
          throw new SyntaxError(
            `member "${entry.name}" inflates to more than its declared ${entry.size} bytes`,
          );
        }
        out.set(value, filled);
        filled += value.length;
      }
    } catch (error) {
      if (error instanceof SyntaxError) throw error;
      throw new SyntaxError(`member "${entry.name}": corrupt deflate data`, { cause: error });
    } finally {
      reader.releaseLock();
    }
    if (filled !== out.length) {
      throw new SyntaxError(
        `member "${entry.name}" inflates to ${filled} bytes, not the declared ${entry.size}`,
      );
    }
    return out;
  }

  /** Close the file. */
  close(): void {
    this.#file.close();
  }

  /** Same as {@linkcode ZipArchive.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The parsed central directory. */
interface Directory {
  entries: ZipEntry[];
  shift: number;
  limits: Map<ZipEntry, number>;
}

async function readDirectory(file: Deno.FsFile, fileSize: number): Promise<Directory> {
  if (fileSize < 22) throw new SyntaxError("not a zip archive (too short)");
  const tailStart = Math.max(0, fileSize - (22 + 0xffff + 20));
  const tail = await readAt(file, tailStart, fileSize - tailStart);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let e = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD && i + 22 + tv.getUint16(i + 20, true) <= tail.length) {
      e = i;
      break;
    }
  }
  if (e < 0) {
    throw new SyntaxError("not a zip archive (no end of central directory record)");
  }
  const eocdAt = tailStart + e;
  if (tv.getUint16(e + 4, true) !== 0 || tv.getUint16(e + 6, true) !== 0) {
    throw new SyntaxError("multi-volume zip archives are not supported");
  }
  let count = tv.getUint16(e + 10, true);
  let cdSize = tv.getUint32(e + 12, true);
  let cdOffset = tv.getUint32(e + 16, true);
  let cdEnd = eocdAt;
  let zip64 = false;
  if (e >= 20 && tv.getUint32(e - 20, true) === EOCD64_LOCATOR) {
    const at = u64(tv, e - 20 + 8, "zip64 end record offset");
    const record = await readAt(file, at, 56);
    const rv = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (record.length === 56 && rv.getUint32(0, true) === EOCD64) {
      count = u64(rv, 32, "entry count");
      cdSize = u64(rv, 40, "central directory size");
      cdOffset = u64(rv, 48, "central directory offset");
      cdEnd = at;
      zip64 = true;
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw new SyntaxError("not a zip archive (bad zip64 end of central directory record)");
    }
  }
  if (count > ZIP_MAX_ENTRIES) {
    throw new RangeError(
      `the archive has ${count} entries, more than the ${ZIP_MAX_ENTRIES} allowed`,
    );
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) {
    throw new SyntaxError(`central directory of ${cdSize} bytes is too large`);
  }
  if (cdOffset + cdSize > cdEnd) {
    throw new SyntaxError("not a zip archive (central directory out of bounds)");
  }
  let shift = 0;
  let cd = await readAt(file, cdOffset, cdSize);
  const startsWell = (bytes: Uint8Array) =>
    count === 0 ||
    (bytes.length >= 4 &&
      new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === CENTRAL);
  if (!startsWell(cd) && !zip64 && cdEnd - cdSize > cdOffset) {
    // Data prepended to the archive (a self-extractor stub) shifts every offset alike.
    shift = cdEnd - cdSize - cdOffset;
    cd = await readAt(file, cdOffset + shift, cdSize);
  }
  if (cd.length !== cdSize) throw new SyntaxError("truncated central directory");
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let index = 0; index < count; index++) {
    if (p + 46 > cd.length || view.getUint32(p, true) !== CENTRAL) {
      throw new SyntaxError(`corrupt central directory (entry ${index})`);
    }
    const flags = view.getUint16(p + 8, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const next = p + 46 + nameLength + extraLength + commentLength;
    if (next > cd.length) throw new SyntaxError(`corrupt central directory (entry ${index})`);
    const entry: ZipEntry = {
      index,
      name: decodeZipName(cd.subarray(p + 46, p + 46 + nameLength), (flags & 0x800) !== 0),
      flags,
      method: view.getUint16(p + 10, true),
      crc32: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localHeaderOffset: view.getUint32(p + 42, true),
    };
    applyZip64Extra(entry, view, p + 46 + nameLength, extraLength);
    entries.push(entry);
    p = next;
  }
  const cdStart = cdOffset + shift;
  return { entries, shift, limits: dataLimits(entries, shift, cdStart, cdStart + cdSize, cdEnd) };
}

/**
 * Check that no two entries overlap (each spans at least its 30-byte local header and its
 * compressed data) and none overlaps the central directory; return where each entry's data
 * must end (the next local header, or the central directory).
 */
function dataLimits(
  entries: readonly ZipEntry[],
  shift: number,
  cdStart: number,
  cdEnd: number,
  fileEnd: number,
): Map<ZipEntry, number> {
  const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  const limits = new Map<ZipEntry, number>();
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i];
    const at = entry.localHeaderOffset + shift;
    const end = at + 30 + entry.compressedSize;
    const next = sorted[i + 1];
    const nextAt = next === undefined ? Infinity : next.localHeaderOffset + shift;
    if (end > nextAt) {
      throw new SyntaxError(
        `entries "${entry.name}" and "${next.name}" overlap (local headers at ${at} and ` +
          `${nextAt}): archives whose entries share data are refused`,
      );
    }
    if (at < cdEnd && end > cdStart) {
      throw new SyntaxError(`entry "${entry.name}" overlaps the central directory`);
    }
    limits.set(entry, Math.min(nextAt, at < cdStart ? cdStart : fileEnd));
  }
  return limits;
}

/** Replace 0xffffffff sizes and offset with the zip64 extended information (tag 0x0001). */
function applyZip64Extra(entry: ZipEntry, view: DataView, at: number, length: number): void {
  const wanted = entry.size === 0xffffffff ||
    entry.compressedSize === 0xffffffff || entry.localHeaderOffset === 0xffffffff;
  if (!wanted) return;
  for (let p = at; p + 4 <= at + length;) {
    const tag = view.getUint16(p, true);
    const size = view.getUint16(p + 2, true);
    if (tag === 0x0001) {
      let q = p + 4;
      const end = q + size;
      const take = (what: string) => {
        if (q + 8 > end) throw new SyntaxError(`entry "${entry.name}": short zip64 field`);
        const value = u64(view, q, what);
        q += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = take("size");
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take("compressed size");
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = take("offset");
      return;
    }
    p += 4 + size;
  }
  throw new SyntaxError(`entry "${entry.name}": missing zip64 sizes`);
}
