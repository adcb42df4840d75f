/**
 * Fuzz a live `cli.ts serve` subprocess: many connections send recorded, random and mutated
 * RAP packets while a well-behaved {@linkcode RapClient} keeps reading a known file and
 * checking every byte. Reports crashes (the process exited), hangs (a connection that
 * neither answers nor closes in time, or the good client stalling), wrong bytes, replies
 * that do not decode, internal errors in the server log, and the server's memory.
 *
 * @module
 */

import { PacketDecoder, RapClient } from "../mod.ts";
import { makeFixtures } from "./_fixtures.ts";
import { buildStream, recordedRequests } from "./_mutate.ts";
import { Random } from "./_random.ts";
import { connectionLimitArgs, type ServeProcess, startServe } from "./_serve_process.ts";

/**
 * Options of {@linkcode fuzzServer}.
 *
 * @example
 * ```ts
 * import type { ServerFuzzOptions } from "./_fuzz_server.ts";
 * const options: ServerFuzzOptions = { seed: 1, packets: 10_000 };
 * console.assert(options.packets === 10_000);
 * ```
 */
export interface ServerFuzzOptions {
  /** Seed of every random choice. */
  seed: number;
  /** Stop once the server has handled this many packets (see `packetsHandled`). */
  packets: number;
  /** Stop after this many seconds even if fewer packets were sent (default: no limit). */
  seconds?: number;
  /** Fuzzing connections open at once (default 32). */
  concurrency?: number;
  /** Packets per connection: a random count up to this (default 600). */
  maxPacketsPerConnection?: number;
  /** Probability that a packet is mutated (default: varies per connection, 0.002 to 0.2). */
  mutationRate?: number;
  /** A connection that neither answers nor closes for this long is a hang (default 15000 ms). */
  hangMs?: number;
  /** A good-client read slower than this is a stall (default 15000 ms). */
  stallMs?: number;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

/**
 * What {@linkcode fuzzServer} found.
 *
 * @example
 * ```ts
 * import type { ServerFuzzReport } from "./_fuzz_server.ts";
 * const ok = (r: ServerFuzzReport) => r.crashes.length === 0 && r.hangs === 0;
 * console.assert(typeof ok === "function");
 * ```
 */
export interface ServerFuzzReport {
  /** The seed. */
  seed: number;
  /**
   * Packets the server consumed: on each connection, as many of the stream's packets as it
   * answered, plus the one that made it close the connection (if it did). Packets written
   * after that fatal packet sat in the socket buffer unread and are not counted.
   */
  packetsHandled: number;
  /** Of those, mutated or garbage ones. */
  mutatedHandled: number;
  /** Packets whose bytes the socket accepted (handled or not). */
  packetsWritten: number;
  /** Replies received (every one decoded as a well-formed RAP reply). */
  replies: number;
  /** Connections the server closed before the end of their stream. */
  closedEarly: number;
  /** Bytes the server's socket accepted. */
  bytesSent: number;
  /** Fuzzing connections made. */
  connections: number;
  /** Reply bytes received on fuzzing connections. */
  bytesReceived: number;
  /** Times the server process exited (it is restarted after each). */
  crashes: { code: number; signal: string | null; log: string }[];
  /** Connections that neither answered nor closed within the deadline. */
  hangs: number;
  /** The first bytes (hex) of a few hanging streams, to reproduce. */
  hangSamples: string[];
  /** Fuzzing connections whose replies did not decode as RAP replies. */
  badReplies: number;
  /** Messages of the first undecodable replies. */
  badReplySamples: string[];
  /** Server log lines saying a connection ended on an internal (non-protocol) error. */
  internalErrors: number;
  /** The first such lines, each with the hex of the stream that caused it. */
  internalErrorSamples: { line: string; stream: string }[];
  /** How fuzzing connections ended, per server log reason (numbers and quotes stripped). */
  closeReasons: Record<string, number>;
  /** Reads the good client made and checked. */
  goodReads: number;
  /** Bytes the good client checked. */
  goodBytes: number;
  /** Good-client reads that returned wrong bytes. */
  wrongBytes: number;
  /** Good-client reads that failed or stalled. */
  goodErrors: number;
  /** Their messages (first few). */
  goodErrorSamples: string[];
  /** The slowest good-client read, ms. */
  goodMaxLatencyMs: number;
  /** Server RSS after start-up, bytes. */
  rssStart: number | undefined;
  /** Server RSS at the end, bytes. */
  rssEnd: number | undefined;
  /** Server peak RSS (VmHWM), bytes. */
  rssPeak: number | undefined;
  /** Wall time, seconds. */
  seconds: number;
}

const KNOWN_SIZE = 1 << 20;

function hex(bytes: Uint8Array, max = 256): string {
  return Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join("") +
    (bytes.length > max ? `... (${bytes.length} bytes)` : "");
}

function reasonKey(line: string, dir: string): string | undefined {
  const m = /^\[rap\] [\d.:]+: (closed.*|disconnected)$/.exec(line);
  if (!m) return undefined;
  return m[1]
    .replaceAll(dir, "DIR")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/0x[0-9a-f]+/gi, "N")
    .replace(/\d+/g, "N")
    .slice(0, 110);
}

