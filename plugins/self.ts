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
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { openProcMem } from "./_proc_mem.ts";

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
const self: IoPlugin = {
  name: "self",
  description: "memory of this process via /proc/self/mem (Linux; Deno needs --allow-all; " +
    "unmapped bytes read 0xff)",
  schemes: ["self"],
  uriForms: ["self://"],
  capabilities: { read: true, write: true, resize: false, system: true },
  permissions(uri: string, options: OpenOptions): Deno.PermissionDescriptor[] {
    checkUri(uri);
    return [
      { name: "read", path: "/proc/self/mem" },
      ...(options.write ? [{ name: "write", path: "/proc/self/mem" } as const] : []),
      { name: "read", path: "/proc/self/maps" },
    ];
  },
  open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    try {
      checkUri(uri);
      return openProcMem(uri, "/proc/self", "self", options, "self");
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

export default self;
