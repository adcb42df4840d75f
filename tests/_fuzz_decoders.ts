/**
 * Fuzz the pure decoders and format parsers with mutated inputs: the RAP packet decoder,
 * DEFLATE, gzip/zlib, zip, ar, Intel HEX, S-records, the HTTP plugin's Range handling (via
 * a local HTTP server) and the GDB remote packet codec. Each must only raise its typed
 * errors, finish every input quickly, and not allocate far more than the input justifies.
 *
 * @module
 */

import { decodePacket, IoError, PacketDecoder, RapProtocolError } from "../mod.ts";
import v8 from "node:v8";
import { readArMembers } from "../plugins/_ar_archive.ts";
import {
  decodeGdbRle,
  encodeGdbPacket,
  encodeGdbRle,
  escapeGdbBinary,
  fromHex,
  GdbPacketDecoder,
  latin1Text,
  unescapeGdbBinary,
} from "../lib/gdb/codec.ts";
import { decodeCompressed } from "../plugins/_gzip_format.ts";
import { InflateError, inflateRaw } from "../plugins/_inflate.ts";
import { parseIntelHex } from "../plugins/_intel_hex.ts";
import { buildSparseImage } from "../plugins/_sparse_image.ts";
import { parseSRecords } from "../plugins/_srec_format.ts";
import { ZipArchive } from "../plugins/_zip_archive.ts";
import ar from "../plugins/ar.ts";
import gzip, { GZIP_MAX_OUTPUT } from "../plugins/gzip.ts";
import http from "../plugins/http.ts";
import ihex from "../plugins/ihex.ts";
import srec from "../plugins/srec.ts";
import zip, { ZIP_MAX_MEMBER } from "../plugins/zip.ts";
import { loadRecordings } from "./_recordings.ts";
import { deflateRaw, makeFixtures } from "./_fixtures.ts";
import { mutateBytes, mutateRecords } from "./_mutate.ts";
import { Random } from "./_random.ts";

/**
 * Findings for one decoder.
 *
 * @example
 * ```ts
 * import type { DecoderReport } from "./_fuzz_decoders.ts";
 * const clean = (r: DecoderReport) => r.untyped === 0 && r.slow === 0 && r.overAllocations === 0;
 * console.assert(typeof clean === "function");
 * ```
 */
export interface DecoderReport {
  /** The decoder's name. */
  name: string;
  /** Inputs tried. */
  inputs: number;
  /** Inputs that decoded without an error. */
  accepted: number;
  /** Typed errors raised, by error name. */
  typedErrors: Record<string, number>;
  /** Errors of any other kind (a bug). */
  untyped: number;
  /** The first few: message, stack top and the input (hex). */
  untypedSamples: { message: string; input: string; index: number }[];
  /** Inputs slower than the per-input limit (a hang). */
  slow: number;
  /** The slowest input, ms. */
  maxMs: number;
  /** Inputs that grew memory past their allowance. */
  overAllocations: number;
  /** The first few: bytes grown, input length and index. */
  overAllocationSamples: { grew: number; inputLength: number; index: number }[];
  /** The most memory one input grew (V8 heap + external), bytes. */
  maxGrowth: number;
  /** Wall time, seconds. */
  seconds: number;
}

/**
 * Options of {@linkcode fuzzDecoders}.
 *
 * @example
 * ```ts
 * import type { DecoderFuzzOptions } from "./_fuzz_decoders.ts";
 * const options: DecoderFuzzOptions = { seed: 1, scale: 0.01 };
 * console.assert(options.scale === 0.01);
 * ```
 */
export interface DecoderFuzzOptions {
  /** Seed of every random choice. */
  seed: number;
  /**
   * Multiplies each decoder's default input count (100,000 for in-memory parsers, 10,000
   * for parsers that go through a file, 2,000 for HTTP). Default 1.
   */
  scale?: number;
  /** Only these decoders (by name; default all). */
  only?: string[];
  /** An input slower than this counts as a hang (default 2000 ms). */
  slowMs?: number;
  /** Called after each decoder. */
  progress?: (report: DecoderReport) => void;
  /** Called before every 100th input (a watchdog can tell a hang from slow progress). */
  heartbeat?: (name: string, index: number) => void;
}

