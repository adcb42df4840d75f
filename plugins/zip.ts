/**
 * `zip://ARCHIVE//MEMBER`, `zip://ARCHIVE::N`, `jar://…`, `ipa://…` — one member of a zip
 * archive, read-only, with radare2's path syntax:
 *
 * - `ARCHIVE//MEMBER`: the member whose name is exactly MEMBER (split at the first `//`);
 * - `ARCHIVE::N`: the N-th entry (0-based, central directory order);
 * - `ARCHIVE` alone: the open fails with the list of entries (`<i> <name>` lines), except
 *   `ipa://ARCHIVE`, which picks `Payload/X.app/X`.
 *
 * Several members at once (radare2's `open_many`; the whole rest is the archive):
 * `apk://` and `apkall://` (`AndroidManifest.xml` and `*.dex`), `zip0://` (the first
 * file), `zipall://`, `jarall://`, `ipaall://` (every file). Each descriptor's URI is
 * `zip://ARCHIVE//NAME`. Directory entries are skipped.
 *
 * Only the central directory and the chosen member's bytes are read from the file; stored
 * and deflated members are supported, and their CRC-32 is verified. Members are loaded
 * into RAM (up to {@linkcode ZIP_MAX_MEMBER} bytes). Opening for writing fails, as in
 * radare2.
 *
 * Before anything is inflated: archives with more than {@linkcode ZIP_MAX_ENTRIES} entries,
 * or whose entries overlap each other or the central directory (entries sharing one
 * deflate stream: a 1 MB file that inflates to gigabytes), are refused; the declared sizes
 * of the members to load are claimed from the open's memory budget
 * (`OpenOptions.memoryBudget`), so what does not fit is refused before it is inflated; a
 * `*all://` open with more members than `OpenOptions.maxFiles` is refused.
 *
 * @example
 * ```ts
 * import zip, { parseZipUri } from "./zip.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseZipUri("zip:///tmp/a.zip//lib/x.so"), {
 *   scheme: "zip", archive: "/tmp/a.zip", member: { name: "lib/x.so" },
 * });
 * assert.deepEqual(zip.permissions("apk://app.apk", {}), [{ name: "read", path: "app.apk" }]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { MemoryDescriptor } from "../lib/io/memory_descriptor.ts";
import { formatBytes } from "../lib/io/memory_budget.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { splitUri, uriRest } from "../lib/io/uri.ts";
import { archiveOpeners, checkFileRoom } from "./_archive_open.ts";
import { ZIP_MAX_ENTRIES, ZipArchive, type ZipEntry } from "./_zip_archive.ts";

export { ZIP_MAX_ENTRIES };

/**
 * The largest member (uncompressed) the plugin loads: 1 GiB.
 *
 * @example
 * ```ts
 * import { ZIP_MAX_MEMBER } from "./zip.ts";
 * console.assert(ZIP_MAX_MEMBER === 2 ** 30);
 * ```
 */
export const ZIP_MAX_MEMBER = 2 ** 30;

const SINGLE = ["zip", "jar", "ipa"] as const;
const MANY = ["apk", "zip0", "zipall", "apkall", "ipaall", "jarall"] as const;

/**
 * A parsed single-member zip URI.
 *
 * @example
 * ```ts
 * import type { ZipUri } from "./zip.ts";
 * const uri: ZipUri = { scheme: "zip", archive: "a.zip", member: { index: 2 } };
 * console.assert(uri.archive === "a.zip");
 * ```
 */
export interface ZipUri {
  /** The scheme, lower-cased. */
  scheme: string;
  /** The archive path. */
  archive: string;
  /** The member, by name or index; undefined when the URI names only the archive. */
  member?: { name: string } | { index: number };
}

/**
 * Split a `zip://`, `jar://` or `ipa://` URI as radare2 does: at the first `//` for a
 * member name, else at `::` for an index, else the whole rest is the archive.
 *
 * @param uri The URI.
 * @returns Its parts.
 * @throws {IoError} For an empty rest or a non-numeric index.
 *
 * @example
 * ```ts
 * import { parseZipUri } from "./zip.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseZipUri("zip://a.zip::3").member, { index: 3 });
 * assert.equal(parseZipUri("ipa:///x.ipa").member, undefined);
 * ```
 */
export function parseZipUri(uri: string): ZipUri {
  const scheme = splitUri(uri)?.scheme ?? "zip";
  const rest = uriRest(uri, "an archive path");
  const slashes = rest.indexOf("//");
  if (slashes > 0) {
    const name = rest.slice(slashes + 2);
    return { scheme, archive: rest.slice(0, slashes), ...(name ? { member: { name } } : {}) };
  }
  const colons = rest.indexOf("::");
  if (colons > 0 && colons + 2 < rest.length) {
    const index = rest.slice(colons + 2);
    if (!/^\d+$/.test(index)) {
      throw new IoError(uri, `Cannot open "${uri}": invalid member index "${index}"`);
    }
    return { scheme, archive: rest.slice(0, colons), member: { index: Number(index) } };
  }
  return { scheme, archive: rest };
}

function isMany(scheme: string): boolean {
  return (MANY as readonly string[]).includes(scheme);
}

function archivePath(uri: string): string {
  return isMany(splitUri(uri)?.scheme ?? "zip")
    ? uriRest(uri, "an archive path")
    : parseZipUri(uri).archive;
}

