/**
 * The open flow the archive plugins (`ar://`, `zip://`) share: read-only, a scheme that
 * opens one member and schemes that open several (radare2's `open_many`), the session's
 * room for files, and failures as clear errors.
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { splitUri } from "../lib/io/uri.ts";
import { openFailure } from "./_open_error.ts";

/**
 * What an archive plugin gives {@linkcode archiveOpeners}.
 *
 * @example
 * ```ts
 * import type { ArchiveOpeners } from "./_archive_open.ts";
 * const openers: ArchiveOpeners = {
 *   isMany: (scheme) => scheme === "tarall",
 *   readOnly: "tar archives are read-only",
 *   manyHint: (scheme) => `${scheme}:// opens every member at once (use openMany)`,
 *   one: () => Promise.reject(new Error("no member")),
 *   all: () => Promise.resolve([]),
 * };
 * console.assert(openers.isMany("tarall"));
 * ```
 */
export interface ArchiveOpeners {
  /**
   * Whether `scheme` opens several members.
   *
   * @param scheme The URI's scheme, lower-cased.
   */
  isMany(scheme: string): boolean;
  /** Why opening for writing fails, e.g. `ar archives are read-only`. */
  readOnly: string;
  /**
   * Why `open` refuses a URI of a scheme that opens several members.
   *
   * @param scheme The scheme.
   */
  manyHint(scheme: string): string;
  /**
   * Open the one member a URI names.
   *
   * @param uri The URI.
   * @param options How to open it (never for writing).
   */
  one(uri: string, options: OpenOptions): Promise<IoDescriptor>;
  /**
   * Open the members a URI of a "many" scheme names.
   *
   * @param uri The URI.
   * @param options How to open them (never for writing).
   */
  all(uri: string, options: OpenOptions): Promise<IoDescriptor[]>;
}

/**
 * `open` and `openMany` of an archive plugin: writes are refused; `open` of a "many" URI
 * fails with the hint, `openMany` of a single-member URI opens that one; what fails
 * becomes an {@linkcode IoError} (`openFailure`).
 *
 * @param openers See {@linkcode ArchiveOpeners}.
 * @returns The two methods, for the plugin (or `definePlugin`).
 *
 * @example
 * ```ts
 * import { archiveOpeners } from "./_archive_open.ts";
 * import assert from "node:assert/strict";
 *
 * const { open } = archiveOpeners({
 *   isMany: (scheme) => scheme === "tarall",
 *   readOnly: "tar archives are read-only",
 *   manyHint: () => "it opens several members (use openMany)",
 *   one: () => Promise.reject(new Deno.errors.NotFound("x")),
 *   all: () => Promise.resolve([]),
 * });
 * await assert.rejects(open("tar://a.tar//x", { write: true }), /tar archives are read-only/);
 * await assert.rejects(open("tarall://a.tar", {}), /use openMany/);
 * await assert.rejects(open("tar://a.tar//x", {}), /Cannot open "tar:\/\/a.tar\/\/x": no such file/);
 * ```
 */
export function archiveOpeners(
  openers: ArchiveOpeners,
): Required<Pick<IoPlugin, "open" | "openMany">> {
  const refuseWrite = (uri: string, options: OpenOptions) => {
    if (options.write) throw new IoError(uri, `Cannot open "${uri}": ${openers.readOnly}`);
  };
  const open = async (uri: string, options: OpenOptions) => {
    refuseWrite(uri, options);
    const scheme = splitUri(uri)?.scheme ?? "";
    if (openers.isMany(scheme)) {
      throw new IoError(uri, `Cannot open "${uri}": ${openers.manyHint(scheme)}`);
    }
    try {
      return await openers.one(uri, options);
    } catch (error) {
      throw openFailure(uri, error);
    }
  };
  const openMany = async (uri: string, options: OpenOptions) => {
    if (!openers.isMany(splitUri(uri)?.scheme ?? "")) return [await open(uri, options)];
    refuseWrite(uri, options);
    try {
      return await openers.all(uri, options);
    } catch (error) {
      throw openFailure(uri, error);
    }
  };
  return { open, openMany };
}

/**
 * Refuse an open of `count` files when the session may open fewer
 * (`OpenOptions.maxFiles`, `--max-open-files`), before any work is done.
 *
 * @param uri The URI being opened.
 * @param count How many descriptors it would return.
 * @param noun What they are, for the message (`files`, `members`).
 * @param options The open's options.
 * @throws {IoError} When they do not fit.
 *
 * @example
 * ```ts
 * import { checkFileRoom } from "./_archive_open.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => checkFileRoom("zipall://a.zip", 3, "files", { maxFiles: 2 }),
 *   /it has 3 files, more than the 2 the session may still open \(--max-open-files\)/,
 * );
 * checkFileRoom("zipall://a.zip", 3, "files", {});
 * ```
 */
export function checkFileRoom(
  uri: string,
  count: number,
  noun: string,
  options: OpenOptions,
): void {
  const room = options.maxFiles ?? Infinity;
  if (count > room) {
    throw new IoError(
      uri,
      `Cannot open "${uri}": it has ${count} ${noun}, more than the ${room} the session may ` +
        "still open (--max-open-files)",
    );
  }
}
