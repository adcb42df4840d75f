/**
 * The pure codec of the GDB remote serial protocol: `$payload#cs` framing with a two-digit
 * hex checksum, `}` escaping of binary data, run-length encoding (`*`), hex helpers and an
 * incremental decoder that turns a byte stream into acks, naks and packets. No sockets.
 *
 * @example
 * ```ts
 * import { encodeGdbPacket, GdbPacketDecoder } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const wire = encodeGdbPacket("qC");
 * assert.equal(new TextDecoder().decode(wire), "$qC#b4");
 * const decoder = new GdbPacketDecoder();
 * assert.deepEqual(decoder.push(wire).map((e) => e.type), ["packet"]);
 * ```
 *
 * @module
 */

/** Characters that must be escaped in binary data: `#`, `$`, `}` and `*`. */
const MUST_ESCAPE = new Set([0x23, 0x24, 0x7d, 0x2a]);
const ESCAPE = 0x7d;
const latin1 = new TextDecoder("latin1");

/**
 * Bytes of a latin-1 string (every char code below 256 is one byte).
 *
 * @param text The text.
 * @returns Its bytes.
 *
 * @example
 * ```ts
 * import { latin1Bytes } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...latin1Bytes("m0,4")], [0x6d, 0x30, 0x2c, 0x34]);
 * ```
 */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/**
 * A latin-1 string of bytes (one char per byte, so nothing is lost).
 *
 * @param bytes The bytes.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { latin1Text } from "./codec.ts";
 * console.assert(latin1Text(new Uint8Array([0x4f, 0x4b])) === "OK");
 * ```
 */
export function latin1Text(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

/**
 * Lower-case hex of bytes, two digits each.
 *
 * @param bytes The bytes.
 * @returns The hex text.
 *
 * @example
 * ```ts
 * import { toHex } from "./codec.ts";
 * console.assert(toHex(new Uint8Array([0x7f, 0x45])) === "7f45");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Decode hex text (either case) into bytes.
 *
 * @param text An even number of hex digits.
 * @returns The bytes.
 * @throws {SyntaxError} If the text is not hex or has an odd length.
 *
 * @example
 * ```ts
 * import { fromHex } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...fromHex("7F454c46")], [0x7f, 0x45, 0x4c, 0x46]);
 * assert.throws(() => fromHex("7"), SyntaxError);
 * ```
 */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new SyntaxError(`Invalid hex "${text.length > 40 ? text.slice(0, 40) + "..." : text}"`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The packet checksum: the sum of the payload bytes modulo 256.
 *
 * @param payload The payload as sent (escaped, run-length encoded).
 * @returns The checksum, 0 to 255.
 *
 * @example
 * ```ts
 * import { gdbChecksum } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(gdbChecksum(new TextEncoder().encode("OK")), 0x9a);
 * ```
 */
export function gdbChecksum(payload: Uint8Array): number {
  let sum = 0;
  for (const b of payload) sum = (sum + b) & 0xff;
  return sum;
}

/**
 * Frame a payload as `$payload#cs`. The payload must already be escaped where it carries
 * binary data (see {@linkcode escapeGdbBinary}); a string is taken as latin-1.
 *
 * @param payload The payload.
 * @returns The bytes to send.
 *
 * @example
 * ```ts
 * import { encodeGdbPacket } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new TextDecoder().decode(encodeGdbPacket("OK")), "$OK#9a");
 * ```
 */
export function encodeGdbPacket(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? latin1Bytes(payload) : payload;
  const out = new Uint8Array(body.length + 4);
  out[0] = 0x24; // $
  out.set(body, 1);
  out[body.length + 1] = 0x23; // #
  const cs = gdbChecksum(body).toString(16).padStart(2, "0");
  out[body.length + 2] = cs.charCodeAt(0);
  out[body.length + 3] = cs.charCodeAt(1);
  return out;
}

/**
 * Escape binary data for a packet (the `X` memory write, binary replies): each of `#`, `$`,
 * `}` and `*` becomes `}` followed by the byte XOR 0x20.
 *
 * @param data The raw bytes.
 * @returns The escaped bytes.
 *
 * @example
 * ```ts
 * import { escapeGdbBinary } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...escapeGdbBinary(new Uint8Array([0x23, 0x41]))], [0x7d, 0x03, 0x41]);
 * ```
 */
export function escapeGdbBinary(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of data) if (MUST_ESCAPE.has(b)) extra++;
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let j = 0;
  for (const b of data) {
    if (MUST_ESCAPE.has(b)) {
      out[j++] = ESCAPE;
      out[j++] = b ^ 0x20;
    } else {
      out[j++] = b;
    }
  }
  return out;
}

/**
 * The size of `data` once escaped, without building it.
 *
 * @param data The raw bytes.
 * @returns The escaped length.
 *
 * @example
 * ```ts
 * import { escapedLength } from "./codec.ts";
 * console.assert(escapedLength(new Uint8Array([0x24, 0x00])) === 3);
 * ```
 */
export function escapedLength(data: Uint8Array): number {
  let n = data.length;
  for (const b of data) if (MUST_ESCAPE.has(b)) n++;
  return n;
}

/**
 * Undo {@linkcode escapeGdbBinary}: `}` X becomes X XOR 0x20.
 *
 * @param data The escaped bytes.
 * @returns The raw bytes.
 * @throws {SyntaxError} If the data ends with a lone `}`.
 *
 * @example
 * ```ts
 * import { unescapeGdbBinary } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...unescapeGdbBinary(new Uint8Array([0x7d, 0x5d, 0x41]))], [0x7d, 0x41]);
 * ```
 */
export function unescapeGdbBinary(data: Uint8Array): Uint8Array {
  if (!data.includes(ESCAPE)) return data;
  const out = new Uint8Array(data.length);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === ESCAPE) {
      if (++i >= data.length) throw new SyntaxError("Binary data ends with a lone escape '}'");
      out[j++] = data[i] ^ 0x20;
    } else {
      out[j++] = data[i];
    }
  }
  return out.slice(0, j);
}

