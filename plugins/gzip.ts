/**
 * `gzip://PATH` — the decompressed contents of a gzip or zlib file (detected from the
 * header, as zlib's `MAX_WBITS + 32`), inflated once at open into RAM. At most
 * {@linkcode GZIP_MAX_OUTPUT} bytes (radare2's 50,000,000), so a decompression bomb fails
 * the open instead of exhausting memory. Every checksum is verified. Opened by a session,
 * the compressed file and every output buffer are claimed from its memory budget
 * (`OpenOptions.memoryBudget`) before they are allocated: the inflate stops as soon as it
 * would pass what is left (ISIZE, only the size modulo 2^32, is a hint, not trusted).
 *
 * Opened for writing, writes and resizes change the RAM copy and, on close, the file is
 * compressed again (same container, same gzip header) and saved atomically through a
 * temporary file and a rename. radare2 discards such writes.
 *
 * @example
 * ```ts
 * import gzip from "./gzip.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const gz = await new Response(
 *   new Blob(["hello"]).stream().pipeThrough(new CompressionStream("gzip")),
 * ).bytes();
 * await Deno.writeFile(`${dir}/a.gz`, gz);
 * {
 *   await using desc = await gzip.open(`gzip://${dir}/a.gz`, {});
 *   assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "hello");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { atomicWrite, atomicWritePermissions } from "../lib/io/atomic_write.ts";
import { formatBytes } from "../lib/io/memory_budget.ts";
import { MemoryDescriptor } from "../lib/io/memory_descriptor.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { uriRest } from "../lib/io/uri.ts";
import { decodeCompressed, encodeCompressed } from "./_gzip_format.ts";
import { openFailure } from "./_open_error.ts";

/**
 * The most bytes a `gzip://` file may inflate to (radare2's `MAXOUT`).
 *
 * @example
 * ```ts
 * import { GZIP_MAX_OUTPUT } from "./gzip.ts";
 * console.assert(GZIP_MAX_OUTPUT === 50_000_000);
 * ```
 */
export const GZIP_MAX_OUTPUT = 50_000_000;

/** Compressed input larger than this cannot inflate to less than the cap (plus slack). */
const MAX_INPUT = GZIP_MAX_OUTPUT * 2;

/**
 * The `gzip` plugin.
 *
 * @example
 * ```ts
 * import gzip from "./gzip.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(gzip.permissions("gzip:///tmp/a.gz", {}), [{ name: "read", path: "/tmp/a.gz" }]);
 * ```
 */
const gzip: IoPlugin = definePlugin({
  name: "gzip",
  description: "gzip or zlib file, inflated into RAM; writes are recompressed on close",
  uriForms: ["gzip://PATH"],
  capabilities: { write: true, resize: true },
  permissions(uri, options) {
    const path = uriRest(uri, "a path");
    return options.write ? atomicWritePermissions(path) : [{ name: "read", path }];
  },
  async open(uri, options) {
    const path = uriRest(uri, "a path");
    const write = options.write ?? false;
    try {
      // A running budget: every output buffer is claimed before it is allocated, so a bomb
      // stops as soon as it passes what is left of the budget.
      const budget = options.memoryBudget;
      const compressed = await readFileInScope(path, {
        uri,
        remote: options.remote,
        maxSize: MAX_INPUT,
        beforeRead: (size) => budget?.claim(size, "reading the compressed file"),
      });
      const file = decodeCompressed(
        compressed,
        GZIP_MAX_OUTPUT,
        budget &&
          ((size, produced) =>
            budget.claim(size, `inflating it (${formatBytes(produced)} so far)`)),
      );
      return new MemoryDescriptor(uri, "gzip", file.data, {
        writable: write,
        resizable: write,
        onClose: async (bytes, changed) => {
          if (!changed) return;
          await atomicWrite(path, await encodeCompressed(file.format, file.header, bytes));
        },
      });
    } catch (error) {
      throw openFailure(uri, error);
    }
  },
});

export default gzip;
