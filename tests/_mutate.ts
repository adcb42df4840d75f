/**
 * Mutators for the fuzzers: RAP packets (from the radare2 recordings or made up) turned
 * into flipped, cut, oversized, negative-length, unknown-opcode and garbage packets, and
 * generic byte and text mutations for the file format parsers.
 *
 * @module
 */

import { concatBytes as join, encodePacket, Opcode, type RapRequest } from "../mod.ts";
import { loadRecordings } from "./_recordings.ts";
import type { Random } from "./_random.ts";

/** Length values that sit on or across every limit the codec and servers have. */
export const INTERESTING_U32: readonly number[] = [
  0,
  1,
  2,
  3,
  4,
  5,
  8,
  16,
  0x7f,
  0x80,
  0xfe,
  0xff,
  0x100,
  4094,
  4095,
  4096,
  4097,
  8192,
  16384,
  16385,
  0x7fff,
  0xffff,
  0x10000,
  0x3fffffff,
  0x40000000,
  0x7ffffffe,
  0x7fffffff,
  0x80000000,
  0x80000001,
  0xfffffffe,
  0xffffffff,
];

const INTERESTING_U64: readonly bigint[] = [
  0n,
  1n,
  0xfffn,
  0x1000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  BigInt(Number.MAX_SAFE_INTEGER),
  BigInt(Number.MAX_SAFE_INTEGER) + 1n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xfffffffffffffffen,
  0xffffffffffffffffn,
];

const REQUEST_OPS: readonly number[] = [
  Opcode.OPEN,
  Opcode.READ,
  Opcode.WRITE,
  Opcode.SEEK,
  Opcode.CLOSE,
  Opcode.CMD,
];

/**
 * The client → server packets of every radare2 recording (elided ones left out), as wire
 * bytes, per recording.
 *
 * @returns One array of packets per recording.
 *
 * @example
 * ```ts
 * import { recordedRequests } from "./_mutate.ts";
 * const sessions = await recordedRequests();
 * console.assert(sessions.flat().length > 100);
 * ```
 */
export async function recordedRequests(): Promise<Uint8Array[][]> {
  return (await loadRecordings()).map((r) =>
    r.packets.filter((p) => p.direction === ">" && !p.elided).map((p) => p.bytes)
  ).filter((s) => s.length > 0);
}

/**
 * An OPEN packet for `name` with `flags`.
 *
 * @param name The URI.
 * @param flags r2 permission bits.
 * @returns The wire bytes.
 *
 * @example
 * ```ts
 * import { openPacket } from "./_mutate.ts";
 * console.assert(openPacket("malloc://8", 4)[2] === 11);
 * ```
 */
export function openPacket(name: string, flags: number): Uint8Array {
  return encodePacket({ type: "open", flags, name });
}

/**
 * A random well-formed request.
 *
 * @param random The generator.
 * @param targets URIs an OPEN may name.
 * @returns The wire bytes.
 *
 * @example
 * ```ts
 * import { randomRequest } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const bytes = randomRequest(new Random(1), ["malloc://16"]);
 * console.assert([1, 2, 3, 4, 5, 7].includes(bytes[0]));
 * ```
 */
export function randomRequest(random: Random, targets: readonly string[]): Uint8Array {
  let request: RapRequest;
  const kind = random.int(16);
  if (kind === 0) {
    request = { type: "open", flags: random.pick([0, 4, 5, 5, 6, 7]), name: random.pick(targets) };
  } else if (kind < 6) {
    request = { type: "read", length: random.chance(0.98) ? random.int(4097) : random.u32() };
  } else if (kind < 8) {
    request = { type: "write", data: random.bytes(random.chance(0.8) ? random.int(64) : 4096) };
  } else if (kind < 12) {
    request = {
      type: "seek",
      whence: random.int(3),
      offset: random.chance(0.8) ? BigInt(random.int(0x4000)) : random.pick(INTERESTING_U64),
    };
  } else if (kind < 13) {
    request = { type: "close", fd: random.chance(0.8) ? 3 + random.int(4) : random.u32() | 0 };
  } else {
    request = {
      type: "cmd",
      command: random.pick(["", "#", "?V", "#probe", "i", "px 16", "s 0x10", "\x01\x02"]),
    };
  }
  return encodePacket(request);
}

/**
 * A random extended request (READ_AT, WRITE_AT, SIZE: valid once the extensions are
 * negotiated), with fds, offsets and lengths on and across the limits.
 *
 * @param random The generator.
 * @param maxData The negotiated payload limit.
 * @returns The wire bytes.
 *
 * @example
 * ```ts
 * import { randomExtendedRequest } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const bytes = randomExtendedRequest(new Random(1), 65536);
 * console.assert([0x11, 0x12, 0x13].includes(bytes[0]));
 * ```
 */
