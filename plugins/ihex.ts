/**
 * `ihex://PATH` — an Intel HEX file as a sparse memory image: every record type (00–05),
 * every checksum verified (a bad one fails the open, naming the line), gaps read as 0xff,
 * size = highest address + 1.
 *
 * Opened for writing, writes change the image (it grows as needed, up to 4 GiB) and, on
 * close, the file is rewritten and saved atomically (temporary file + rename). The file is
 * regenerated, not patched: uppercase records of the file's own data record length (16 by
 * default), a type 04 record whenever the upper address bits change, the start address
 * records (03/05) kept, then `:00000001FF`; the file's line ending is kept. radare2
 * rewrites the file on every write and drops the start address records.
 *
 * @example
 * ```ts
 * import ihex from "./ihex.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".hex" });
 * await Deno.writeTextFile(path, ":0400100001020304E2\n:00000001FF\n");
 * {
 *   await using desc = await ihex.open(`ihex://${path}`, {});
 *   assert.equal(await desc.size(), 0x14);
 *   assert.deepEqual([...await desc.read(0x0e, 4)], [0xff, 0xff, 1, 2]);
 * }
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import type { IoPlugin } from "../lib/io/types.ts";
import { formatIntelHex, type IntelHex, parseIntelHex } from "./_intel_hex.ts";
import { recordImagePlugin } from "./_record_image.ts";

/**
 * The `ihex` plugin.
 *
 * @example
 * ```ts
 * import ihex from "./ihex.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ihex.permissions("ihex://fw.hex", {}), [{ name: "read", path: "fw.hex" }]);
 * ```
 */
const ihex: IoPlugin = recordImagePlugin<IntelHex>({
  name: "ihex",
  format: "Intel HEX",
  description: "Intel HEX file as a sparse image; writes rewrite the file on close",
  parse: parseIntelHex,
  save: formatIntelHex,
});

export default ihex;