function listing(entries: readonly ZipEntry[]): string {
  return entries.map((e) => `${e.index} ${e.name}`).join("\n");
}

/** radare2's `ipa://` choice: the entry named `Payload/X.app/X`. */
function ipaBinary(entries: readonly ZipEntry[]): ZipEntry | undefined {
  return entries.find((e) => /^Payload\/([^/]+)\.app\/\1$/.test(e.name));
}

function isDirectory(entry: ZipEntry): boolean {
  return entry.name.endsWith("/") && entry.size === 0;
}

async function openSingle(uri: string, options: OpenOptions): Promise<IoDescriptor> {
  const parsed = parseZipUri(uri);
  using zip = await ZipArchive.open(parsed.archive, { uri, remote: options.remote });
  let entry: ZipEntry | undefined;
  const member = parsed.member;
  if (member === undefined) {
    entry = parsed.scheme === "ipa" ? ipaBinary(zip.entries) : undefined;
    if (!entry) {
      const what = parsed.scheme === "ipa" ? "no Payload/X.app/X entry and no member" : "no member";
      throw new IoError(
        uri,
        `Cannot open "${uri}": ${what} given (use ${parsed.scheme}://ARCHIVE//MEMBER or ` +
          `${parsed.scheme}://ARCHIVE::N); the archive has:\n${listing(zip.entries)}`,
      );
    }
  } else if ("index" in member) {
    entry = zip.entries[member.index];
    if (!entry) {
      throw new IoError(
        uri,
        `Cannot open "${uri}": no entry ${member.index} in archive "${parsed.archive}" ` +
          `(it has ${zip.entries.length})`,
      );
    }
  } else {
    entry = zip.find(member.name);
    if (!entry) {
      throw new IoError(
        uri,
        `Cannot open "${uri}": file "${member.name}" not found in archive "${parsed.archive}"`,
      );
    }
  }
  options.memoryBudget?.claim(entry.size, `member "${entry.name}"`);
  const data = await zip.read(entry, ZIP_MAX_MEMBER);
  return new MemoryDescriptor(uri, "zip", data, { writable: false });
}

/** Refuse a many-open over the session's file room or memory budget before inflating. */
function claimMany(uri: string, chosen: readonly ZipEntry[], options: OpenOptions): void {
  checkFileRoom(uri, chosen.length, "files", options);
  for (const entry of chosen) {
    if (entry.size > ZIP_MAX_MEMBER) {
      throw new RangeError(
        `member "${entry.name}" is ${entry.size} bytes, over the limit of ${ZIP_MAX_MEMBER} bytes`,
      );
    }
  }
  const total = chosen.reduce((sum, e) => sum + e.size, 0);
  options.memoryBudget?.claim(
    total,
    `opening ${chosen.length} members (${formatBytes(total)} declared)`,
  );
}

async function openMany(uri: string, options: OpenOptions): Promise<IoDescriptor[]> {
  const scheme = splitUri(uri)?.scheme ?? "";
  const archive = uriRest(uri, "an archive path");
  using zip = await ZipArchive.open(archive, { uri, remote: options.remote });
  let chosen = zip.entries.filter((e) => !isDirectory(e));
  if (scheme === "apk" || scheme === "apkall") {
    chosen = chosen.filter((e) => e.name === "AndroidManifest.xml" || e.name.endsWith(".dex"));
  } else if (scheme === "zip0") {
    chosen = chosen.slice(0, 1);
  }
  if (chosen.length === 0) {
    throw new IoError(uri, `Cannot open "${uri}": no matching files in archive "${archive}"`);
  }
  claimMany(uri, chosen, options);
  const descriptors: IoDescriptor[] = [];
  for (const entry of chosen) {
    const data = await zip.read(entry, ZIP_MAX_MEMBER);
    descriptors.push(
      new MemoryDescriptor(`zip://${archive}//${entry.name}`, "zip", data, { writable: false }),
    );
  }
  return descriptors;
}

/**
 * The `zip` plugin.
 *
 * @example
 * ```ts
 * import zip from "./zip.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(zip.open("zip:///tmp/a.zip//x", { write: true }), /write mode/);
 * ```
 */
const zip: IoPlugin = definePlugin({
  name: "zip",
  description: "one member of a zip/jar/ipa/apk archive (read-only; *all:// open every member)",
  schemes: [...SINGLE, ...MANY],
  uriForms: [
    "zip://ARCHIVE//MEMBER",
    "zip://ARCHIVE::N",
    "jar://ARCHIVE//MEMBER",
    "ipa://ARCHIVE[//MEMBER]",
    "apk://ARCHIVE (many)",
    "zip0://ARCHIVE (many)",
    "zipall://ARCHIVE (many)",
    "apkall://ARCHIVE (many)",
    "ipaall://ARCHIVE (many)",
    "jarall://ARCHIVE (many)",
  ],
  permissions: (uri) => [{ name: "read", path: archivePath(uri) }],
  ...archiveOpeners({
    isMany,
    readOnly: "opening zip archives in write mode is not supported",
    manyHint: (scheme) =>
      `${scheme}:// opens several members at once (use openMany), ` +
      `or name one with zip://ARCHIVE//MEMBER`,
    one: openSingle,
    all: openMany,
  }),
});

export default zip;
