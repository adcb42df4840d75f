/**
 * `procpid://PID` — the memory of process PID through Linux's `/proc/PID/mem`, addressed
 * by virtual address; the size is unbounded. Unmapped addresses (by `/proc/PID/maps`) read
 * as 0xff, as in radare2. Read-only unless opened for writing; writes go through
 * `/proc/PID/mem`. Plugin commands: `pid`, `maps` (or `dm`), `help`.
 *
 * Needs Deno's `--allow-all`: Deno opens `/proc/PID/mem` and `/proc/PID/maps` for no less
 * (the plugin still declares read, and write, of `/proc/PID/mem` and read of
 * `/proc/PID/maps`). The OS must also allow it: reading or writing another process's
 * memory needs ptrace rights (the same user and `kernel.yama.ptrace_scope` allowing it —
 * children are fine at scope 1 — or `CAP_SYS_PTRACE`). No attach happens: the process
 * keeps running.
 *
 * radare2's procpid opens the file with its descriptor permission set to X only, so its IO
 * core refuses reads; this one reads and writes.
 *
 * @example
 * ```ts
 * import procpid from "./procpid.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(procpid.permissions("procpid://42", {}), [
 *   { name: "read", path: "/proc/42/mem" },
 *   { name: "read", path: "/proc/42/maps" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { openProcMem, procPermissions } from "./_proc_mem.ts";

/**
 * The process id of a `procpid://PID` URI.
 *
 * @param uri The URI.
 * @returns The PID, as decimal text.
 * @throws {IoError} When it is not a positive decimal number.
 *
 * @example
 * ```ts
 * import { pidOf } from "./procpid.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(pidOf("procpid://1234"), "1234");
 * assert.throws(() => pidOf("procpid://abc"), /invalid process id/);
 * ```
 */
export function pidOf(uri: string): string {
  const pid = uriRest(uri, "a process id");
  if (!/^\d+$/.test(pid) || Number(pid) < 1 || !Number.isSafeInteger(Number(pid))) {
    throw new IoError(uri, `Cannot open "${uri}": invalid process id "${pid}"`);
  }
  return String(Number(pid));
}

/**
 * The `procpid` plugin.
 *
 * @example
 * ```ts
 * import procpid from "./procpid.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await procpid.open(`procpid://${Deno.pid}`, {});
 * assert.equal(await desc.system!("pid"), `${Deno.pid}\n`);
 * ```
 */
const procpid: IoPlugin = definePlugin({
  name: "procpid",
  description: "memory of process PID via /proc/PID/mem (Linux; Deno needs --allow-all; " +
    "unmapped bytes read 0xff)",
  uriForms: ["procpid://PID"],
  capabilities: { write: true, system: true },
  permissions: (uri, options) => procPermissions(`/proc/${pidOf(uri)}`, options),
  open(uri, options) {
    const pid = pidOf(uri);
    return openProcMem(uri, `/proc/${pid}`, pid, options, "procpid");
  },
});

export default procpid;