/**
 * The decoders {@linkcode fuzzDecoders} covers, by name (for `only`).
 *
 * @example
 * ```ts
 * import { DECODER_NAMES } from "./_fuzz_decoders.ts";
 * console.assert(DECODER_NAMES.includes("Intel HEX"));
 * ```
 */
export const DECODER_NAMES: readonly string[] = [
  "rap packet decoder",
  "rap decodePacket",
  "inflate (raw DEFLATE)",
  "gzip/zlib container",
  "Intel HEX",
  "S-records",
  "GDB packet codec",
  "zip archive (ZipArchive)",
  "zip:// plugin",
  "ar archive (readArMembers)",
  "ar:// plugin",
  "gzip:// plugin",
  "ihex:// plugin",
  "srec:// plugin",
  "http:// plugin (Range, Content-Range)",
];

/** Messages of JavaScript engine errors: a parser that raises one has a bug. */
const ENGINE_ERROR = new RegExp(
  [
    "Cannot read properties",
    "Cannot set properties",
    "is not a function",
    "is not iterable",
    "is not defined",
    "is outside the bounds of the",
    "^offset is out of bounds",
    "^Invalid typed array length",
    "^Invalid array length",
    "Array buffer allocation failed",
    "Maximum call stack",
    "^Invalid string length",
    "^Invalid count value",
    "\\bundefined\\b",
    "\\bNaN\\b",
  ].join("|"),
);

const ALLOC_SLACK = 64 * 1024 * 1024;

interface Target {
  name: string;
  count: number;
  /** Make input number `index` (deterministic from the generator). */
  input(random: Random): Uint8Array;
  /** Decode it; throw what the decoder throws. */
  run(input: Uint8Array, random: Random): unknown;
  /** Whether an error is one the decoder documents. */
  typed(error: unknown): boolean;
  /** How many bytes decoding `length` input bytes may legitimately grow memory by. */
  allowance?(length: number): number;
}

function hex(bytes: Uint8Array, max = 512): string {
  return Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join("") +
    (bytes.length > max ? `...(${bytes.length} bytes)` : "");
}

function engineMessage(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (ENGINE_ERROR.test(e.message)) return true;
    if (e.cause === e) break;
  }
  return false;
}

function isIoError(error: unknown): boolean {
  return error instanceof IoError;
}

