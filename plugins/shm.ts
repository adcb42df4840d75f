/**
 * `shm://NAME` (or `shm:///NAME`) — a POSIX shared memory object: the file
 * `/dev/shm/NAME` (what `shm_open("/NAME")` opens on Linux), read with file I/O.
 * Read-only unless opened for writing; with `create` a missing object is made (empty);
 * writes past the end extend it. Other processes that map the object see the writes.
 *
 * Needs Deno's `--allow-all`: Deno opens files under `/dev` for no less, whatever
 * `--allow-read` says (the plugin still declares read, and write, of `/dev/shm/NAME`).
 *
 * radare2's shm plugin attaches **System V** shared memory (`shmget`/`shmat`, with NAME a
 * numeric id or a name hashed into a key) and always shows 0x9000 bytes; Deno cannot call
 * `shmat`, so this plugin uses the POSIX object instead and its size is the object's size.
 *
 * @example
 * ```ts
 * import shm from "./shm.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(shm.permissions("shm://rap_demo", {}), [
 *   { name: "read", path: "/dev/shm/rap_demo" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, filePermissions } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { openLocalFile } from "./file.ts";

/** Where Linux keeps POSIX shared memory objects. */
export const SHM_DIR = "/dev/shm";

/**
 * The file behind a `shm://NAME` URI.
 *
 * @param uri The URI.
 * @returns `/dev/shm/NAME`.
 * @throws {IoError} When NAME is missing, contains `/`, or is `.` or `..`.
 *
 * @example
 * ```ts
 * import { shmPath } from "./shm.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(shmPath("shm:///demo"), "/dev/shm/demo");
 * assert.throws(() => shmPath("shm://a/b"), /invalid shared memory name/);
 * ```
 */
export function shmPath(uri: string): string {
  const name = uriRest(uri, "a shared memory name").replace(/^\//, "");
  if (name === "" || name.includes("/") || name === "." || name === "..") {
    throw new IoError(
      uri,
      `Cannot open "${uri}": invalid shared memory name "${name}" (expected shm://NAME)`,
    );
  }
  return `${SHM_DIR}/${name}`;
}

/**
 * The `shm` plugin.
 *
 * @example
 * ```ts
 * import shm from "./shm.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(shm.open("shm://rap_no_such_object", {}), /no such file/);
 * ```
 */
const shm: IoPlugin = definePlugin({
  name: "shm",
  description: "POSIX shared memory /dev/shm/NAME (Deno needs --allow-all; radare2 attaches " +
    "SysV shm of a fixed 0x9000 bytes, Deno cannot, so the size is the object's)",
  uriForms: ["shm://NAME"],
  capabilities: { write: true, resize: true },
  permissions: (uri, options) => filePermissions(shmPath(uri), options.write),
  open: (uri, options) => openLocalFile(uri, shmPath(uri), options, "shm"),
});

export default shm;