export function randomExtendedRequest(random: Random, maxData: number): Uint8Array {
  const fd = random.chance(0.8) ? 3 + random.int(4) : random.pick([-1, 0, 1, 2, 0x7fffffff]);
  const offset = random.chance(0.8) ? BigInt(random.int(0x10000)) : random.pick(INTERESTING_U64);
  switch (random.int(3)) {
    case 0: {
      const length = random.chance(0.9)
        ? random.int(65537)
        : random.pick([maxData, maxData + 1, 0x7fffffff, 0xffffffff]);
      return encodePacket({ type: "read_at", fd, offset, length });
    }
    case 1: {
      const data = random.bytes(random.chance(0.9) ? random.int(256) : Math.min(maxData, 65536));
      return encodePacket({ type: "write_at", fd, offset, data });
    }
    default:
      return encodePacket({ type: "size", fd });
  }
}

function setU32(bytes: Uint8Array, at: number, value: number, littleEndian = false): void {
  if (at + 4 > bytes.length) return;
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(at, value, littleEndian);
}

/**
 * The mutations {@linkcode mutatePacket} applies, by name (for the report).
 *
 * @example
 * ```ts
 * import { PACKET_MUTATIONS } from "./_mutate.ts";
 * console.assert(PACKET_MUTATIONS.includes("huge-length"));
 * ```
 */
export const PACKET_MUTATIONS: readonly string[] = [
  "flip-bit",
  "set-byte",
  "cut",
  "extend",
  "huge-length",
  "negative-length",
  "boundary-length",
  "unknown-opcode",
  "reply-opcode",
  "bad-whence",
  "extreme-offset",
  "open-namelen",
  "garbage",
  "lone-opcode",
];

/**
 * Mutate one packet.
 *
 * @param random The generator.
 * @param packet The well-formed packet (not modified).
 * @returns The mutated bytes and the mutation's name.
 *
 * @example
 * ```ts
 * import { mutatePacket } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const { bytes, mutation } = mutatePacket(new Random(3), new Uint8Array([2, 0, 0, 0, 16]));
 * console.assert(bytes instanceof Uint8Array && typeof mutation === "string");
 * ```
 */
export function mutatePacket(
  random: Random,
  packet: Uint8Array,
): { bytes: Uint8Array; mutation: string } {
  const mutation = random.pick(PACKET_MUTATIONS);
  let bytes: Uint8Array = packet.slice();
  const op = bytes[0];
  switch (mutation) {
    case "flip-bit": {
      const flips = 1 + random.int(3);
      for (let i = 0; i < flips; i++) bytes[random.int(bytes.length)] ^= 1 << random.int(8);
      break;
    }
    case "set-byte":
      bytes[random.int(bytes.length)] = random.pick([0, 1, 0x7f, 0x80, 0xff, random.int(256)]);
      break;
    case "cut":
      bytes = bytes.subarray(0, random.int(bytes.length));
      break;
    case "extend":
      bytes = join([bytes, random.bytes(1 + random.int(32))]);
      break;
    case "huge-length":
      if (bytes.length < 5) bytes = join([bytes, new Uint8Array(5 - bytes.length)]);
      setU32(bytes, 1, random.pick([0x10000, 0x100000, 0x40000000, 0x7fffffff, 0xfffffff0]));
      break;
    case "negative-length":
      if (bytes.length < 5) bytes = join([bytes, new Uint8Array(5 - bytes.length)]);
      setU32(bytes, 1, 0x80000000 + random.int(0x80000000));
      break;
    case "boundary-length":
      if (bytes.length < 5) bytes = join([bytes, new Uint8Array(5 - bytes.length)]);
      setU32(bytes, 1, random.pick(INTERESTING_U32));
      break;
    case "unknown-opcode": {
      let other = random.int(256);
      while (REQUEST_OPS.includes(other)) other = random.int(256);
      bytes[0] = other;
      break;
    }
    case "reply-opcode":
      bytes[0] = (random.pick(REQUEST_OPS) | 0x80) & 0xff;
      break;
    case "bad-whence":
      if (op !== Opcode.SEEK || bytes.length < 2) {
        bytes = encodePacket({ type: "seek", whence: 0, offset: BigInt(random.int(0x1000)) });
      }
      bytes[1] = 3 + random.int(253);
      break;
    case "extreme-offset":
      bytes = encodePacket({
        type: "seek",
        whence: random.int(3),
        offset: random.pick(INTERESTING_U64),
      });
      break;
    case "open-namelen":
      if (op === Opcode.OPEN && bytes.length > 2) {
        bytes[2] = random.pick([0, 1, 0xfe, 0xff, random.int(256)]);
      } else {
        bytes = join([new Uint8Array([Opcode.OPEN, random.int(8), random.int(256)]), bytes]);
      }
      break;
    case "garbage":
      bytes = random.bytes(1 + random.int(64));
      break;
    case "lone-opcode":
      bytes = new Uint8Array([random.pick(REQUEST_OPS)]);
      break;
  }
  return { bytes, mutation };
}

