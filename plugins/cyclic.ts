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

import { IoError } from "../lib/io/errors.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
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
export class CyclicDescriptor implements IoDescriptor {
  /** The URI. */
  readonly uri: string;
  /** Always `"cyclic"`. */
  readonly plugin = "cyclic";
  /** Always true, as in radare2. */
  readonly writable = true;
  readonly #ring: Uint8Array;
  #closed = false;

  /**
   * Wrap a ring.
   *
   * @param uri The URI.
   * @param ring The ring (kept, not copied); at least one byte.
   */
  constructor(uri: string, ring: Uint8Array) {
    if (ring.length === 0) throw new RangeError("A cyclic ring needs at least one byte");
    this.uri = uri;
    this.#ring = ring;
  }

  #check(): void {
    if (this.#closed) throw new IoError(this.uri, `"${this.uri}" is closed`);
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
   * Read bytes; they wrap around the ring.
   *
   * @param offset Where to start (any offset: it is taken modulo the ring size).
   * @param length How many bytes.
   * @returns Exactly `length` bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    const ring = this.#ring;
    const out = new Uint8Array(Math.max(0, length));
    let at = ((offset % ring.length) + ring.length) % ring.length;
    let filled = 0;
    while (filled < out.length) {
      const n = Math.min(ring.length - at, out.length - filled);
      out.set(ring.subarray(at, at + n), filled);
      filled += n;
      at = 0;
    }
    return Promise.resolve(out);
  }

  /**
   * Write bytes into the ring.
   *
   * @param offset Where to start (modulo the ring size).
   * @param data The bytes; a write longer than the ring wraps over itself.
   * @returns `data.length`.
   */
  write(offset: number, data: Uint8Array): Promise<number> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    const ring = this.#ring;
    let at = ((offset % ring.length) + ring.length) % ring.length;
    let done = 0;
    while (done < data.length) {
      const n = Math.min(ring.length - at, data.length - done);
      ring.set(data.subarray(done, done + n), at);
      done += n;
      at = 0;
    }
    return Promise.resolve(data.length);
  }

  /**
   * The RAM the ring holds.
   *
   * @returns Its size in bytes.
   */
  memoryUsage(): number {
    return this.#ring.length;
  }

  /** Release the ring. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Same as {@linkcode CyclicDescriptor.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
const cyclic: IoPlugin = {
  name: "cyclic",
  description: "a SIZE-byte ring of zeros repeated forever (unbounded; reads wrap)",
  schemes: ["cyclic"],
  uriForms: ["cyclic://SIZE"],
  capabilities: { read: true, write: true, resize: false, system: false },
  permissions: () => [],
  open(uri: string, options: OpenOptions): Promise<IoDescriptor> {
    try {
      const size = parseSizeUri(uri);
      options.memoryBudget?.claim(size, "the ring");
      return Promise.resolve(new CyclicDescriptor(uri, new Uint8Array(size)));
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

export default cyclic;
