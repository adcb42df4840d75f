/**
 * `cyclic://SIZE` — a SIZE-byte ring of zeros repeated forever: the size is unbounded,
 * byte `i` is ring byte `i % SIZE`, reads wrap and writes go into the ring (so a write at
 * `SIZE + 1` changes what offset 1 reads). Always writable, as in radare2.
 *
 * @example
 * ```ts
 * import cyclic from "./cyclic.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await cyclic.open("cyclic://4", {});
 * await desc.write(5, new Uint8Array([7]));
 * assert.deepEqual([...await desc.read(0, 6)], [0, 7, 0, 0, 0, 7]);
 * assert.equal(await desc.size(), Infinity);
 * ```
 *
 * @module
 */

import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin } from "../lib/io/types.ts";
import { parseSizeUri } from "../lib/io/uri.ts";

/**
 * A ring buffer seen as an endless byte space.
 *
 * @example
 * ```ts
 * import { CyclicDescriptor } from "./cyclic.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = new CyclicDescriptor("cyclic://2", new Uint8Array([1, 2]));
 * assert.deepEqual([...await desc.read(1, 4)], [2, 1, 2, 1]);
 * ```
 */
export class CyclicDescriptor extends DescriptorBase {
  readonly #ring: Uint8Array;

  /**
   * Wrap a ring (always writable, as in radare2).
   *
   * @param uri The URI.
   * @param ring The ring (kept, not copied); at least one byte.
   */
  constructor(uri: string, ring: Uint8Array) {
    if (ring.length === 0) throw new RangeError("A cyclic ring needs at least one byte");
    super(uri, "cyclic", true);
    this.#ring = ring;
  }

  /**
   * The size: unbounded.
   *
   * @returns `Infinity`: the ring repeats forever.
   */
  size(): Promise<number> {
    return Promise.resolve(Infinity);
  }

  /**
   * Call `visit` for each piece of the ring that `length` bytes at `offset` cover, in order:
   * with where the piece starts in the ring, how many bytes came before it, and its length.
   */
  #pieces(offset: number, length: number, visit: (at: number, done: number, n: number) => void) {
    const size = this.#ring.length;
    let at = ((offset % size) + size) % size;
    for (let done = 0; done < length; at = 0) {
      const n = Math.min(size - at, length - done);
      visit(at, done, n);
      done += n;
    }
  }

  /**
   * Read bytes; they wrap around the ring.
   *
   * @param offset Where to start (any offset: it is taken modulo the ring size).
   * @param length How many bytes.
   * @returns Exactly `length` bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() => {
      const out = new Uint8Array(Math.max(0, length));
      this.#pieces(offset, out.length, (at, done, n) => {
        out.set(this.#ring.subarray(at, at + n), done);
      });
      return out;
    });
  }

  /**
   * Write bytes into the ring.
   *
   * @param offset Where to start (modulo the ring size).
   * @param data The bytes; a write longer than the ring wraps over itself.
   * @returns `data.length`.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.guard(() => {
      this.#pieces(offset, data.length, (at, done, n) => {
        this.#ring.set(data.subarray(done, done + n), at);
      });
      return data.length;
    });
  }

  /**
   * The RAM the ring holds.
   *
   * @returns Its size in bytes.
   */
  memoryUsage(): number {
    return this.#ring.length;
  }
}

/**
 * The `cyclic` plugin.
 *
 * @example
 * ```ts
 * import cyclic from "./cyclic.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(cyclic.open("cyclic://0", {}), /size must be/);
 * ```
 */
const cyclic: IoPlugin = definePlugin({
  name: "cyclic",
  description: "a SIZE-byte ring of zeros repeated forever (unbounded; reads wrap)",
  uriForms: ["cyclic://SIZE"],
  capabilities: { write: true },
  open(uri, options) {
    const size = parseSizeUri(uri);
    options.memoryBudget?.claim(size, "the ring");
    return new CyclicDescriptor(uri, new Uint8Array(size));
  },
});

export default cyclic;
