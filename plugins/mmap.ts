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

import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
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
const mmap: IoPlugin = {
  name: "mmap",
  description: "a local file with file I/O (Deno has no mmap); writes past the end extend it",
  schemes: ["mmap"],
  uriForms: ["mmap://PATH"],
  capabilities: { read: true, write: true, resize: true, system: false },
  permissions(uri: string, options: OpenOptions): Deno.PermissionDescriptor[] {
    const path = uriRest(uri, "a path");
    return options.write
      ? [{ name: "read", path }, { name: "write", path }]
      : [{ name: "read", path }];
  },
  open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    try {
      return openLocalFile(uri, uriRest(uri, "a path"), options, "mmap");
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

export default mmap;
