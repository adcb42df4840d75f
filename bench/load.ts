/**
 * `deno task load`: hold many concurrent RAP connections doing random reads against a
 * `cli.ts serve malloc://64M` subprocess for a fixed time, then report operations per
 * second, latency percentiles, errors (which must be 0) and the server's memory.
 *
 * ```sh
 * deno run -A bench/load.ts [--connections 1000] [--seconds 10] [--max-read 4096] [--json]
 * ```
 *
 * Each connection has one read in flight at a time: a SEEK and a READ of 1 to `--max-read`
 * bytes at a random offset (a read over 4096 bytes is split and pipelined by RapClient), and
 * every byte is checked (malloc:// is zero-filled). `--uri file` serves a 64 MiB file of
 * zeros instead (the server opens the default URI once and shares it between sessions).
 * The server is started with
 * `--max-connections`, `--max-per-address` and `--max-pending` above the connection count
 * (every client comes from 127.0.0.1 and connects before it reads), through
 * `bash -c 'ulimit -n ...'` so its open file limit is high enough; the limits both
 * processes got are printed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RapClient } from "../lib/client/client.ts";
import { Random } from "../tests/_random.ts";
import { connectionLimitArgs, mib, startServe } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno run -A bench/load.ts [options]

  --connections N   concurrent connections (default 1000)
  --seconds S       how long to run the reads (default 10)
  --max-read N      largest read in bytes (default 4096)
  --uri URI         what the server serves (default malloc://64M; "file" serves a 64 MiB
                    file of zeros made in a temp dir)
  --seed N          seed of the offsets and lengths (default 1)
  --json            print the report as JSON
`;

/**
 * What a load run measured.
 *
 * @example
 * ```ts
 * import type { LoadReport } from "./load.ts";
 * const ok = (r: LoadReport) => r.errors === 0;
 * console.assert(typeof ok === "function");
 * ```
 */
export interface LoadReport {
  /** The command that reproduces the run. */
  command: string;
  /** Connections held open. */
  connections: number;
  /** Seconds of reading (after all connections were up). */
  seconds: number;
  /** Reads completed. */
  ops: number;
  /** Reads per second. */
  opsPerSecond: number;
  /** Payload bytes read per second. */
  bytesPerSecond: number;
  /** Latency percentiles of one read, ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Failed reads, wrong bytes and failed connects. */
  errors: number;
  /** The first error messages. */
  errorSamples: string[];
  /** How long connecting every client took, ms. */
  connectMs: number;
  /** Server RSS: after start, with every connection open, at the end, and its peak. */
  rss: { start?: number; connected?: number; end?: number; peak?: number };
  /** Open file limits of the server and of this process. */
  fileLimits: { server?: number; client?: number };
  /** Whether the server exited 0 on SIGTERM at the end. */
  cleanExit: boolean;
}