function memory(): number {
  const s = v8.getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

function window(random: Random, bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  const at = random.int(bytes.length - max);
  return bytes.subarray(at, at + max);
}

async function makeTargets(dir: string, seed: number): Promise<{
  targets: Target[];
  cleanup: () => Promise<void>;
}> {
  const fixtures = await makeFixtures(seed);
  const text = new TextDecoder();
  const recordings = await loadRecordings();
  const streams: Uint8Array[] = [];
  for (const r of recordings) {
    for (const direction of [">", "<"]) {
      const packets = r.packets.filter((p) => p.direction === direction && !p.elided);
      if (packets.length === 0) continue;
      const total = packets.reduce((n, p) => n + p.bytes.length, 0);
      const joined = new Uint8Array(total);
      let at = 0;
      for (const p of packets) {
        joined.set(p.bytes, at);
        at += p.bytes.length;
      }
      streams.push(joined);
    }
  }
  const deflated = [
    await deflateRaw(fixtures.get("sample.bin")!),
    await deflateRaw(new TextEncoder().encode("abcabcabc".repeat(500))),
    await deflateRaw(new Uint8Array(0)),
  ];
  // A stored (type 0) deflate stream, so mutations reach that branch too.
  deflated.push(new Uint8Array([0x01, 0x05, 0x00, 0xfa, 0xff, 1, 2, 3, 4, 5]));
  const gz = fixtures.get("sample.gz")!;
  const compressed = [gz, fixtures.get("sample.zlib")!, new Uint8Array([...gz, ...gz])];
  const hexText = text.decode(fixtures.get("sample.hex")!);
  const srecText = text.decode(fixtures.get("sample.srec")!);
  const gdbWire = [
    encodeGdbPacket("OK"),
    encodeGdbPacket("E01"),
    encodeGdbPacket("0011223344556677"),
    encodeGdbPacket(encodeGdbRle(new TextEncoder().encode("0".repeat(60) + "ff"))),
    encodeGdbPacket(escapeGdbBinary(new Uint8Array([0x23, 0x24, 0x7d, 0x2a, 1, 2]))),
    new Uint8Array([0x2b, 0x2d, 0x03]),
  ];
  const gdbStream = new Uint8Array(gdbWire.reduce((n, p) => n + p.length, 0));
  gdbWire.reduce((at, p) => (gdbStream.set(p, at), at + p.length), 0);

  let fileCounter = 0;
  const tempFile = async (bytes: Uint8Array, suffix: string) => {
    const path = `${dir}/in${fileCounter++ % 8}${suffix}`;
    await Deno.writeFile(path, bytes);
    return path;
  };

  const rapRoles = ["server", "client", "any"] as const;
  const targets: Target[] = [
    {
      name: "rap packet decoder",
      count: 100_000,
      input: (random) => mutateBytes(random, window(random, random.pick(streams), 2048)),
      run(input, random) {
        const decoder = new PacketDecoder({ role: random.pick(rapRoles) });
        for (let at = 0; at < input.length;) {
          const end = random.chance(0.5) ? input.length : at + 1 + random.int(16);
          decoder.push(input.subarray(at, end));
          while (decoder.next() !== undefined) { /* decoded */ }
          at = end;
        }
        decoder.finish();
      },
      typed: (e) => e instanceof RapProtocolError,
    },
    {
      name: "rap decodePacket",
      count: 100_000,
      input: (random) => {
        const r = random.pick(recordings).packets.filter((p) => !p.elided);
        return r.length ? mutateBytes(random, random.pick(r).bytes) : random.bytes(8);
      },
      run: (input) => decodePacket(input),
      // RangeError is documented for bytes left over after the packet.
      typed: (e) =>
        e instanceof RapProtocolError ||
        (e instanceof RangeError && /left over/.test(e.message)),
    },
    {
      name: "inflate (raw DEFLATE)",
      count: 100_000,
      input: (random) => mutateBytes(random, random.pick(deflated)),
      run: (input) => inflateRaw(input, 0, 1 << 20),
      typed: (e) => e instanceof InflateError,
      allowance: () => (1 << 20) * 2,
    },
    {
      name: "gzip/zlib container",
      count: 100_000,
      input: (random) => mutateBytes(random, random.pick(compressed)),
      run: (input) => decodeCompressed(input, GZIP_MAX_OUTPUT),
      typed: (e) => e instanceof InflateError,
      // The documented cap: up to 50,000,000 output bytes (radare2's MAXOUT), doubled while growing.
      allowance: () => GZIP_MAX_OUTPUT * 3,
    },
    {
      name: "Intel HEX",
      count: 100_000,
      input: (random) =>
        new TextEncoder().encode(
          random.chance(0.8)
            ? mutateRecords(random, hexText, "ihex")
            : text.decode(mutateBytes(random, new TextEncoder().encode(hexText))),
        ),
      run: (input) => buildSparseImage(parseIntelHex(text.decode(input)).records),
      typed: (e) => e instanceof SyntaxError,
    },
    {
      name: "S-records",
      count: 100_000,
      input: (random) =>
        new TextEncoder().encode(
          random.chance(0.8)
            ? mutateRecords(random, srecText, "srec")
            : text.decode(mutateBytes(random, new TextEncoder().encode(srecText))),
        ),
      run: (input) => buildSparseImage(parseSRecords(text.decode(input)).records),
      typed: (e) => e instanceof SyntaxError,
    },
    {
      name: "GDB packet codec",
      count: 100_000,
      input: (random) => mutateBytes(random, gdbStream, 1 + random.int(6)),
      run(input) {
        const decoder = new GdbPacketDecoder(4096);
        for (const event of decoder.push(input)) {
          if (event.type !== "packet") continue;
          const payload = unescapeGdbBinary(decodeGdbRle(event.payload));
          const body = latin1Text(payload);
          if (/^[0-9a-fA-F]*$/.test(body)) fromHex(body);
        }
      },
      typed: (e) =>
        e instanceof SyntaxError || (e instanceof RangeError && /larger than/.test(e.message)),
    },
    {
      name: "zip archive (ZipArchive)",
      count: 10_000,
      input: (random) => mutateBytes(random, fixtures.get("sample.zip")!),
      async run(input) {
        const path = await tempFile(input, ".zip");
        using archive = await ZipArchive.open(path);
        for (const entry of archive.entries) {
          try {
            await archive.read(entry, ZIP_MAX_MEMBER);
          } catch (error) {
            if (!zipTyped(error)) throw error;
          }
        }
      },
      typed: zipTyped,
    },
    {
      name: "zip:// plugin",
      count: 10_000,
      input: (random) => mutateBytes(random, fixtures.get("sample.zip")!),
      async run(input, random) {
        const path = await tempFile(input, ".zip");
        await using desc = await zip.open(`zip://${path}::${random.int(3)}`, {});
        await desc.read(0, 4096);
      },
      typed: isIoError,
    },
    {
      name: "ar archive (readArMembers)",
      count: 10_000,
      input: (random) => mutateBytes(random, fixtures.get("sample.a")!),
      async run(input) {
        const path = await tempFile(input, ".a");
        using file = await Deno.open(path);
        await readArMembers(file);
      },
      typed: (e) => e instanceof SyntaxError,
    },
    {
      name: "ar:// plugin",
      count: 10_000,
      input: (random) => mutateBytes(random, fixtures.get("sample.a")!),
      async run(input, random) {
        const path = await tempFile(input, ".a");
        const member = random.pick(["m.o", "a_long_member_name.o", ""]);
        await using desc = await ar.open(`ar://${path}//${member}`, {});
        await desc.read(0, 4096);
      },
      typed: isIoError,
    },
    {
      name: "gzip:// plugin",
      count: 10_000,
      input: (random) => mutateBytes(random, random.pick(compressed)),
      async run(input) {
        const path = await tempFile(input, ".gz");
        await using desc = await gzip.open(`gzip://${path}`, {});
        await desc.read(0, 4096);
      },
      typed: isIoError,
      allowance: () => GZIP_MAX_OUTPUT * 3,
    },
    {
      name: "ihex:// plugin",
      count: 10_000,
      input: (random) => new TextEncoder().encode(mutateRecords(random, hexText, "ihex")),
      async run(input) {
        const path = await tempFile(input, ".hex");
        await using desc = await ihex.open(`ihex://${path}`, {});
        await desc.read(0, 4096);
      },
      typed: isIoError,
    },
    {
      name: "srec:// plugin",
      count: 10_000,
      input: (random) => new TextEncoder().encode(mutateRecords(random, srecText, "srec")),
      async run(input) {
        const path = await tempFile(input, ".srec");
        await using desc = await srec.open(`srec://${path}`, {});
        await desc.read(0, 4096);
      },
      typed: isIoError,
    },
  ];

  // The HTTP plugin's Range handling, against a local server that answers each request
  // with the status, Content-Range and body of the current input.
  let current: Uint8Array = new Uint8Array(0);
  const httpServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => httpAnswer(current, request),
  );
  const httpPort = httpServer.addr.port;
  targets.push({
    name: "http:// plugin (Range, Content-Range)",
    count: 2_000,
    input: (random) => httpInput(random),
    async run(input, random) {
      current = input;
      await using desc = await http.open(`http://127.0.0.1:${httpPort}/x.bin`, {});
      await desc.size();
      await desc.read(random.pick([0, 1, 65535, 65536, 200_000, 2 ** 40]), 70_000);
    },
    typed: isIoError,
  });
  return {
    targets,
    cleanup: async () => {
      await httpServer.shutdown();
    },
  };
}