/**
 * Expand run-length encoding: `X*c` stands for X followed by `c - 29` more copies of X
 * (so `0* ` is `0000`).
 *
 * @param payload The payload as received.
 * @returns The expanded payload.
 * @throws {SyntaxError} If a `*` has no byte before it or no count after it.
 *
 * @example
 * ```ts
 * import { decodeGdbRle, latin1Bytes, latin1Text } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(latin1Text(decodeGdbRle(latin1Bytes("0* 1"))), "00001");
 * ```
 */
export function decodeGdbRle(payload: Uint8Array): Uint8Array {
  if (!payload.includes(0x2a)) return payload;
  const out: number[] = [];
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i];
    if (b !== 0x2a) {
      out.push(b);
      continue;
    }
    if (out.length === 0 || i + 1 >= payload.length) {
      throw new SyntaxError("Run-length marker '*' without a byte before it or a count after it");
    }
    const count = payload[++i] - 29;
    if (count < 0) throw new SyntaxError(`Invalid run-length count ${count}`);
    const repeated = out[out.length - 1];
    for (let k = 0; k < count; k++) out.push(repeated);
  }
  return new Uint8Array(out);
}

/**
 * Run-length encode a payload as stubs do: runs of 4 or more equal bytes become `X*c`,
 * never using `#` or `$` as the count character. The inverse of {@linkcode decodeGdbRle}.
 *
 * @param payload The payload (must not contain `*` itself, e.g. hex text).
 * @returns The encoded payload.
 *
 * @example
 * ```ts
 * import { encodeGdbRle, latin1Bytes, latin1Text } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(latin1Text(encodeGdbRle(latin1Bytes("0000ff"))), "0* ff");
 * ```
 */
