/**
 * The files a fuzzed `cli.ts serve` serves, made in temp dirs: the format fixtures, a known
 * file for the checkers, hostile archives (overlapping and shared-stream zips, huge and
 * lying declared sizes, too many entries, gzip bombs), the directories a racer swaps for
 * links to an outside dir, and markers: bytes of files outside the scope that must never
 * come back in a reply. Also the URIs the fuzzing clients OPEN, with the server's own
 * addresses among them (nested self-`rap://`).
 *
 * @module
 */

import { concatBytes } from "../lib/protocol/bytes.ts";
import { crc32 } from "../plugins/_checksum.ts";
import { makeFixtures } from "./_fixtures.ts";
import { connectionLimitArgs, type ServeProcess, startServe } from "./_serve_process.ts";
import { Random } from "./_random.ts";
import { buildZip, crc32OfZeros, deflateZeros, sharedStreamZip } from "./_zip_bomb.ts";

/** Size of the file the checkers read and compare. */
export const KNOWN_SIZE = 1 << 20;

/** One hostile archive and what opening it may give. */
export interface ArchiveTarget {
  /** The URI to OPEN. */
  uri: string;
  /** If the OPEN succeeds, the bytes it must serve from offset 0 (zeros: `fill`). */
  expect: { fill: number; size: number } | { bytes: Uint8Array } | undefined;
}

/** Where the racer swaps a directory inside the scope for a link to one outside. */
export interface RaceSite {
  /** The directory the racer swaps (inside the scope). */
  swapped: string;
  /** The file clients OPEN, inside `swapped`. */
  target: string;
  /** A copy of the target's bytes outside `swapped` (what an inside OPEN reads). */
  expected: string;
  /** The directory the link points to. */
  outsideDir: string;
  /** The file of the target's name there (made of markers). */
  outsideFile: string;
  /**
   * Another file inside `swapped` (with a twin outside) for the fuzzing connections, which
   * write anything into what they open: the racing client's target keeps known bytes.
   */
  fuzzTarget: string;
}

/**
 * The served tree of one fuzz run.
 *
 * @example
 * ```ts
 * import { makeFuzzSetup } from "./_fuzz_setup.ts";
 * import assert from "node:assert/strict";
 *
 * const setup = await makeFuzzSetup(1, { bombSize: 1 << 20 });
 * try {
 *   assert.ok(setup.targets({ rap: 1234, http: 1235 }).some((t) => t.startsWith("rap://")));
 *   assert.ok(await setup.outsideUnchanged());
 * } finally {
 *   await setup.remove();
 * }
 * ```
 */
export interface FuzzSetup {
  /** The served directory (`--allow-read`). */
  dir: string;
  /** The writable directory inside it (`--allow-write`). */
  scratch: string;
  /** A temp dir outside the scope (the racers' link target). */
  outside: string;
  /** The fixture files in `scratch`, by name (kept small, see `resetFixtures`). */
  fixtures: Map<string, Uint8Array>;
  /** The checkers' file: path and bytes. */
  known: { path: string; bytes: Uint8Array };
  /** The hostile archives. */
  archives: ArchiveTarget[];
  /** The read race (`--allow-read` scope). */
  readRace: RaceSite;
  /** The write race (`--allow-write` scope). */
  writeRace: RaceSite;
  /** Byte strings that only exist outside the scope: a reply holding one is a leak. */
  markers: Uint8Array[];
  /**
   * The URIs fuzzing clients OPEN, including ones that must fail and the server's own
   * addresses (which must be refused).
   *
   * @param ports The server's RAP and HTTP ports.
   * @returns The URIs.
   */
  targets(ports: { rap: number; http: number }): string[];
  /** URIs that name the server's own listeners, directly or nested. */
  selfTargets(ports: { rap: number; http: number }): string[];
  /** Whether every file outside the scope still has its original bytes. */
  outsideUnchanged(): Promise<boolean>;
  /** Put fixtures back that writable opens grew or that a racer left missing. */
  resetFixtures(): Promise<void>;
  /** Remove every temp dir. */
  remove(): Promise<void>;
}

/** Options of {@linkcode makeFuzzSetup}. */
export interface FuzzSetupOptions {
  /** Bytes of zeros in each bomb stream (default 64 MiB; must exceed the session budget). */
  bombSize?: number;
  /**
   * Lengths the served and outside dirs' paths must have (a replay puts its own paths in
   * place of a run's inside recorded packets, whose lengths must not change).
   */
  pathLengths?: { dir: number; outside: number };
}