/**
 * Run the server fuzz.
 *
 * @param options Seed, budget and limits.
 * @returns The findings.
 *
 * @example
 * ```ts
 * import { fuzzServer } from "./_fuzz_server.ts";
 * import assert from "node:assert/strict";
 *
 * const report = await fuzzServer({ seed: 1, packets: 2000, concurrency: 4 });
 * assert.equal(report.crashes.length, 0);
 * assert.ok(report.packetsHandled >= 2000);
 * ```
 */
export async function fuzzServer(options: ServerFuzzOptions): Promise<ServerFuzzReport> {
  const started = performance.now();
  const concurrency = options.concurrency ?? 32;
  const hangMs = options.hangMs ?? 15_000;
  const stallMs = options.stallMs ?? 15_000;
  const maxPer = options.maxPacketsPerConnection ?? 600;
  const deadline = options.seconds === undefined ? Infinity : started + options.seconds * 1000;

  const dir = await Deno.makeTempDir({ prefix: "rap_fuzz_" });
  const scratch = `${dir}/scratch`;
  await Deno.mkdir(scratch);
  const fixtures = await makeFixtures(options.seed);
  for (const [name, bytes] of fixtures) await Deno.writeFile(`${scratch}/${name}`, bytes);
  const known = new Random(options.seed ^ 0x5eed).bytes(KNOWN_SIZE);
  await Deno.writeFile(`${dir}/known.bin`, known);
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
  ];
  // Openable targets three times as often as ones that must fail.
  const targets = [
    ...good,
    ...good,
    ...good,
    "/etc/passwd",
    `${dir}/../outside`,
    "nosuch://x",
    "",
  ];

  const report: ServerFuzzReport = {
    seed: options.seed,
    packetsHandled: 0,
    mutatedHandled: 0,
    packetsWritten: 0,
    replies: 0,
    closedEarly: 0,
    bytesSent: 0,
    connections: 0,
    bytesReceived: 0,
    crashes: [],
    hangs: 0,
    hangSamples: [],
    badReplies: 0,
    badReplySamples: [],
    internalErrors: 0,
    internalErrorSamples: [],
    closeReasons: {},
    goodReads: 0,
    goodBytes: 0,
    wrongBytes: 0,
    goodErrors: 0,
    goodErrorSamples: [],
    goodMaxLatencyMs: 0,
    rssStart: undefined,
    rssEnd: undefined,
    rssPeak: undefined,
    seconds: 0,
  };
  /** Recent streams by the fuzzing connection's local port (the server logs the peer). */
  const recent = new Map<number, Uint8Array>();
  const onLog = (line: string) => {
    if (line.includes("internal error")) {
      report.internalErrors++;
      const port = Number(/^\[rap\] [\d.]+:(\d+):/.exec(line)?.[1]);
      const stream = recent.get(port);
      if (report.internalErrorSamples.length < 10) {
        report.internalErrorSamples.push({
          line,
          stream: stream ? hex(stream, 1 << 20) : "(not found)",
        });
      }
    }
    const key = reasonKey(line, dir);
    if (key) report.closeReasons[key] = (report.closeReasons[key] ?? 0) + 1;
  };
  const start = () =>
    startServe({
      flags: [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${scratch}`,
      ],
      args: [
        "-w",
        "malloc://65536",
        ...connectionLimitArgs(concurrency * 4 + 64),
      ],
      onLog,
    });

  let server: ServeProcess = await start();
  report.rssStart = await server.rss();
  let stopping = false;
  let restarting: Promise<void> | undefined;
  const done = () =>
    stopping || report.packetsHandled >= options.packets || performance.now() > deadline ||
    report.crashes.length >= 5;

  const restartIfDead = async () => {
    if (!server.exited) return;
    restarting ??= (async () => {
      const old = server;
      const status = await old.status;
      report.crashes.push({ code: status.code, signal: status.signal, log: old.log.slice(-4000) });
      await old.stop("SIGKILL", 1000);
      if (!done()) server = await start();
      restarting = undefined;
    })();
    await restarting;
  };

  // Keep fixture files small: writable opens of gzip/ihex rewrite them on close.
  const resetFixtures = async () => {
    for (const [name, bytes] of fixtures) {
      const path = `${scratch}/${name}`;
      const size = await Deno.stat(path).then((s) => s.size, () => -1);
      if (size < 0 || size > 4 * 1024 * 1024) {
        await Deno.writeFile(`${path}.reset`, bytes);
        await Deno.rename(`${path}.reset`, path);
      }
    }
  };

  const fuzzConnection = async (worker: Random) => {
    const count = 1 + worker.int(maxPer);
    const rate = options.mutationRate ?? worker.pick([0.002, 0.01, 0.03, 0.1, 0.2]);
    const stream = buildStream(worker, corpus, targets, count, rate);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    } catch {
      await restartIfDead();
      return;
    }
    report.connections++;
    recent.set((conn.localAddr as Deno.NetAddr).port, stream.bytes);
    if (recent.size > 4 * concurrency + 256) recent.delete(recent.keys().next().value!);
    let closed = false;
    let hung = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* closed */ }
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        close();
      }, hangMs);
    };
    arm();
    const decoder = new PacketDecoder({ role: "client", maxCommandReply: 16 * 1024 * 1024 });
    let badReply: string | undefined;
    let replies = 0;
    const reading = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          return;
        }
        if (n === null) {
          try {
            decoder.finish();
          } catch (error) {
            badReply ??= (error as Error).message;
          }
          return;
        }
        arm();
        report.bytesReceived += n;
        if (badReply === undefined) {
          try {
            decoder.push(buf.slice(0, n));
            while (decoder.next() !== undefined) replies++;
          } catch (error) {
            badReply = (error as Error).message;
          }
        }
      }
    })();
    let accepted = 0;
    try {
      const bytes = stream.bytes;
      const split = worker.chance(0.15);
      while (accepted < bytes.length) {
        const end = split ? Math.min(bytes.length, accepted + 1 + worker.int(64)) : bytes.length;
        accepted += await conn.write(bytes.subarray(accepted, end));
        arm();
      }
      await conn.closeWrite();
    } catch {
      // The server closed the connection (expected after a fatal packet).
    }
    await reading;
    close();
    let written = 0;
    while (written < stream.ends.length && stream.ends[written] <= accepted) written++;
    const early = replies < stream.ends.length;
    const handled = Math.min(written, early ? replies + 1 : stream.ends.length);
    report.packetsWritten += written;
    report.packetsHandled += handled;
    report.mutatedHandled += stream.mutated.filter((i) => i < handled).length;
    report.replies += replies;
    if (early) report.closedEarly++;
    report.bytesSent += accepted;
    if (hung) {
      report.hangs++;
      if (report.hangSamples.length < 5) report.hangSamples.push(hex(stream.bytes, 4096));
    }
    if (badReply !== undefined) {
      report.badReplies++;
      if (report.badReplySamples.length < 5) report.badReplySamples.push(badReply);
    }
  };

  const corpus = await recordedRequests();

  const checkedClient = async () => {
    const rng = new Random(options.seed ^ 0x600d);
    let client: RapClient | undefined;
    while (!done()) {
      try {
        if (client === undefined) {
          client = await RapClient.connect({
            hostname: "127.0.0.1",
            port: server.port,
            timeout: stallMs,
          });
          await client.open(`${dir}/known.bin`, 4);
        }
        const offset = rng.int(KNOWN_SIZE);
        const length = 1 + rng.int(rng.chance(0.9) ? 4096 : 16384);
        const t0 = performance.now();
        const data = await client.read(offset, length);
        const ms = performance.now() - t0;
        report.goodMaxLatencyMs = Math.max(report.goodMaxLatencyMs, ms);
        report.goodReads++;
        report.goodBytes += length;
        const end = Math.min(KNOWN_SIZE, offset + length);
        let ok = data.length === length;
        for (let i = offset; ok && i < end; i++) ok = data[i - offset] === known[i];
        for (let i = end; ok && i < offset + length; i++) ok = data[i - offset] === 0xff;
        if (!ok) report.wrongBytes++;
      } catch (error) {
        report.goodErrors++;
        if (report.goodErrorSamples.length < 5) {
          report.goodErrorSamples.push((error as Error).message);
        }
        await client?.close().catch(() => {});
        client = undefined;
        await restartIfDead();
      }
    }
    await client?.close().catch(() => {});
  };

  const monitor = async () => {
    let last = performance.now();
    let connectionsAtReset = 0;
    while (!done()) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await restartIfDead();
      const peak = await server.peakRss();
      if (peak !== undefined) report.rssPeak = Math.max(report.rssPeak ?? 0, peak);
      if (report.connections - connectionsAtReset > 500) {
        connectionsAtReset = report.connections;
        await resetFixtures();
      }
      if (options.progress && performance.now() - last > 5000) {
        last = performance.now();
        const rss = await server.rss();
        options.progress(
          `${report.packetsHandled} packets handled, ${report.connections} connections, ` +
            `${report.crashes.length} crashes, ${report.hangs} hangs, ` +
            `${report.goodReads} good reads, rss ${((rss ?? 0) / 1048576).toFixed(1)} MiB`,
        );
      }
    }
  };

  const workers = Array.from({ length: concurrency }, async (_, i) => {
    const worker = new Random(options.seed * 1000 + i + 1);
    while (!done()) await fuzzConnection(worker);
  });
  const checker = checkedClient();
  const watch = monitor();
  try {
    await Promise.all(workers);
  } finally {
    stopping = true;
    await checker;
    await watch;
    await restartIfDead();
    report.rssEnd = await server.rss();
    const peak = await server.peakRss();
    if (peak !== undefined) report.rssPeak = Math.max(report.rssPeak ?? 0, peak);
    const { status } = await server.stop("SIGTERM", 10_000);
    if (status.code !== 0) {
      report.crashes.push({
        code: status.code,
        signal: status.signal,
        log: `exit at shutdown\n${server.log.slice(-2000)}`,
      });
    }
    await Deno.remove(dir, { recursive: true });
    report.seconds = (performance.now() - started) / 1000;
  }
  return report;
}
