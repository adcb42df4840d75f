/**
 * `self://` — the memory of this Deno process (radare2's `self`, which shows r2's own
 * memory), through Linux's `/proc/self/mem`: offsets are virtual addresses, the size is
 * unbounded, unmapped addresses (by `/proc/self/maps`) read as 0xff. Read-only unless
 * opened for writing (writing your own memory can crash the process). Plugin commands:
 * `pid`, `maps` (or `dm`), `help`; radare2's `kill`, `alarm`, `dlsym` and `call` need
 * native code and are not available.
 *
 * Needs Deno's `--allow-all`: Deno opens `/proc/self/mem` and `/proc/self/maps` for no less.
 *
 * @example
 * ```ts
 * import self from "./self.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await self.open("self://", {});
 * assert.equal(await desc.system!("pid"), `${Deno.pid}\n`);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { openProcMem, procPermissions } from "./_proc_mem.ts";

function checkUri(uri: string): void {
  if (!/^self:\/\/$/i.test(uri)) {
    throw new IoError(uri, `Cannot open "${uri}": expected exactly "self://"`);
  }
}

/**
 * The `self` plugin.
 *
 * @example
 * ```ts
 * import self from "./self.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(self.permissions("self://", { write: true }), [
 *   { name: "read", path: "/proc/self/mem" },
 *   { name: "write", path: "/proc/self/mem" },
 *   { name: "read", path: "/proc/self/maps" },
 * ]);
 * ```
 */
const self: IoPlugin = definePlugin({
  name: "self",
  description: "memory of this process via /proc/self/mem (Linux; Deno needs --allow-all; " +
    "unmapped bytes read 0xff)",
  uriForms: ["self://"],
  capabilities: { write: true, system: true },
  permissions(uri, options) {
    checkUri(uri);
    return procPermissions("/proc/self", options);
  },
  open(uri, options) {
    checkUri(uri);
    return openProcMem(uri, "/proc/self", "self", options, "self");
  },
});

export default self;