/**
 * A stream of packets to send on one connection, and where each packet ends in it.
 *
 * @example
 * ```ts
 * import type { PacketStream } from "./_mutate.ts";
 * const s: PacketStream = { bytes: new Uint8Array(5), ends: [5], mutated: [] };
 * console.assert(s.ends.length === 1);
 * ```
 */
export interface PacketStream {
  /** All the bytes. */
  bytes: Uint8Array;
  /** The end offset of each packet in `bytes`. */
  ends: number[];
  /** The indices (into `ends`) of the packets that were mutated (or are garbage). */
  mutated: number[];
}

/**
 * Build one connection's stream: an OPEN of a target (usually), then `count` packets, each
 * a recorded or random well-formed request, or (with probability `mutationRate`) a mutated
 * one; garbage may be interleaved between packets. OPENs in recorded sessions are
 * rewritten to name one of `targets`.
 *
 * @param random The generator.
 * @param corpus Recorded request sessions ({@linkcode recordedRequests}).
 * @param targets URIs the server can open.
 * @param count How many packets.
 * @param mutationRate Probability that a packet is mutated.
 * @param extensions If given, the stream starts with the extension probe asking for this
 *   payload limit, and a third of the packets after it are extended requests.
 * @returns The stream.
 *
 * @example
 * ```ts
 * import { buildStream } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const s = buildStream(new Random(1), [[new Uint8Array([2, 0, 0, 0, 8])]], ["malloc://64"], 10, 0.1);
 * console.assert(s.ends.length >= 10 && s.ends.at(-1) === s.bytes.length);
 * ```
 */
export function buildStream(
  random: Random,
  corpus: readonly Uint8Array[][],
  targets: readonly string[],
  count: number,
  mutationRate: number,
  extensions?: number,
): PacketStream {
  const parts: Uint8Array[] = [];
  const ends: number[] = [];
  let total = 0;
  const mutated: number[] = [];
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    total += bytes.length;
    ends.push(total);
  };
  if (extensions !== undefined) {
    push(encodePacket({ type: "cmd", command: `#rap-ext? 1 maxdata=${extensions}` }));
  }
  if (random.chance(0.9)) push(openPacket(random.pick(targets), random.pick([4, 5, 6, 7])));
  let session = random.pick(corpus);
  let at = 0;
  for (let i = 0; i < count; i++) {
    let packet: Uint8Array;
    if (random.chance(0.6)) {
      if (at >= session.length) {
        session = random.pick(corpus);
        at = 0;
      }
      packet = session[at++];
      if (packet[0] === Opcode.OPEN) {
        packet = openPacket(random.pick(targets), packet[1]);
      }
    } else if (extensions !== undefined && random.chance(0.5)) {
      packet = randomExtendedRequest(random, extensions);
    } else {
      packet = randomRequest(random, targets);
    }
    if (random.chance(mutationRate)) {
      packet = mutatePacket(random, packet).bytes;
      mutated.push(ends.length);
    }
    push(packet);
    if (random.chance(mutationRate / 10)) {
      mutated.push(ends.length);
      push(random.bytes(1 + random.int(16)));
    }
  }
  return { bytes: join(parts), ends, mutated };
}

/**
 * Mutate a file's bytes: flipped bits, interesting bytes and 16/32-bit values (both byte
 * orders), deleted, duplicated or inserted ranges, truncation, appended garbage.
 *
 * @param random The generator.
 * @param input The original (not modified).
 * @param rounds How many mutations to stack (default 1 to 4).
 * @returns The mutated bytes.
 *
 * @example
 * ```ts
 * import { mutateBytes } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const out = mutateBytes(new Random(9), new Uint8Array(100));
 * console.assert(out instanceof Uint8Array);
 * ```
 */