function zipTyped(error: unknown): boolean {
  return error instanceof SyntaxError || error instanceof RangeError ||
    (error instanceof Error &&
      /is encrypted|compression method|Is a directory/.test(error.message));
}

const CONTENT_RANGES = [
  "bytes 0-65535/100000",
  "bytes 0-99/100",
  "bytes 0-0/1",
  "bytes */100000",
  "bytes 0-65535/*",
  "bytes 5-10/100",
  "bytes 0-65535/0",
  "bytes 0-65535/9007199254740993",
  "bytes 0-65535/99999999999999999999",
  "bytes -1-5/10",
  "bytes 0-65535/-5",
  "BYTES 0-65535/70000",
  "bytes 65536-131071/100000",
  "bytes 0-65535 /100000",
  "",
];

/** An HTTP answer script: status (u16), content-range index (u8), body length (u32), flags. */
function httpInput(random: Random): Uint8Array {
  const out = new Uint8Array(8 + 32);
  const view = new DataView(out.buffer);
  view.setUint16(0, random.pick([200, 206, 206, 206, 416, 404, 500, 204]));
  out[2] = random.int(CONTENT_RANGES.length);
  view.setUint32(3, random.pick([0, 1, 100, 65535, 65536, 70_000, 100_000, random.int(300_000)]));
  out[7] = random.int(256); // bit 0: mutate the range text; bit 1: answer later requests with 200
  out.set(random.bytes(32), 8);
  return out;
}

