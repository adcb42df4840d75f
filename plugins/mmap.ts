/**
 * `mmap://PATH` — a local file, as radare2's mmap plugin opens it. Deno has no `mmap`, so
 * this is plain positional file I/O (the same as the `file` plugin), which reads and
 * writes the same bytes: read-only unless opened for writing, and writes past the end
 * extend the file.
 *
 * @example
 * ```ts
 * import mmap from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "ab");
 * {
 *   await using desc = await mmap.open(`mmap://${path}`, { write: true });
 *   await desc.write(3, new Uint8Array([0x63]));
 *   assert.equal(await desc.size(), 4);
 * }
 * assert.deepEqual([...await Deno.readFile(path)], [0x61, 0x62, 0, 0x63]);
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { definePlugin, filePermissions } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { openLocalFile } from "./file.ts";

/**
 * The `mmap` plugin.
 *
 * @example
 * ```ts
 * import mmap from "./mmap.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(mmap.permissions("mmap:///tmp/x", {}), [{ name: "read", path: "/tmp/x" }]);
 * ```
 */
const mmap: IoPlugin = definePlugin({
  name: "mmap",
  description: "a local file with file I/O (Deno has no mmap); writes past the end extend it",
  uriForms: ["mmap://PATH"],
  capabilities: { write: true, resize: true },
  permissions: (uri, options) => filePermissions(uriRest(uri, "a path"), options.write),
  open: (uri, options) => openLocalFile(uri, uriRest(uri, "a path"), options, "mmap"),
});

export default mmap;