export function mutateBytes(
  random: Random,
  input: Uint8Array,
  rounds = 1 + random.int(4),
): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (let r = 0; r < rounds; r++) {
    const n = bytes.length;
    switch (n === 0 ? 9 : random.int(11)) {
      case 0:
        bytes[random.int(n)] ^= 1 << random.int(8);
        break;
      case 1:
        bytes[random.int(n)] = random.pick([0, 1, 0x7f, 0x80, 0xff, random.int(256)]);
        break;
      case 2: {
        const at = random.int(Math.max(1, n - 1));
        if (at + 2 <= n) {
          new DataView(bytes.buffer).setUint16(
            at,
            random.pick([0, 1, 0x7fff, 0x8000, 0xffff, random.int(0x10000)]),
            random.chance(0.5),
          );
        }
        break;
      }
      case 3:
      case 4:
        setU32(
          bytes,
          random.int(Math.max(1, n - 3)),
          random.pick(INTERESTING_U32),
          random.chance(0.5),
        );
        break;
      case 5: {
        const from = random.int(n);
        const len = 1 + random.int(Math.min(64, n - from));
        bytes = join([bytes.subarray(0, from), bytes.subarray(from + len)]);
        break;
      }
      case 6: {
        const from = random.int(n);
        const len = 1 + random.int(Math.min(64, n - from));
        const to = random.int(n);
        bytes = join([bytes.subarray(0, to), bytes.slice(from, from + len), bytes.subarray(to)]);
        break;
      }
      case 7:
        bytes = bytes.subarray(0, random.int(n));
        break;
      case 8: {
        const at = random.int(n + 1);
        bytes = join([bytes.subarray(0, at), random.bytes(1 + random.int(16)), bytes.subarray(at)]);
        break;
      }
      case 9:
        bytes = join([bytes, random.bytes(1 + random.int(32))]);
        break;
      default: {
        const at = random.int(n);
        const len = Math.min(n - at, 1 + random.int(8));
        bytes.set(random.bytes(len), at);
      }
    }
  }
  return bytes;
}

/**
 * Mutate hex-record text (Intel HEX or S-records) so that it often stays parsable: change
 * hex digits, record types, counts and addresses, drop, duplicate or swap lines, then (most
 * of the time) recompute each line's checksum so the parser goes past it.
 *
 * @param random The generator.
 * @param input The original text.
 * @param kind Which record format, for the checksum.
 * @returns The mutated text.
 *
 * @example
 * ```ts
 * import { mutateRecords } from "./_mutate.ts";
 * import { Random } from "./_random.ts";
 * const out = mutateRecords(new Random(1), ":0100000001FE\n:00000001FF\n", "ihex");
 * console.assert(typeof out === "string");
 * ```
 */
export function mutateRecords(random: Random, input: string, kind: "ihex" | "srec"): string {
  const lines = input.split("\n").filter((l) => l !== "");
  const rounds = 1 + random.int(3);
  for (let r = 0; r < rounds && lines.length > 0; r++) {
    const i = random.int(lines.length);
    const line = lines[i];
    switch (random.int(8)) {
      case 0:
      case 1:
      case 2: {
        // One hex digit (after the record mark and, for S-records, the type).
        const start = kind === "ihex" ? 1 : 2;
        if (line.length <= start) break;
        const at = start + random.int(line.length - start);
        lines[i] = line.slice(0, at) + random.pick([..."0123456789ABCDEFF0"]) + line.slice(at + 1);
        break;
      }
      case 3:
        // The record type.
        lines[i] = kind === "ihex"
          ? line.slice(0, 7) + random.pick(["00", "01", "02", "03", "04", "05", "06", "FF"]) +
            line.slice(9)
          : "S" + random.pick([..."0123456789A"]) + line.slice(2);
        break;
      case 4:
        lines.splice(i, 1);
        break;
      case 5:
        lines.splice(random.int(lines.length + 1), 0, line);
        break;
      case 6: {
        // Address bytes set to extremes.
        const start = kind === "ihex" ? 3 : 4;
        lines[i] = line.slice(0, start) + random.pick(["FFFF", "0000", "FFF0", "8000"]) +
          line.slice(start + 4);
        break;
      }
      default:
        lines[i] = line + random.pick(["00", "FF", "G", " ", "\r", ":", "0"]);
    }
  }
  const fix = random.chance(0.8);
  return lines.map((l) => fix ? fixChecksum(l, kind) : l).join(random.chance(0.1) ? "\r\n" : "\n") +
    "\n";
}

function fixChecksum(line: string, kind: "ihex" | "srec"): string {
  const start = kind === "ihex" ? 1 : 2;
  const body = line.slice(start);
  if (body.length < 4 || body.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(body)) return line;
  const bytes: number[] = [];
  for (let i = 0; i < body.length - 2; i += 2) bytes.push(parseInt(body.slice(i, i + 2), 16));
  const sum = bytes.reduce((a, b) => a + b, 0);
  const checksum = kind === "ihex" ? (0x100 - (sum & 0xff)) & 0xff : 0xff - (sum & 0xff);
  return line.slice(0, line.length - 2) + checksum.toString(16).toUpperCase().padStart(2, "0");
}