/** A new temp dir whose path has `length` characters (if given). */
async function tempDir(prefix: string, length?: number): Promise<string> {
  const made = await Deno.makeTempDir({ prefix });
  if (length === undefined || made.length === length) return made;
  await Deno.remove(made);
  const base = made.slice(0, made.lastIndexOf("/") + 1) + prefix;
  if (length <= base.length) throw new RangeError(`No temp dir path of ${length} characters`);
  for (;;) {
    const digits = Array.from(crypto.getRandomValues(new Uint8Array(length - base.length)))
      .map((b) => (b & 15).toString(16)).join("");
    try {
      await Deno.mkdir(base + digits);
      return base + digits;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
}

/** A gzip member around a raw deflate stream. */
function gzipMember(raw: Uint8Array, crc: number, isize: number): Uint8Array {
  const header = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc, true);
  view.setUint32(4, isize >>> 0, true);
  return concatBytes([header, raw, trailer]);
}

/** The hostile archives, written into `dir`. */
async function writeArchives(dir: string, bombSize: number): Promise<ArchiveTarget[]> {
  const bomb = await deflateZeros(bombSize);
  const small = await deflateZeros(64 * 1024);
  const mib = await deflateZeros(1 << 20);
  const okBytes = new TextEncoder().encode("a small honest member\n".repeat(8));
  const okCrc = crc32(okBytes);
  const files: Record<string, Uint8Array> = {
    // 8 entries sharing one local header and one stream (the measured bomb).
    "shared.zip": sharedStreamZip(bomb, 8),
    // Entry a's declared compressed size runs over entry b's header (a partial overlap).
    "chain.zip": buildZip([
      {
        name: "a.bin",
        data: small.data,
        size: small.size,
        crc32: small.crc32,
        compressedSize: small.data.length + 30 + 5 + small.data.length,
      },
      { name: "b.bin", data: small.data, size: small.size, crc32: small.crc32 },
    ]),
    // A declared size of 4 GiB - 2 over a 64 KiB stream, next to an honest stored member.
    "huge.zip": buildZip([
      { name: "big.bin", data: small.data, size: 0xfffffffe, crc32: 0 },
      { name: "ok.bin", data: okBytes, size: okBytes.length, crc32: okCrc, method: 0 },
    ]),
    // Declares 4 KiB, inflates to the whole bomb.
    "lying.zip": buildZip([
      { name: "small.bin", data: bomb.data, size: 4096, crc32: crc32OfZeros(4096) },
    ]),
    // One entry more than the cap.
    "many.zip": buildZip(
      Array.from({ length: 100_001 }, (_, i) => ({
        name: `e${i}`,
        data: new Uint8Array(0),
        size: 0,
        crc32: 0,
        method: 0,
      })),
    ),
    // Honest ones, within the budgets: they open, and their zeros are compared.
    "fine.zip": buildZip([{ name: "zeros.bin", data: mib.data, size: mib.size, crc32: mib.crc32 }]),
    "fine.gz": gzipMember(mib.data, mib.crc32, mib.size),
    "bomb.gz": gzipMember(bomb.data, bomb.crc32, bomb.size),
    // ISIZE says 1 KiB: only a hint, the budget runs while inflating.
    "isize.gz": gzipMember(bomb.data, bomb.crc32, 1024),
    // 16 members of the bomb, joined on inflating (gzip -d does so).
    "multi.gz": concatBytes(
      Array.from({ length: 16 }, () => gzipMember(bomb.data, bomb.crc32, bomb.size)),
    ),
  };
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
  const zeros = (size: number) => ({ fill: 0, size });
  return [
    { uri: `zipall://${dir}/shared.zip`, expect: undefined },
    { uri: `zip://${dir}/shared.zip//zeros3.bin`, expect: zeros(bombSize) },
    { uri: `zip://${dir}/chain.zip//a.bin`, expect: zeros(small.size) },
    { uri: `zip://${dir}/chain.zip::1`, expect: zeros(small.size) },
    { uri: `zipall://${dir}/chain.zip`, expect: undefined },
    { uri: `zip://${dir}/huge.zip//big.bin`, expect: zeros(small.size) },
    { uri: `zip://${dir}/huge.zip//ok.bin`, expect: { bytes: okBytes } },
    { uri: `zip://${dir}/lying.zip//small.bin`, expect: zeros(4096) },
    { uri: `zip://${dir}/many.zip::7`, expect: undefined },
    { uri: `zip://${dir}/fine.zip//zeros.bin`, expect: zeros(mib.size) },
    { uri: `gzip://${dir}/fine.gz`, expect: zeros(mib.size) },
    { uri: `gzip://${dir}/bomb.gz`, expect: zeros(bombSize) },
    { uri: `gzip://${dir}/isize.gz`, expect: zeros(bombSize) },
    { uri: `gzip://${dir}/multi.gz`, expect: zeros(16 * bombSize) },
  ];
}

/** A race site: `base/NAME/file` inside, `outside/NAME/file` outside (made of `marker`). */
async function raceSite(
  base: string,
  outside: string,
  name: string,
  file: string,
  marker: Uint8Array,
): Promise<RaceSite> {
  await Deno.mkdir(`${base}/${name}`);
  await Deno.mkdir(`${outside}/${name}`);
  const inside = new TextEncoder().encode(`INSIDE-${name} ${"i".repeat(4000)}\n`);
  await Deno.writeFile(`${base}/${name}/${file}`, inside);
  await Deno.writeFile(`${base}/${name}.expected`, inside);
  const outsideBytes = new Uint8Array(64 * 1024);
  for (let i = 0; i < outsideBytes.length; i += marker.length) outsideBytes.set(marker, i);
  await Deno.writeFile(`${outside}/${name}/${file}`, outsideBytes);
  await Deno.writeFile(`${outside}/${name}/fuzz.bin`, outsideBytes);
  await Deno.writeFile(`${base}/${name}/fuzz.bin`, inside);
  return {
    fuzzTarget: `${base}/${name}/fuzz.bin`,
    swapped: `${base}/${name}`,
    target: `${base}/${name}/${file}`,
    expected: `${base}/${name}.expected`,
    outsideDir: `${outside}/${name}`,
    outsideFile: `${outside}/${name}/${file}`,
  };
}

/**
 * Make the served tree in new temp dirs.
 *
 * @param seed Seed of the fixtures, the known file and the markers.
 * @param options Bomb size.
 * @returns The setup (the caller calls `remove()`).
 */
export async function makeFuzzSetup(
  seed: number,
  options: FuzzSetupOptions = {},
): Promise<FuzzSetup> {
  const dir = await tempDir("rap_fuzz_", options.pathLengths?.dir);
  const outside = await tempDir("rap_fuzz_outside_", options.pathLengths?.outside);
  const scratch = `${dir}/scratch`;
  const bombs = `${dir}/bombs`;
  await Deno.mkdir(scratch);
  await Deno.mkdir(bombs);
  const fixtures = await makeFixtures(seed);
  for (const [name, bytes] of fixtures) await Deno.writeFile(`${scratch}/${name}`, bytes);
  const known = new Random(seed ^ 0x5eed).bytes(KNOWN_SIZE);
  await Deno.writeFile(`${dir}/known.bin`, known);
  // 8 random bytes repeated: any read of 15 bytes or more of an outside file holds one.
  const marker = new Random(seed ^ 0x1eaf).bytes(8);
  const readRace = await raceSite(dir, outside, "race", "inside.bin", marker);
  const writeRace = await raceSite(scratch, outside, "wrace", "victim.bin", marker);
  // Every file outside, and the listing of the outside tree (nothing may be created there).
  const originals = new Map<string, Uint8Array>();
  for (const site of [readRace, writeRace]) {
    for (const file of [site.outsideFile, `${site.outsideDir}/fuzz.bin`]) {
      originals.set(file, await Deno.readFile(file));
    }
  }
  const listing = async () => {
    const names: string[] = [];
    for (const site of [readRace, writeRace]) {
      for await (const e of Deno.readDir(site.outsideDir)) {
        names.push(`${site.outsideDir}/${e.name}`);
      }
    }
    for await (const e of Deno.readDir(outside)) names.push(e.name);
    return names.sort().join("\n");
  };
  const listed = await listing();
  const markers = [marker];
  const passwd = await Deno.readFile("/etc/passwd").catch(() => undefined);
  if (passwd && passwd.length >= 16) markers.push(passwd.slice(0, 16));
  const archives = await writeArchives(bombs, options.bombSize ?? 64 * 1024 * 1024);

  const selfTargets = ({ rap, http }: { rap: number; http: number }) => [
    `rap://127.0.0.1:${rap}//malloc://16`,
    `rap://localhost:${rap}/rap://127.0.0.1:${rap}//${dir}/known.bin`,
    `rap://127.0.0.1:${rap}/rap://localhost:${rap}/rap://0.0.0.0:${rap}//malloc://16`,
    `rap://0.0.0.0:${rap}//malloc://16`,
    `rap://127.1:${rap}//malloc://16`,
    `rap://[::ffff:127.0.0.1]:${rap}//malloc://16`,
    `rap://127.0.0.2:${rap}//malloc://16`,
    `raps://127.0.0.1:${rap}//malloc://16`,
    `rap://127.0.0.1:${http}//malloc://16`,
    `rap://localhost:${http}/`,
    `tcp://127.0.0.1:${rap}`,
    `tcp://0.0.0.0:${http}`,
    `http://127.0.0.1:${http}/cmd/p8%2016`,
    `http://localhost:${http}/cmd/`,
  ];
  const good = [
    `${scratch}/sample.bin`,
    `file://${scratch}/sample.bin`,
    `${dir}/known.bin`,
    `gzip://${scratch}/sample.gz`,
    `gzip://${scratch}/sample.zlib`,
    `zip://${scratch}/sample.zip//a.txt`,
    `zip://${scratch}/sample.zip::1`,
    `ar://${scratch}/sample.a//m.o`,
    `ar://${scratch}/sample.a//a_long_member_name.o`,
    `ihex://${scratch}/sample.hex`,
    `srec://${scratch}/sample.srec`,
    "malloc://4096",
    "malloc://65536",
    "hex://00112233445566778899aabbccddeeff",
    "null://4096",
    "sparse://65536",
    "cyclic://8192",
    readRace.target,
    readRace.fuzzTarget,
    writeRace.fuzzTarget,
  ];
  return {
    dir,
    scratch,
    outside,
    fixtures,
    known: { path: `${dir}/known.bin`, bytes: known },
    archives,
    readRace,
    writeRace,
    markers,
    selfTargets,
    // Openable targets three times as often as ones that must fail.
    targets: (ports) => [
      ...good,
      ...good,
      ...good,
      ...archives.map((a) => a.uri),
      ...selfTargets(ports),
      "/etc/passwd",
      `${dir}/../outside`,
      `${dir}/../${outside.split("/").pop()}/race/inside.bin`,
      readRace.outsideFile,
      `file://${writeRace.outsideFile}`,
      "nosuch://x",
      "",
    ],
    async outsideUnchanged() {
      if (await listing().catch(() => "") !== listed) return false;
      for (const [path, bytes] of originals) {
        const now = await Deno.readFile(path).catch(() => undefined);
        if (!now || now.length !== bytes.length || now.some((b, i) => b !== bytes[i])) {
          return false;
        }
      }
      return true;
    },
    async resetFixtures() {
      for (const [name, bytes] of fixtures) {
        const path = `${scratch}/${name}`;
        const size = await Deno.stat(path).then((s) => s.size, () => -1);
        if (size < 0 || size > 4 * 1024 * 1024) {
          await Deno.writeFile(`${path}.reset`, bytes);
          await Deno.rename(`${path}.reset`, path);
        }
      }
    },
    async remove() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(outside, { recursive: true }).catch(() => {});
    },
  };
}

