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

import { IoError } from "../lib/io/errors.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { openFailure } from "./_open_error.ts";
import {
  buildSparseImage,
  SparseImageDescriptor,
  TEXT_IMAGE_RAM_PER_BYTE,
} from "./_sparse_image.ts";
import { parseSRecords } from "./_srec_format.ts";

/** Text files larger than this are refused. */
const MAX_FILE = 1024 * 1024 * 1024;

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
const srec: IoPlugin = {
  name: "srec",
  description: "Motorola S-record file as a sparse image (read-only)",
  schemes: ["srec"],
  uriForms: ["srec://PATH"],
  capabilities: { read: true, write: false, resize: false, system: true },
  permissions(uri: string): Deno.PermissionDescriptor[] {
    return [{ name: "read", path: uriRest(uri, "a path") }];
  },
  async open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    const path = uriRest(uri, "a path");
    if (options.write) {
      throw new IoError(uri, `Cannot open "${uri}": S-record files are read-only`);
    }
    try {
      const bytes = await readFileInScope(path, {
        uri,
        remote: options.remote,
        maxSize: MAX_FILE,
        beforeRead: (size) =>
          options.memoryBudget?.claim(size * TEXT_IMAGE_RAM_PER_BYTE, "parsing the file"),
      });
      const file = parseSRecords(new TextDecoder().decode(bytes));
      return new SparseImageDescriptor(uri, "srec", buildSparseImage(file.records), {
        format: "S-record",
      });
    } catch (error) {
      throw openFailure(uri, error);
    }
  },
};

export default srec;
