/**
 * `slurp://PATH`, `hexfile://PATH` and `stdin://` — radare2's other malloc-family forms:
 * a whole file, a hex text file decoded, or all of standard input, copied into RAM.
 * Always writable, in RAM only (nothing is written back), fixed size, as in radare2.
 *
 * * `slurp://PATH` — the file's bytes; the file must not be empty.
 * * `hexfile://PATH` — the file is hex text: `#`, `;` and `//` comments to the end of the
 *   line and C block comments are dropped, then **every other non-hex character is
 *   silently dropped** (so `0x41` reads as `041`), and the digits are decoded. An odd
 *   number of digits, or none, fails.
 * * `stdin://` — everything on standard input up to its end; it must not be empty, and
 *   can be read once per process.
 *
 * @example
 * ```ts
 * import slurp from "./slurp.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "41 42 ; two bytes\n");
 * await using desc = await slurp.open(`hexfile://${path}`, {});
 * assert.deepEqual([...await desc.read(0, 8)], [0x41, 0x42]);
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { MemoryDescriptor } from "../lib/io/memory_descriptor.ts";
import { readFileInScope } from "../lib/io/open_file.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin, MemoryAllowance, OpenOptions } from "../lib/io/types.ts";
import { splitUri, uriRest } from "../lib/io/uri.ts";
import { openFailure } from "./_open_error.ts";

/**
 * Decode a hex text file as radare2's `hexfile://` does: drop `#`, `;` and `//` comments
 * to the end of the line and C block comments, silently drop every other non-hex
 * character, then decode the digits.
 *
 * @param text The file's text.
 * @returns The bytes.
 * @throws {SyntaxError} When there is an odd number of digits, or none.
 *
 * @example
 * ```ts
 * import { parseHexFile } from "./slurp.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...parseHexFile("de:ad-be.ef /* c *\/ # x\n")], [0xde, 0xad, 0xbe, 0xef]);
 * assert.throws(() => parseHexFile("0x41"), /Odd number/);
 * ```
 */
export function parseHexFile(text: string): Uint8Array {
  const digits = text
    .replace(/\/\*[\s\S]*?(\*\/|$)/g, " ")
    .replace(/(#|;|\/\/)[^\n]*/g, " ")
    .replace(/[^0-9a-fA-F]/g, "");
  if (digits.length === 0) throw new SyntaxError("No hex digits");
  if (digits.length % 2 !== 0) throw new SyntaxError(`Odd number of hex digits (${digits.length})`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RAM a `hexfile://` open holds per byte of text: the bytes, the text and two copies. */
const HEXFILE_RAM_PER_BYTE = 4;

async function readWholeFile(
  uri: string,
  path: string,
  options: OpenOptions,
  perByte = 1,
): Promise<Uint8Array> {
  const memory: MemoryAllowance | undefined = options.memoryBudget;
  try {
    return await readFileInScope(path, {
      uri,
      remote: options.remote,
      beforeRead: (size) =>
        memory?.claim(size * perByte, perByte === 1 ? "the file" : "decoding the file"),
    });
  } catch (error) {
    throw openFailure(uri, error, path);
  }
}

async function readStdin(uri: string): Promise<Uint8Array> {
  try {
    return await new Response(Deno.stdin.readable).bytes();
  } catch (error) {
    throw new IoError(
      uri,
      `Cannot open "${uri}": standard input cannot be read (it can be read only once)`,
      { cause: error },
    );
  }
}

/**
 * The `slurp` plugin (schemes `slurp`, `hexfile` and `stdin`).
 *
 * @example
 * ```ts
 * import slurp from "./slurp.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(slurp.permissions("slurp:///bin/ls", {}), [{ name: "read", path: "/bin/ls" }]);
 * assert.deepEqual(slurp.permissions("stdin://", {}), []);
 * ```
 */
const slurp: IoPlugin = definePlugin({
  name: "slurp",
  description:
    "a copy in RAM (writable, never saved): slurp://PATH (a file), hexfile://PATH (hex text) " +
    "or stdin://",
  schemes: ["slurp", "hexfile", "stdin"],
  uriForms: ["slurp://PATH", "hexfile://PATH", "stdin://"],
  capabilities: { write: true, resize: true },
  permissions(uri) {
    if (splitUri(uri)?.scheme === "stdin") return [];
    return [{ name: "read", path: uriRest(uri, "a path") }];
  },
  async open(uri, options) {
    const scheme = splitUri(uri)?.scheme;
    let bytes: Uint8Array;
    if (scheme === "stdin") {
      if (uri.length !== "stdin://".length) {
        throw new IoError(uri, `Cannot open "${uri}": expected exactly "stdin://"`);
      }
      bytes = await readStdin(uri);
      if (bytes.length === 0) {
        throw new IoError(uri, `Cannot open "${uri}": standard input is empty`);
      }
    } else if (scheme === "hexfile") {
      const data = await readWholeFile(uri, uriRest(uri, "a path"), options, HEXFILE_RAM_PER_BYTE);
      try {
        bytes = parseHexFile(new TextDecoder().decode(data));
      } catch (error) {
        throw openFailure(uri, error);
      }
    } else {
      bytes = await readWholeFile(uri, uriRest(uri, "a path"), options);
      if (bytes.length === 0) throw new IoError(uri, `Cannot open "${uri}": the file is empty`);
    }
    return new MemoryDescriptor(uri, "slurp", bytes, { resizable: true });
  },
});

export default slurp;