/** The hosts the server may connect to: loopback spellings, so self-dialing is judged. */
export const FUZZ_ALLOW_NET = "127.0.0.1,localhost,0.0.0.0,127.0.0.2,127.1,[::ffff:127.0.0.1]";

/**
 * Start `cli.ts serve` the way the fuzz does: RAP and HTTP on 127.0.0.1 port 0, reading the
 * served dir, writing its scratch dir, low memory budgets and `ulimit -n`.
 *
 * @param setup The served tree.
 * @param options File limit, connection allowance, `--packet-timeout`, log hook.
 * @returns The process.
 */
export function startFuzzServe(
  setup: FuzzSetup,
  options: {
    fileLimit: number;
    connections: number;
    packetTimeout: number;
    onLog?: (line: string) => void;
  },
): Promise<ServeProcess> {
  return startServe({
    flags: [
      `--allow-net=${FUZZ_ALLOW_NET}`,
      `--allow-read=${setup.dir}`,
      `--allow-write=${setup.scratch}`,
    ],
    args: [
      "-w",
      "malloc://65536",
      "--http-port",
      "0",
      ...connectionLimitArgs(options.connections),
      "--max-session-memory",
      "32M",
      "--max-memory",
      "128M",
      "--packet-timeout",
      String(options.packetTimeout),
    ],
    fileLimit: options.fileLimit,
    onLog: options.onLog,
    keepLines: 400,
  });
}