async function ownFileLimit(): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile("/proc/self/limits");
    return Number(/^Max open files\s+(\d+)/m.exec(text)?.[1]);
  } catch {
    return undefined;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Run the load.
 *
 * @param options Connections, duration, largest read, URI and seed.
 * @returns The measurements.
 *
 * @example
 * ```ts
 * import { runLoad } from "./load.ts";
 * import assert from "node:assert/strict";
 *
 * const report = await runLoad({ connections: 4, seconds: 0.2 });
 * assert.equal(report.errors, 0);
 * assert.ok(report.ops > 0);
 * ```
 */
export async function runLoad(options: {
  connections: number;
  seconds: number;
  maxRead?: number;
  uri?: string;
  seed?: number;
}): Promise<LoadReport> {
  const { connections, seconds } = options;
  const maxRead = options.maxRead ?? 4096;
  let uri = options.uri ?? "malloc://64M";
  // "file": a 64 MiB file of zeros in a temp dir (each session opens a file descriptor,
  // where malloc://64M gives each session its own 64 MiB buffer).
  const tempDir = uri === "file" ? await Deno.makeTempDir({ prefix: "rap_load_" }) : undefined;
  if (tempDir) {
    uri = `${tempDir}/zeros.bin`;
    await Deno.writeFile(uri, new Uint8Array(0));
    await Deno.truncate(uri, 64 * 1024 * 1024);
  }
  const zeros = uri.startsWith("malloc://") || tempDir !== undefined;
  const seed = options.seed ?? 1;
  const fileLimit = Math.max(65536, connections * 2 + 256);
  const server = await startServe({
    flags: ["--allow-net=127.0.0.1", "--allow-read"],
    // Every client comes from 127.0.0.1 and connects before its first request.
    args: [
      uri,
      ...connectionLimitArgs(connections + 64),
      ...(tempDir ? ["--read-only"] : []),
    ],
    fileLimit,
  });
  const report: LoadReport = {
    command: `deno run -A bench/load.ts --connections ${connections} --seconds ${seconds}` +
      (maxRead !== 4096 ? ` --max-read ${maxRead}` : "") +
      (options.uri !== undefined && options.uri !== "malloc://64M" ? ` --uri ${options.uri}` : ""),
    connections,
    seconds: 0,
    ops: 0,
    opsPerSecond: 0,
    bytesPerSecond: 0,
    latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 },
    errors: 0,
    errorSamples: [],
    connectMs: 0,
    rss: { start: await server.rss() },
    fileLimits: { server: await server.fileLimit(), client: await ownFileLimit() },
    cleanExit: false,
  };
  const fail = (error: unknown) => {
    report.errors++;
    if (report.errorSamples.length < 10) {
      report.errorSamples.push(String((error as Error)?.message ?? error));
    }
  };
  const clients: RapClient[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < connections; i += 100) {
      const batch = await Promise.allSettled(
        Array.from(
          { length: Math.min(100, connections - i) },
          () => RapClient.connect({ hostname: "127.0.0.1", port: server.port, timeout: 30_000 }),
        ),
      );
      for (const result of batch) {
        if (result.status === "fulfilled") clients.push(result.value);
        else fail(result.reason);
      }
    }
    // One read each opens the session's default URI before the clock starts.
    await Promise.all(clients.map((c) => c.read(0, 1).catch(fail)));
    report.connectMs = performance.now() - t0;
    report.rss.connected = await server.rss();
    const size = Number(await clients[0]?.size().catch(() => 1n) ?? 1n);

    const latencies: number[] = [];
    let bytes = 0;
    const started = performance.now();
    const end = started + seconds * 1000;
    await Promise.all(clients.map(async (client, i) => {
      const random = new Random(seed * 100_003 + i);
      while (performance.now() < end) {
        const length = 1 + random.int(maxRead);
        const offset = random.int(Math.max(1, size - length));
        const a = performance.now();
        try {
          const data = await client.read(offset, length);
          latencies.push(performance.now() - a);
          bytes += length;
          if (
            data.length !== length || (zeros && data.some((b) => b !== 0))
          ) {
            fail(new Error(`wrong bytes at 0x${offset.toString(16)}`));
          }
        } catch (error) {
          fail(error);
          return;
        }
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    const sorted = Float64Array.from(latencies).sort();
    report.seconds = elapsed;
    report.ops = latencies.length;
    report.opsPerSecond = latencies.length / elapsed;
    report.bytesPerSecond = bytes / elapsed;
    report.latencyMs = {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
    };
    report.rss.end = await server.rss();
    report.rss.peak = await server.peakRss();
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    const { status } = await server.stop("SIGTERM", 15_000);
    report.cleanExit = status.success;
    if (tempDir) await Deno.remove(tempDir, { recursive: true });
  }
  return report;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        connections: { type: "string" },
        seconds: { type: "string" },
        "max-read": { type: "string" },
        uri: { type: "string" },
        seed: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`load: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const connections = Number(values.connections ?? 1000);
  const seconds = Number(values.seconds ?? 10);
  const maxRead = Number(values["max-read"] ?? 4096);
  const seed = Number(values.seed ?? 1);
  if (
    !Number.isInteger(connections) || connections < 1 || !(seconds > 0) ||
    !Number.isInteger(maxRead) || maxRead < 1 || !Number.isFinite(seed)
  ) {
    console.error(`load: bad option value\n\n${USAGE}`);
    return 2;
  }
  const r = await runLoad({ connections, seconds, maxRead, uri: values.uri, seed });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
  } else {
    const rows: [string, string][] = [
      ["command", `\`${r.command}\``],
      ["connections", `${r.connections} (all connected in ${r.connectMs.toFixed(0)} ms)`],
      ["reads", `${r.ops} in ${r.seconds.toFixed(1)} s`],
      ["reads per second", r.opsPerSecond.toFixed(0)],
      ["throughput", `${mib(r.bytesPerSecond)}/s`],
      [
        "latency p50 / p90 / p99 / max",
        `${r.latencyMs.p50.toFixed(1)} / ${r.latencyMs.p90.toFixed(1)} / ` +
        `${r.latencyMs.p99.toFixed(1)} / ${r.latencyMs.max.toFixed(1)} ms`,
      ],
      ["errors", String(r.errors)],
      [
        "server RSS start / connected / end / peak",
        `${mib(r.rss.start)} / ${mib(r.rss.connected)} / ${mib(r.rss.end)} / ${mib(r.rss.peak)}`,
      ],
      ["open file limit server / client", `${r.fileLimits.server} / ${r.fileLimits.client}`],
      ["server exit on SIGTERM", r.cleanExit ? "0" : "not clean"],
    ];
    console.log("| | |\n|---|---|");
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
    for (const s of r.errorSamples) console.log(`error: ${s}`);
  }
  return r.errors === 0 && r.cleanExit ? 0 : 1;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
