/**
 * `malloc://SIZE` and `hex://HEXBYTES` — an in-memory buffer, zero-filled or from hex.
 * Always writable (as in radare2); writes never grow the buffer.
 *
 * @example
 * ```ts
 * import { parseHexBytes } from "./malloc.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...parseHexBytes("0xca fe 01 # comment")], [0xca, 0xfe, 0x01]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { MemoryDescriptor } from "../lib/io/memory_descriptor.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { parseSizeUri, splitUri } from "../lib/io/uri.ts";
import { openFailure } from "./_open_error.ts";

/**
 * Decode hex text as radare2's `r_hex_str2bin` does for `hex://`: hex digits in either
 * case, an optional `0x` before a token, spaces, tabs and newlines, `#` and `//` comments to
 * the end of the line, and C block comments.
 *
 * @param text The hex text.
 * @returns The bytes.
 * @throws {SyntaxError} On any other character or an odd number of digits.
 *
 * @example
 * ```ts
 * import { parseHexBytes } from "./malloc.ts";
 * console.assert(parseHexBytes("4142").length === 2);
 * ```
 */
export function parseHexBytes(text: string): Uint8Array {
  const stripped = text
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/(#|\/\/)[^\n]*/g, " ")
    .replace(/(^|[ \t\n])0x/gi, "$1");
  const bad = /[^0-9a-fA-F \t\n]/.exec(stripped);
  if (bad) throw new SyntaxError(`Invalid character "${bad[0]}" in hex bytes`);
  const digits = stripped.replace(/[ \t\n]/g, "");
  if (digits.length % 2 !== 0) throw new SyntaxError("Odd number of hex digits");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `malloc` plugin (schemes `malloc` and `hex`).
 *
 * @example
 * ```ts
 * import malloc from "./malloc.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await malloc.open("hex://41", {});
 * await desc.write(0, new Uint8Array([0x42]));
 * assert.equal(desc.uri, "hex://42");
 * ```
 */
const malloc: IoPlugin = definePlugin({
  name: "malloc",
  description: "in-memory buffer: malloc://SIZE (zero-filled) or hex://HEXBYTES",
  schemes: ["malloc", "hex"],
  uriForms: ["malloc://SIZE", "hex://HEXBYTES"],
  capabilities: { write: true, resize: true },
  open(uri, options) {
    if (splitUri(uri)?.scheme === "hex") {
      let bytes: Uint8Array;
      try {
        bytes = parseHexBytes(uri.slice("hex://".length));
      } catch (error) {
        throw openFailure(uri, error);
      }
      if (bytes.length === 0) throw new IoError(uri, `Cannot open "${uri}": no bytes`);
      return new MemoryDescriptor(uri, "malloc", bytes, {
        resizable: true,
        onWrite: (desc) => desc.uri = `hex://${toHex(desc.bytes)}`,
      });
    }
    const size = parseSizeUri(uri);
    options.memoryBudget?.claim(size, "the buffer");
    return new MemoryDescriptor(uri, "malloc", new Uint8Array(size), { resizable: true });
  },
});

export default malloc;