export function encodeGdbRle(payload: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < payload.length) {
    const b = payload[i];
    let run = 1;
    while (i + run < payload.length && payload[i + run] === b && run < 98) run++;
    let extra = run - 1;
    // Count characters 35 ('#') and 36 ('$') are not allowed: shorten the run.
    while (extra >= 3 && (extra + 29 === 0x23 || extra + 29 === 0x24)) extra--;
    if (extra >= 3) {
      out.push(b, 0x2a, extra + 29);
      i += extra + 1;
    } else {
      out.push(b);
      i += 1;
    }
  }
  return new Uint8Array(out);
}

/**
 * What the decoder found on the wire.
 *
 * @example
 * ```ts
 * import type { GdbWireEvent } from "./codec.ts";
 * const ack: GdbWireEvent = { type: "ack" };
 * console.assert(ack.type === "ack");
 * ```
 */
export type GdbWireEvent =
  | { type: "ack" }
  | { type: "nak" }
  | { type: "interrupt" }
  | {
    type: "packet";
    /** The payload as received (still escaped and run-length encoded). */
    payload: Uint8Array;
    /** Whether the checksum matched. */
    checksumOk: boolean;
  };

/**
 * An incremental decoder: feed it bytes as they arrive, get acks (`+`), naks (`-`),
 * interrupts (0x03) and packets. Other bytes between packets are ignored.
 *
 * @example
 * ```ts
 * import { GdbPacketDecoder, latin1Bytes } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const decoder = new GdbPacketDecoder();
 * assert.deepEqual(decoder.push(latin1Bytes("+$O")), [{ type: "ack" }]);
 * const [packet] = decoder.push(latin1Bytes("K#9a"));
 * assert.equal(packet.type === "packet" && packet.checksumOk, true);
 * ```
 */
export class GdbPacketDecoder {
  /** Bytes of the packet being received, `undefined` outside a packet. */
  #body: number[] | undefined;
  /** Checksum digits received after `#`. */
  #checksum: number[] | undefined;
  /** The largest payload accepted before the decoder gives up on a packet. */
  readonly maxPayload: number;

  /**
   * Make a decoder.
   *
   * @param maxPayload The largest payload accepted (default 4 MiB).
   */
  constructor(maxPayload = 4 * 1024 * 1024) {
    this.maxPayload = maxPayload;
  }

  /**
   * Feed bytes.
   *
   * @param bytes What arrived.
   * @returns The events completed by these bytes, in order.
   * @throws {RangeError} If a packet grows beyond `maxPayload`.
   */
  push(bytes: Uint8Array): GdbWireEvent[] {
    const events: GdbWireEvent[] = [];
    for (const b of bytes) {
      if (this.#checksum) {
        this.#checksum.push(b);
        if (this.#checksum.length === 2) {
          const payload = new Uint8Array(this.#body!);
          const text = String.fromCharCode(...this.#checksum);
          const expected = /^[0-9a-fA-F]{2}$/.test(text) ? parseInt(text, 16) : -1;
          events.push({ type: "packet", payload, checksumOk: expected === gdbChecksum(payload) });
          this.#body = undefined;
          this.#checksum = undefined;
        }
      } else if (this.#body) {
        if (b === 0x23) {
          this.#checksum = [];
        } else if (b === 0x24) {
          this.#body = []; // a new start marker: the previous packet was cut
        } else {
          if (this.#body.length >= this.maxPayload) {
            this.#body = undefined;
            throw new RangeError(`GDB packet larger than ${this.maxPayload} bytes`);
          }
          this.#body.push(b);
        }
      } else if (b === 0x24) {
        this.#body = [];
      } else if (b === 0x2b) {
        events.push({ type: "ack" });
      } else if (b === 0x2d) {
        events.push({ type: "nak" });
      } else if (b === 0x03) {
        events.push({ type: "interrupt" });
      }
    }
    return events;
  }
}