function httpAnswer(input: Uint8Array, request: Request): Response {
  if (input.length < 8) return new Response("no input", { status: 500 });
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const later = request.headers.get("range") !== "bytes=0-65535";
  let status = view.getUint16(0);
  const flags = input[7];
  if (later && flags & 2) status = 200;
  let range = CONTENT_RANGES[input[2] % CONTENT_RANGES.length];
  if (flags & 1 && range.length > 0) {
    const at = input[8] % range.length;
    range = range.slice(0, at) + String.fromCharCode(0x20 + (input[9] % 0x5f)) +
      range.slice(at + 1);
  }
  const headers = new Headers();
  if (range) headers.set("content-range", range);
  const length = Math.min(view.getUint32(3), 300_000);
  const body = status === 204 ? null : new Uint8Array(length).fill(0x41);
  if (status < 200 || status > 599) status = 200;
  return new Response(body, { status, headers });
}

/**
 * Fuzz every decoder and return one report per decoder.
 *
 * @param options Seed and scale.
 * @returns The reports.
 *
 * @example
 * ```ts
 * import { fuzzDecoders } from "./_fuzz_decoders.ts";
 * import assert from "node:assert/strict";
 *
 * const [report] = await fuzzDecoders({ seed: 1, scale: 0.001, only: ["S-records"] });
 * assert.equal(report.untyped, 0);
 * ```
 */
export async function fuzzDecoders(options: DecoderFuzzOptions): Promise<DecoderReport[]> {
  const scale = options.scale ?? 1;
  const slowMs = options.slowMs ?? 2000;
  const dir = await Deno.makeTempDir({ prefix: "rap_fuzz_decoders_" });
  const { targets, cleanup } = await makeTargets(dir, options.seed);
  const reports: DecoderReport[] = [];
  try {
    for (const [t, target] of targets.entries()) {
      if (options.only && !options.only.includes(target.name)) continue;
      const random = new Random(options.seed * 7919 + t);
      const report: DecoderReport = {
        name: target.name,
        inputs: 0,
        accepted: 0,
        typedErrors: {},
        untyped: 0,
        untypedSamples: [],
        slow: 0,
        maxMs: 0,
        overAllocations: 0,
        overAllocationSamples: [],
        maxGrowth: 0,
        seconds: 0,
      };
      const started = performance.now();
      const count = Math.max(1, Math.round(target.count * scale));
      for (let index = 0; index < count; index++) {
        if (index % 100 === 0) options.heartbeat?.(target.name, index);
        const input = target.input(random);
        const before = memory();
        const t0 = performance.now();
        try {
          await target.run(input, random);
          report.accepted++;
        } catch (error) {
          if (target.typed(error) && !engineMessage(error)) {
            const name = (error as Error).name;
            report.typedErrors[name] = (report.typedErrors[name] ?? 0) + 1;
          } else {
            report.untyped++;
            if (report.untypedSamples.length < 5) {
              const e = error as Error;
              report.untypedSamples.push({
                message: `${e?.name}: ${e?.message}` +
                  (e?.cause ? ` (cause: ${(e.cause as Error).message})` : "") +
                  `\n${e?.stack?.split("\n").slice(1, 4).join("\n")}`,
                input: hex(input),
                index,
              });
            }
          }
        }
        const ms = performance.now() - t0;
        const grew = memory() - before;
        report.inputs++;
        report.maxMs = Math.max(report.maxMs, ms);
        if (ms > slowMs) report.slow++;
        report.maxGrowth = Math.max(report.maxGrowth, grew);
        const allowed = Math.max(ALLOC_SLACK, target.allowance?.(input.length) ?? 0) +
          input.length * 1100;
        if (grew > allowed) {
          report.overAllocations++;
          if (report.overAllocationSamples.length < 5) {
            report.overAllocationSamples.push({ grew, inputLength: input.length, index });
          }
        }
      }
      report.seconds = (performance.now() - started) / 1000;
      reports.push(report);
      options.progress?.(report);
    }
  } finally {
    await cleanup();
    await Deno.remove(dir, { recursive: true });
  }
  return reports;
}
