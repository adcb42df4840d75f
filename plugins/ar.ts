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
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { splitUri, uriRest } from "../lib/io/uri.ts";
import { type ArMember, readArMembers } from "./_ar_archive.ts";
import { archiveOpeners, checkFileRoom } from "./_archive_open.ts";
import { FileRangeDescriptor, SharedFile } from "./_file_range.ts";

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

/** Open the archive and read its member table; the file is closed again when that fails. */
async function openArchive(
  uri: string,
  path: string,
  options: OpenOptions,
): Promise<{ shared: SharedFile; members: ArMember[] }> {
  const file = await openInScope(path, { uri, remote: options.remote });
  try {
    return {
      members: await readArMembers(file, options.memoryBudget),
      shared: new SharedFile(file),
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

async function openMember(uri: string, options: OpenOptions): Promise<IoDescriptor> {
  const { archive, member } = parseArUri(uri);
  const { shared, members } = await openArchive(uri, archive, options);
  const found = member === "" ? undefined : members.find((m) => m.name === member);
  if (!found) {
    await shared.release();
    const scheme = schemeOf(uri);
    throw new IoError(
      uri,
      member === ""
        ? `Cannot open "${uri}": no member given (use ${scheme}://ARCHIVE//MEMBER); ` +
          `the archive has:\n${members.map((m) => m.name).join("\n")}`
        : `Cannot open "${uri}": member "${member}" not found in archive "${archive}"`,
    );
  }
  return new FileRangeDescriptor(uri, "ar", shared, found.offset, found.size);
}

async function openMembers(uri: string, options: OpenOptions): Promise<IoDescriptor[]> {
  const archive = uriRest(uri, "an archive path");
  const { shared, members } = await openArchive(uri, archive, options);
  try {
    if (members.length === 0) {
      throw new IoError(uri, `Cannot open "${uri}": archive "${archive}" has no members`);
    }
    checkFileRoom(uri, members.length, "members", options);
  } catch (error) {
    await shared.release();
    throw error;
  }
  const single = MANY[schemeOf(uri)];
  const descriptors = members.map((m) => {
    shared.retain();
    return new FileRangeDescriptor(
      `${single}://${archive}//${m.name}`,
      "ar",
      shared,
      m.offset,
      m.size,
    );
  });
  await shared.release(); // the opener's own reference
  return descriptors;
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
const ar: IoPlugin = definePlugin({
  name: "ar",
  description: "one member of an ar archive or static library (read-only; arall:// for all)",
  schemes: ["ar", "lib", "arall", "liball"],
  uriForms: [
    "ar://ARCHIVE//MEMBER",
    "lib://ARCHIVE//MEMBER",
    "arall://ARCHIVE (many)",
    "liball://ARCHIVE (many)",
  ],
  permissions(uri) {
    const path = isMany(schemeOf(uri)) ? uriRest(uri, "an archive path") : parseArUri(uri).archive;
    return [{ name: "read", path }];
  },
  ...archiveOpeners({
    isMany,
    readOnly: "ar archives are read-only",
    manyHint: (scheme) =>
      `${scheme}:// opens every member at once (use openMany), ` +
      `or name one with ${MANY[scheme]}://ARCHIVE//MEMBER`,
    one: openMember,
    all: openMembers,
  }),
});

export default ar;
