/**
 * `null://SIZE` — SIZE bytes that read as zeros; writes are discarded but reported as done.
 *
 * @example
 * ```ts
 * import nullPlugin from "./null.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await nullPlugin.open("null://4", {});
 * assert.deepEqual([...await desc.read(2, 8)], [0, 0]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { parseSizeUri } from "../lib/io/uri.ts";

class NullDescriptor extends DescriptorBase {
  #size: number;

  constructor(uri: string, size: number) {
    super(uri, "null", true);
    this.#size = size;
  }

  size(): Promise<number> {
    return Promise.resolve(this.#size);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(Math.max(0, Math.min(length, this.#size - offset))));
  }

  override write(_offset: number, data: Uint8Array): Promise<number> {
    return Promise.resolve(data.length);
  }

  resize(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) {
      return Promise.reject(new IoError(this.uri, `Cannot resize "${this.uri}" to ${size}`));
    }
    this.#size = size;
    this.uri = `null://${size}`;
    return Promise.resolve();
  }
}

/**
 * The `null` plugin.
 *
 * @example
 * ```ts
 * import nullPlugin from "./null.ts";
 * console.assert(nullPlugin.name === "null");
 * ```
 */
const nullPlugin: IoPlugin = definePlugin({
  name: "null",
  description: "null-plugin: SIZE bytes of zeros, writes discarded (null://SIZE)",
  uriForms: ["null://SIZE"],
  capabilities: { write: true, resize: true },
  open: (uri) => new NullDescriptor(uri, parseSizeUri(uri, Number.MAX_SAFE_INTEGER)),
});

export default nullPlugin;
