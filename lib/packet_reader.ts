/**
 * The binding of the pure RAP decoder to a byte stream (a TCP or TLS connection).
 *
 * @module
 */

import { type DecoderOptions, PacketDecoder } from "./protocol/decode.ts";
import type { RapPacket } from "./protocol/packets.ts";

/**
 * Anything with a `read` like `Deno.Conn`.
 *
 * @example
 * ```ts
 * import type { ByteSource } from "@rap/cli";
 * const empty: ByteSource = { read: () => Promise.resolve(null) };
 * console.assert(typeof empty.read === "function");
 * ```
 */
export interface ByteSource {
  /** Read into `p`; resolve to the count, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

const CHUNK = 64 * 1024;

/**
 * Reads whole RAP packets from a stream.
 *
 * @example
 * ```ts
 * import { PacketReader } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const bytes = [new Uint8Array([0x84, 0, 0, 0, 0, 0, 0, 0x10, 0x00])];
 * const source = { read: (p: Uint8Array) => {
 *   const next = bytes.shift();
 *   if (!next) return Promise.resolve(null);
 *   p.set(next);
 *   return Promise.resolve(next.length);
 * } };
 * const reader = new PacketReader(source, { role: "client" });
 * assert.deepEqual(await reader.next(), { type: "seek_reply", offset: 0x1000n });
 * assert.equal(await reader.next(), null);
 * ```
 */
export class PacketReader {
  readonly #source: ByteSource;
  readonly #decoder: PacketDecoder;
  readonly #scratch = new Uint8Array(CHUNK);
  /** Called with every chunk received (e.g. to reset an idle timer). */
  onData: (() => void) | undefined;

  /**
   * Create it.
   *
   * @param source The stream.
   * @param options Decoder role and limits.
   */
  constructor(source: ByteSource, options: DecoderOptions = {}) {
    this.#source = source;
    this.#decoder = new PacketDecoder(options);
  }

  /** The decoder (e.g. to raise limits after a negotiation). */
  get decoder(): PacketDecoder {
    return this.#decoder;
  }

  /**
   * A packet that is already buffered, without reading.
   *
   * @returns The packet, or `undefined` when a read is needed.
   */
  buffered(): RapPacket | undefined {
    return this.#decoder.next();
  }

  /**
   * The next packet, reading as needed.
   *
   * @returns The packet, or `null` at a clean end of stream.
   * @throws {import("./protocol/errors.ts").RapProtocolError} On malformed input, including
   *   a stream that ends inside a packet.
   */
  async next(): Promise<RapPacket | null> {
    for (;;) {
      const packet = this.#decoder.next();
      if (packet !== undefined) return packet;
      const n = await this.#source.read(this.#scratch);
      if (n === null) {
        this.#decoder.finish();
        return null;
      }
      this.onData?.();
      this.#decoder.push(this.#scratch.slice(0, n));
    }
  }
}
