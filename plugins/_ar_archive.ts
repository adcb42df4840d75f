/**
 * The member table of a Unix `ar` archive (static libraries, `.deb`, Windows `.lib`):
 * GNU/SysV names (`name/`, the `//` long-name table with `/N` references, the `/` and
 * `/SYM64/` symbol tables skipped) and BSD names (`#1/LEN` with the name at the start of
 * the data, plain space-padded names, `__.SYMDEF` symbol tables skipped). Only the
 * 60-byte headers, the long-name table and BSD names are read.
 *
 * @module
 */

import type { MemoryAllowance } from "../lib/io/types.ts";
import { readAt } from "./_file_range.ts";

/**
 * One member of an ar archive.
 *
 * @example
 * ```ts
 * import type { ArMember } from "./_ar_archive.ts";
 * const member: ArMember = { name: "a.o", offset: 68, size: 4 };
 * console.assert(member.size === 4);
 * ```
 */
export interface ArMember {
  /** The member name. */
  name: string;
  /** Where its data starts in the archive. */
  offset: number;
  /** Its data length. */
  size: number;
}

const MAGIC = "!<arch>\n";
const THIN_MAGIC = "!<thin>\n";
const HEADER = 60;
/** A long-name table larger than this is refused. */
const MAX_NAME_TABLE = 64 * 1024 * 1024;

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/**
 * List the members of the ar archive in `file`.
 *
 * @param file The open archive.
 * @param memory The open's memory budget: the long-name table, read into RAM, is claimed
 * from it first.
 * @returns The members, in archive order (symbol and name tables left out).
 * @throws {SyntaxError} When the archive is malformed or truncated.
 *
 * @example
 * ```ts
 * import { readArMembers } from "./_ar_archive.ts";
 * import assert from "node:assert/strict";
 *
 * const header = (name: string, size: number) =>
 *   name.padEnd(16) + "0".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "644".padEnd(8) +
 *   String(size).padEnd(10) + "`\n";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "!<arch>\n" + header("hello.txt/", 3) + "hi\n\n");
 * using file = await Deno.open(path);
 * assert.deepEqual(await readArMembers(file), [{ name: "hello.txt", offset: 68, size: 3 }]);
 * await Deno.remove(path);
 * ```
 */
export async function readArMembers(
  file: Deno.FsFile,
  memory?: MemoryAllowance,
): Promise<ArMember[]> {
  const fileSize = (await file.stat()).size;
  const magic = latin1.decode(await readAt(file, 0, 8));
  if (magic === THIN_MAGIC) {
    throw new SyntaxError("thin ar archives (members stored outside) are not supported");
  }
  if (magic !== MAGIC) throw new SyntaxError("not an ar archive (bad magic)");
  const members: ArMember[] = [];
  let names: Uint8Array | undefined;
  let pos = 8;
  for (;;) {
    if (pos % 2 === 1) pos++; // headers start at even offsets; a "\n" pads odd data
    if (pos >= fileSize) break;
    if (pos + HEADER > fileSize) {
      throw new SyntaxError(`truncated ar header at offset ${pos}`);
    }
    const header = latin1.decode(await readAt(file, pos, HEADER));
    if (header.slice(58, 60) !== "`\n") {
      throw new SyntaxError(`invalid ar header at offset ${pos}: bad end marker`);
    }
    const sizeField = header.slice(48, 58).trimEnd();
    if (!/^\d+$/.test(sizeField)) {
      throw new SyntaxError(`invalid ar header at offset ${pos}: bad size "${sizeField}"`);
    }
    const rawName = header.slice(0, 16).trimEnd();
    let offset = pos + HEADER;
    let size = Number(sizeField);
    const next = offset + size;
    if (next > fileSize) {
      throw new SyntaxError(`truncated ar archive: member at offset ${pos} runs past the end`);
    }
    pos = next;

    if (rawName === "/" || rawName === "/SYM64/") continue; // GNU/SysV symbol tables
    if (rawName === "//") {
      if (names) throw new SyntaxError("invalid ar archive: two long-name tables");
      if (size > MAX_NAME_TABLE) throw new SyntaxError("ar long-name table is too large");
      memory?.claim(size, "the long-name table");
      names = await readAt(file, offset, size);
      continue;
    }
    let name: string;
    const gnuLong = /^\/(\d+)$/.exec(rawName);
    const bsdLong = /^#1\/(\d+)$/.exec(rawName);
    if (gnuLong) {
      name = longName(names, Number(gnuLong[1]), offset - HEADER);
    } else if (bsdLong) {
      const length = Number(bsdLong[1]);
      if (length > size) {
        throw new SyntaxError(`invalid ar header at offset ${offset - HEADER}: name too long`);
      }
      name = utf8.decode(await readAt(file, offset, length)).replace(/\0+$/, "");
      offset += length;
      size -= length;
    } else if (rawName.endsWith("/")) {
      name = rawName.slice(0, -1); // GNU "name/"
    } else {
      name = rawName; // BSD short name
    }
    if (name === "") {
      throw new SyntaxError(`invalid ar header at offset ${offset - HEADER}: empty name`);
    }
    if (name.startsWith("__.SYMDEF")) continue; // BSD symbol tables
    members.push({ name, offset, size });
  }
  return members;
}

/** A GNU long name: the table entry at `at`, up to "\n", without its trailing "/". */
function longName(table: Uint8Array | undefined, at: number, header: number): string {
  if (!table) {
    throw new SyntaxError(`invalid ar header at offset ${header}: long name without a table`);
  }
  if (at >= table.length) {
    throw new SyntaxError(`invalid ar header at offset ${header}: long name out of bounds`);
  }
  let end = at;
  while (end < table.length && table[end] !== 0x0a && table[end] !== 0) end++;
  const name = utf8.decode(table.subarray(at, end));
  return name.endsWith("/") ? name.slice(0, -1) : name;
}
