/**
 * The binding of the pure RAP decoder to a byte stream (a TCP or TLS connection).
 *
 * @module
 */

import {
  decodeDataPacket,
  type DecoderOptions,
  PacketDecoder,
  type PacketHeader,
} from "../protocol/decode.ts";
import { TruncatedPacketError } from "../protocol/errors.ts";
import type { RapPacket } from "../protocol/packets.ts";

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

/**
 * Chooses where the payload of a data packet (READ reply, extended READ reply, WRITE,
 * extended WRITE) goes: a buffer of at least `header.payloadSize` bytes receives it
 * directly, `undefined` lets the reader allocate.
 *
 * @example
 * ```ts
 * import type { PayloadTarget } from "@rap/cli";
 * const into = new Uint8Array(4096);
 * const target: PayloadTarget = (header) => header.payloadSize <= into.length ? into : undefined;
 * console.assert(target({ opcode: 0x82, headerSize: 5, payloadSize: 16 }) === into);
 * ```
 */
export type PayloadTarget = (header: PacketHeader) => Uint8Array | undefined;

/** Bytes asked of the stream per read. */
const CHUNK = 64 * 1024;
const DATA_OPCODES = new Set([0x82, 0x03, 0x91, 0x12]);

/**
 * Reads whole RAP packets from a stream. Small packets are decoded from 64 KiB reads;
 * a packet larger than that is received into one buffer of its exact size (or, for a data
 * packet, into the caller's buffer, see {@linkcode PayloadTarget}), so large payloads are
 * copied once, by the kernel.
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
  /** The buffer reads go into; replaced when a packet handed out a view of it. */
  #buf = new Uint8Array(CHUNK);
  /** Whether a packet returned since the last read holds a view of `#buf`. */
  #lent = false;
  /** Called with every chunk received (e.g. to reset an idle timer). */
  onData: (() => void) | undefined;

  /**
   * Create a reader.
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
   * @param target Where a data packet's payload goes (default: a view of the read buffer).
   * @returns The packet, or `undefined` when a read is needed.
   */
  buffered(target?: PayloadTarget): RapPacket | undefined {
    const header = this.#decoder.peekHeader();
    if (header === undefined) return undefined;
    if (this.#decoder.buffered < header.headerSize + header.payloadSize) return undefined;
    if (DATA_OPCODES.has(header.opcode)) {
      const into = this.#target(header, target);
      if (into !== undefined) {
        const head = this.#decoder.take(header.headerSize);
        into.set(this.#decoder.take(header.payloadSize));
        return decodeDataPacket(head, into);
      }
      this.#lent = true; // the packet's data is a view of the read buffer
    }
    return this.#decoder.next();
  }

  /**
   * The header of the next packet if its fixed part is buffered, without reading.
   *
   * @returns The header, or `undefined` when a read is needed.
   */
  bufferedHeader(): PacketHeader | undefined {
    return this.#decoder.peekHeader();
  }

  /**
   * Wait for the fixed part of the next packet.
   *
   * @returns Its header, or `null` at a clean end of stream.
   * @throws {TruncatedPacketError} If the stream ends inside a header.
   */
  async header(): Promise<PacketHeader | null> {
    for (;;) {
      const header = this.#decoder.peekHeader();
      if (header !== undefined) return header;
      if (!await this.#read()) {
        this.#decoder.finish();
        return null;
      }
    }
  }

  /**
   * Consume the fixed part of the next packet, whose header {@linkcode PacketReader.header}
   * returned, so that its payload can be read with {@linkcode PacketReader.readExactly}.
   *
   * @param header The header.
   * @returns The header bytes.
   */
  takeHeader(header: PacketHeader): Uint8Array {
    return this.#decoder.take(header.headerSize).slice();
  }

  /**
   * Fill `into` with the next bytes of the stream (buffered ones first, then straight from
   * the source).
   *
   * @param into The destination.
   * @throws {TruncatedPacketError} If the stream ends first.
   */
  async readExactly(into: Uint8Array): Promise<void> {
    const first = this.#decoder.take(into.length);
    into.set(first);
    let at = first.length;
    while (at < into.length) {
      const n = await this.#source.read(into.subarray(at));
      if (n === null) throw new TruncatedPacketError(0, at, into.length);
      this.onData?.();
      at += n;
    }
  }

  /**
   * Hand the payload of the packet whose header {@linkcode PacketReader.header} returned to
   * `sink`, piece by piece as it arrives, through `chunk`: what is already buffered first,
   * then reads of at most `chunk.length` bytes, never past the payload. Each piece is a
   * view valid only until `sink` returns (or its promise settles); nothing is read
   * meanwhile, so a slow sink holds the stream back.
   *
   * @param header The header of the packet (its fixed part is consumed here).
   * @param chunk The buffer reads go into.
   * @param sink Takes each piece.
   * @throws {TruncatedPacketError} If the stream ends inside the payload.
   *
   * @example
   * ```ts
   * import { PacketReader } from "./packet_reader.ts";
   * import assert from "node:assert/strict";
   *
   * // A READ_AT reply (0x91) of 6 bytes, arriving as 7 bytes and then 4.
   * const parts = [[0x91, 0, 0, 0, 6, 1, 2], [3, 4, 5, 6]];
   * const reader = new PacketReader({
   *   read(p) {
   *     if (parts.length === 0) return Promise.resolve(null);
   *     const n = Math.min(p.length, parts[0].length);
   *     p.set(parts[0].splice(0, n));
   *     if (parts[0].length === 0) parts.shift();
   *     return Promise.resolve(n);
   *   },
   * }, { extensions: 1 << 20 });
   * const header = (await reader.header())!;
   * const pieces: number[][] = [];
   * await reader.streamPayload(header, new Uint8Array(3), (b) => void pieces.push([...b]));
   * assert.deepEqual(pieces, [[1, 2], [3, 4, 5], [6]]);
   * ```
   */
  async streamPayload(
    header: PacketHeader,
    chunk: Uint8Array,
    sink: (bytes: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    this.#decoder.take(header.headerSize);
    let left = header.payloadSize;
    const first = this.#decoder.take(Math.min(left, this.#decoder.buffered));
    if (first.length > 0) {
      left -= first.length;
      await sink(first);
    }
    while (left > 0) {
      const n = await this.#source.read(chunk.subarray(0, Math.min(left, chunk.length)));
      if (n === null) {
        throw new TruncatedPacketError(0, header.payloadSize - left, header.payloadSize);
      }
      this.onData?.();
      left -= n;
      await sink(chunk.subarray(0, n));
    }
  }

  /**
   * The next packet, reading as needed.
   *
   * @param target Where a data packet's payload goes (default: a buffer of the reader's).
   * @returns The packet, or `null` at a clean end of stream.
   * @throws {import("../protocol/errors.ts").RapProtocolError} On malformed input, including
   *   a stream that ends inside a packet.
   */
  async next(target?: PayloadTarget): Promise<RapPacket | null> {
    for (;;) {
      const header = this.#decoder.peekHeader();
      if (header !== undefined) {
        const total = header.headerSize + header.payloadSize;
        if (this.#decoder.buffered >= total) return this.buffered(target)!;
        const into = this.#target(header, target);
        if (into !== undefined) {
          const head = this.takeHeader(header);
          await this.readExactly(into);
          return decodeDataPacket(head, into);
        }
        if (total > CHUNK) {
          // One buffer of the packet's size, filled directly: no repeated joining.
          const whole = new Uint8Array(total);
          await this.readExactly(whole);
          this.#decoder.push(whole);
          return this.#decoder.next()!;
        }
      }
      if (!await this.#read()) {
        this.#decoder.finish();
        return null;
      }
    }
  }

  #target(header: PacketHeader, target: PayloadTarget | undefined): Uint8Array | undefined {
    if (target === undefined || !DATA_OPCODES.has(header.opcode)) return undefined;
    const into = target(header);
    if (into === undefined || into.length < header.payloadSize) return undefined;
    return into.subarray(0, header.payloadSize);
  }

  /**
   * One read from the source, after what is left of the previous one; false at end of
   * stream. Reads go straight into the reader's buffer, which is reused unless a packet
   * still holds a view of it.
   */
  async #read(): Promise<boolean> {
    const rest = this.#decoder.take(this.#decoder.buffered);
    let buf = this.#buf;
    if (
      this.#lent || rest.buffer !== buf.buffer && rest.length > 0 || rest.length > buf.length / 2
    ) {
      buf = new Uint8Array(Math.max(CHUNK, rest.length * 2));
      buf.set(rest);
      this.#buf = buf;
      this.#lent = false;
    } else if (rest.length > 0) {
      const from = rest.byteOffset - buf.byteOffset;
      buf.copyWithin(0, from, from + rest.length);
    }
    const n = await this.#source.read(buf.subarray(rest.length));
    this.#decoder.push(buf.subarray(0, rest.length + (n ?? 0)));
    if (n === null) return false;
    this.onData?.();
    return true;
  }
}
