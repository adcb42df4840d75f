/**
 * `srec://PATH` — a Motorola S-record file (S19/S28/S37) as a sparse memory image,
 * read-only as in radare2: S1/S2/S3 data, every checksum verified (a bad one fails the
 * open, naming the line), gaps read as 0xff, size = highest address + 1. S4 records and
 * unknown types fail the open.
 *
 * @example
 * ```ts
 * import srec from "./srec.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".s19" });
 * await Deno.writeTextFile(path, "S107001001020304DE\nS9030000FC\n");
 * {
 *   await using desc = await srec.open(`srec://${path}`, {});
 *   assert.equal(await desc.size(), 0x14);
 *   assert.deepEqual([...await desc.read(0x10, 4)], [1, 2, 3, 4]);
 * }
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import type { IoPlugin } from "../lib/io/types.ts";
import { recordImagePlugin } from "./_record_image.ts";
import { parseSRecords } from "./_srec_format.ts";

/**
 * The `srec` plugin.
 *
 * @example
 * ```ts
 * import srec from "./srec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(srec.permissions("srec://fw.s19", {}), [{ name: "read", path: "fw.s19" }]);
 * ```
 */
const srec: IoPlugin = recordImagePlugin({
  name: "srec",
  format: "S-record",
  description: "Motorola S-record file as a sparse image (read-only)",
  parse: parseSRecords,
});

export default srec;
