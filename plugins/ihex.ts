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

import { atomicWrite, atomicWritePermissions } from "../lib/io/atomic_write.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { formatIntelHex, parseIntelHex } from "./_intel_hex.ts";
import { openFailure } from "./_open_error.ts";
import {
  buildSparseImage,
  SparseImageDescriptor,
  TEXT_IMAGE_RAM_PER_BYTE,
} from "./_sparse_image.ts";

/** Text files larger than this are refused (a hex file is about 2.8 bytes per data byte). */
const MAX_FILE = 1024 * 1024 * 1024;

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
const ihex: IoPlugin = {
  name: "ihex",
  description: "Intel HEX file as a sparse image; writes rewrite the file on close",
  schemes: ["ihex"],
  uriForms: ["ihex://PATH"],
  capabilities: { read: true, write: true, resize: false, system: true },
  permissions(uri: string, options: OpenOptions): Deno.PermissionDescriptor[] {
    const path = uriRest(uri, "a path");
    return options.write ? atomicWritePermissions(path) : [{ name: "read", path }];
  },
  async open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    const path = uriRest(uri, "a path");
    try {
      const bytes = await readFileInScope(path, {
        uri,
        remote: options.remote,
        maxSize: MAX_FILE,
        beforeRead: (size) =>
          options.memoryBudget?.claim(size * TEXT_IMAGE_RAM_PER_BYTE, "parsing the file"),
      });
      const file = parseIntelHex(new TextDecoder().decode(bytes));
      const store = buildSparseImage(file.records);
      return new SparseImageDescriptor(uri, "ihex", store, {
        writable: options.write ?? false,
        addressLimit: 2 ** 32,
        format: "Intel HEX",
        onClose: async (image, changed) => {
          if (!changed) return;
          const chunks = image.ranges().map((r) => ({
            address: r.from,
            bytes: image.read(r.from, r.to - r.from, 0xff),
          }));
          const text = formatIntelHex(chunks, file);
          await atomicWrite(path, new TextEncoder().encode(text));
        },
      });
    } catch (error) {
      throw openFailure(uri, error);
    }
  },
};

export default ihex;
