/**
 * `ar://ARCHIVE//MEMBER` and `lib://ARCHIVE//MEMBER` — one member of an `ar` archive
 * (static library, `.deb`, Windows `.lib`), read-only, read from the file on demand.
 * `arall://ARCHIVE` and `liball://ARCHIVE` open every member (radare2's `open_many`),
 * each with the URI `ar://ARCHIVE//NAME` (or `lib://…`).
 *
 * The member is the first one named exactly MEMBER (the URI splits at the first `//`);
 * without `//MEMBER` the open fails with the list of members. GNU/SysV names and long-name
 * tables and BSD `#1/LEN` names are understood (radare2 rejects BSD archives). Opening
 * for writing fails: radare2's ar write adds the member offset twice, so it is left out.
 *
 * @example
 * ```ts
 * import ar from "./ar.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ar.permissions("ar:///usr/lib/libc.a//printf.o", {}), [
 *   { name: "read", path: "/usr/lib/libc.a" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { openInScope } from "../lib/io/open_file.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { splitUri, uriRest } from "../lib/io/uri.ts";
import { readArMembers } from "./_ar_archive.ts";
import { FileRangeDescriptor, SharedFile } from "./_file_range.ts";
import { openFailure } from "./_open_error.ts";

const MANY: Record<string, string> = { arall: "ar", liball: "lib" };

/**
 * Split an `ar://` or `lib://` URI at the first `//` into archive and member.
 *
 * @param uri The URI.
 * @returns The archive path and the member name (empty when missing).
 *
 * @example
 * ```ts
 * import { parseArUri } from "./ar.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseArUri("lib:///x/libfoo.a//foo.o"), { archive: "/x/libfoo.a", member: "foo.o" });
 * assert.deepEqual(parseArUri("ar://a.a"), { archive: "a.a", member: "" });
 * ```
 */
export function parseArUri(uri: string): { archive: string; member: string } {
  const rest = uriRest(uri, "an archive path");
  const slashes = rest.indexOf("//");
  return slashes > 0
    ? { archive: rest.slice(0, slashes), member: rest.slice(slashes + 2) }
    : { archive: rest, member: "" };
}

function isMany(scheme: string): boolean {
  return Object.hasOwn(MANY, scheme);
}

function schemeOf(uri: string): string {
  return splitUri(uri)?.scheme ?? "ar";
}

function openArchive(uri: string, path: string, options: OpenOptions): Promise<Deno.FsFile> {
  return openInScope(path, { uri, remote: options.remote });
}

function refuseWrite(uri: string, options: OpenOptions): void {
  if (options.write) {
    throw new IoError(uri, `Cannot open "${uri}": ar archives are read-only`);
  }
}

/**
 * The `ar` plugin.
 *
 * @example
 * ```ts
 * import ar from "./ar.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(ar.open("ar:///tmp/x.a//a.o", { write: true }), /read-only/);
 * ```
 */
const ar: IoPlugin = {
  name: "ar",
  description: "one member of an ar archive or static library (read-only; arall:// for all)",
  schemes: ["ar", "lib", "arall", "liball"],
  uriForms: [
    "ar://ARCHIVE//MEMBER",
    "lib://ARCHIVE//MEMBER",
    "arall://ARCHIVE (many)",
    "liball://ARCHIVE (many)",
  ],
  capabilities: { read: true, write: false, resize: false, system: false },
  permissions(uri: string): Deno.PermissionDescriptor[] {
    const path = isMany(schemeOf(uri)) ? uriRest(uri, "an archive path") : parseArUri(uri).archive;
    return [{ name: "read", path }];
  },
  async open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    refuseWrite(uri, options);
    const scheme = schemeOf(uri);
    if (isMany(scheme)) {
      throw new IoError(
        uri,
        `Cannot open "${uri}": ${scheme}:// opens every member at once (use openMany), ` +
          `or name one with ${MANY[scheme]}://ARCHIVE//MEMBER`,
      );
    }
    const { archive, member } = parseArUri(uri);
    let file: Deno.FsFile | undefined;
    try {
      file = await openArchive(uri, archive, options);
      const members = await readArMembers(file, options.memoryBudget);
      if (member === "") {
        throw new IoError(
          uri,
          `Cannot open "${uri}": no member given (use ${scheme}://ARCHIVE//MEMBER); ` +
            `the archive has:\n${members.map((m) => m.name).join("\n")}`,
        );
      }
      const found = members.find((m) => m.name === member);
      if (!found) {
        throw new IoError(
          uri,
          `Cannot open "${uri}": member "${member}" not found in archive "${archive}"`,
        );
      }
      const shared = new SharedFile(file);
      file = undefined;
      return new FileRangeDescriptor(uri, "ar", shared, found.offset, found.size);
    } catch (error) {
      file?.close();
      throw openFailure(uri, error);
    }
  },
  async openMany(uri: string, options: OpenOptions): Promise<IoDescriptor[]> {
    const scheme = schemeOf(uri);
    if (!isMany(scheme)) return [await ar.open(uri, options)];
    refuseWrite(uri, options);
    const archive = uriRest(uri, "an archive path");
    let file: Deno.FsFile | undefined;
    try {
      file = await openArchive(uri, archive, options);
      const members = await readArMembers(file, options.memoryBudget);
      if (members.length === 0) {
        throw new IoError(uri, `Cannot open "${uri}": archive "${archive}" has no members`);
      }
      const room = options.maxFiles ?? Infinity;
      if (members.length > room) {
        throw new IoError(
          uri,
          `Cannot open "${uri}": it has ${members.length} members, more than the ${room} ` +
            `files the session may still open (--max-open-files)`,
        );
      }
      const shared = new SharedFile(file);
      file = undefined;
      const descriptors = members.map((m) => {
        shared.retain();
        const name = `${MANY[scheme]}://${archive}//${m.name}`;
        return new FileRangeDescriptor(name, "ar", shared, m.offset, m.size);
      });
      await shared.release(); // the opener's own reference
      return descriptors;
    } catch (error) {
      file?.close();
      throw openFailure(uri, error);
    }
  },
};

export default ar;
