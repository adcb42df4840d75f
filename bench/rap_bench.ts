/**
 * `deno task bench`: RAP speed on loopback, in one run, against real baselines.
 *
 * ```sh
 * deno task bench                 # 256 MiB, about a minute
 * deno task bench --size 64M      # the 64 MiB run of issue 2
 * deno task bench --quick         # 16 MiB and short timed runs, a few seconds
 * deno run -A bench/rap_bench.ts --help
 * ```
 *
 * The server is a separate process (`deno run cli.ts serve --port 0`), so client and server
 * do not share an event loop and its memory is read from `/proc/PID/status`. With
 * `taskset` and two CPUs or more, the server (and each baseline server) runs on CPU 0 and
 * this process on CPU 1; `--no-pin` leaves the placement to the scheduler.
 *
 * It measures: sequential reads of the whole size from `malloc://` (radare2's lock-step,
 * one SEEK+READ pair at a time, pipelined plain RAP, the extensions) against a bare Deno TCP
 * stream of the same bytes (the ceiling); random 4 KiB reads at queue depth 1 and 32;
 * 200 concurrent clients doing random reads, with the server's RSS sampled throughout.
 * Every read is checked against the data written. Figures are printed; nothing is asserted.
 * The clients here run inside this process, with no start-up: nbdcopy, a process of its own,
 * is compared with whole `rap cat` processes in `bench/cat_bench.ts` (`deno task bench:cat`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RapClient } from "../lib/client/client.ts";
import { Perm } from "../lib/protocol/constants.ts";
import {
  type Child,
  describeMachine,
  formatBytes,
  hasCommand,
  markdownTable,
  median,
  parseSize,
  pinSelf,
  rssBytes,
  Samples,
  spawnChild,
} from "./_bench_support.ts";
import { connectionLimitArgs } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno task bench [options]
       deno run -A bench/rap_bench.ts [options]

  --size SIZE      bytes read sequentially (default 256M; --quick: 16M)
  --quick          small sizes and short timed runs
  --seconds S      length of each timed random-read run (default 3; --quick: 0.5)
  --clients N      concurrent clients of the many-clients run (default 200)
  --runs N         timed repetitions of each sequential read, median shown (default 3)
  --no-pin         do not pin the server to CPU 0 and the client to CPU 1
  --json           print the results as JSON after the table
  -h, --help       this help

nbdcopy is compared with whole rap cat processes by deno task bench:cat.
`;

const ROOT = new URL("../", import.meta.url);
const CLI = new URL("cli.ts", ROOT).pathname;
const RAW_SENDER = new URL("bench/_raw_tcp_sender.ts", ROOT).pathname;
const BLOCK = 4096;

/** One line of the result table. */
interface Row {
  name: string;
  /** Bytes moved or operations done. */
  amount: string;
  /** MB/s (10^6 bytes per second) for throughput rows. */
  mbps?: number;
  /** Operations per second for operation rows. */
  ops?: number;
  p50?: number;
  p99?: number;
  /** Free text (RSS, notes). */
  note?: string;
}

/** A tiny seeded generator (xorshift32) for offsets. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function pattern(size: number): Uint8Array {
  const data = new Uint8Array(size);
  const block = new Uint8Array(65536);
  for (let at = 0; at < size; at += block.length) {
    crypto.getRandomValues(block);
    data.set(block.subarray(0, Math.min(block.length, size - at)), at);
  }
  return data;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const words = Math.floor(a.length / 8);
  if (a.byteOffset % 8 === 0 && b.byteOffset % 8 === 0) {
    const x = new BigUint64Array(a.buffer, a.byteOffset, words);
    const y = new BigUint64Array(b.buffer, b.byteOffset, words);
    for (let i = 0; i < words; i++) if (x[i] !== y[i]) return false;
    for (let i = words * 8; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`${what}: the bytes read differ from the bytes written`);
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** Time `fn` `runs` times after one warm-up; the median duration in ms. */
async function timed(runs: number, fn: () => Promise<void>, warm?: () => Promise<void>) {
  await (warm ?? fn)();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Random 4 KiB reads by `depth` concurrent callers for `seconds`. */
async function randomReads(
  client: RapClient,
  size: number,
  depth: number,
  seconds: number,
  data: Uint8Array,
): Promise<{ ops: number; samples: Samples; ms: number }> {
  const samples = new Samples();
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let ops = 0;
  const worker = async (seed: number) => {
    const next = random(seed);
    const into = new Uint8Array(BLOCK);
    while (performance.now() < end) {
      const offset = Math.floor(next() * (size - BLOCK));
      const t0 = performance.now();
      await client.readInto(offset, into);
      samples.add(performance.now() - t0);
      ops++;
      if (into[0] !== data[offset] || into[BLOCK - 1] !== data[offset + BLOCK - 1]) {
        check(false, "random read");
      }
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, i) => worker(i + 1)));
  return { ops, samples, ms: performance.now() - start };
}

async function rawTcpRead(port: number, into: Uint8Array, runs: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  try {
    const request = new Uint8Array(8);
    new DataView(request.buffer).setBigUint64(0, BigInt(into.length));
    return await timed(runs, async () => {
      await conn.write(request);
      let at = 0;
      while (at < into.length) {
        const n = await conn.read(into.subarray(at));
        if (n === null) throw new Error("the raw TCP sender closed early");
        at += n;
      }
    });
  } finally {
    conn.close();
  }
}

/** What one many-clients run measured. */
interface ManyResult {
  row: Row;
  /** Server RSS samples (bytes) during the measured part, every 100 ms. */
  rss: number[];
  /** RSS after the warm-up, before the measured part. */
  rssStart: number;
  readBytes: number;
}

/**
 * `count` clients, each with its own connection and one random 4 KiB read in flight,
 * for a two-second warm-up and then `seconds`, sampling the server's RSS.
 */
async function manyClients(
  port: number,
  serverPid: number,
  source: { name: string; uri: string; size: number; expect: (offset: number) => number },
  count: number,
  seconds: number,
): Promise<ManyResult> {
  const clients = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = await RapClient.connect({ hostname: "127.0.0.1", port, extensions: true });
      await client.open(source.uri, Perm.R);
      return client;
    }),
  );
  try {
    const samples = new Samples();
    let ops = 0;
    let measuring = false;
    let stop = false;
    const load = Promise.all(clients.map(async (client, i) => {
      const next = random(1000 + i);
      const into = new Uint8Array(BLOCK);
      while (!stop) {
        const offset = Math.floor(next() * (source.size - BLOCK));
        const t0 = performance.now();
        await client.readInto(offset, into);
        if (measuring) {
          samples.add(performance.now() - t0);
          ops++;
        }
        if (
          into[0] !== source.expect(offset) || into[BLOCK - 1] !== source.expect(offset + BLOCK - 1)
        ) {
          check(false, `${count}-client read`);
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 2000)); // warm-up
    const rssStart = (await rssBytes(serverPid)) ?? 0;
    measuring = true;
    const start = performance.now();
    const rss: number[] = [];
    while (performance.now() - start < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 100));
      const value = await rssBytes(serverPid);
      if (value !== undefined) rss.push(value);
    }
    measuring = false;
    const ms = performance.now() - start;
    stop = true;
    await load;
    const q = (f: number) => rss[Math.min(rss.length - 1, Math.floor(f * (rss.length - 1)))];
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    return {
      row: {
        name: `${count} clients (${source.name}), random 4 KiB reads (extended), 1 in flight each`,
        amount: `${ops} ops`,
        ops: ops / (ms / 1000),
        p50: samples.percentile(50),
        p99: samples.percentile(99),
        note: `server RSS MiB: ${mib(rssStart)} after warm-up, then at 25/50/75/100%: ${
          [0.25, 0.5, 0.75, 1].map(q).map(mib).join("/")
        }, max ${mib(Math.max(...rss))}`,
      },
      rss,
      rssStart,
      readBytes: ops * BLOCK,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: "string" },
      quick: { type: "boolean" },
      seconds: { type: "string" },
      clients: { type: "string" },
      runs: { type: "string" },
      "no-pin": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick ?? false;
  const size = parseSize(values.size ?? (quick ? "16M" : "256M"));
  if (size < 1 << 20 || size % BLOCK !== 0) {
    throw new RangeError("--size must be at least 1M and a multiple of 4096");
  }
  const seconds = Number(values.seconds ?? (quick ? 0.5 : 3));
  const clientCount = Number(values.clients ?? 200);
  const runs = Math.max(1, Number(values.runs ?? (quick ? 1 : 3)));
  const lockBytes = Math.min(size, quick ? 2 << 20 : 16 << 20);

  const pin = !values["no-pin"] && navigator.hardwareConcurrency >= 2 &&
    await hasCommand("taskset", ["-c", "0", "true"]);
  console.log(`Machine: ${describeMachine()}`);
  console.log(
    `Command: deno task bench ${args.join(" ")}`.trimEnd() +
      ` (size ${formatBytes(size)}, ${runs} timed run(s) per sequential row, median; ` +
      `${seconds} s per random-read row; ${
        pin ? "server on CPU 0, client on CPU 1" : "no CPU pinning"
      })`,
  );

  const dir = await Deno.makeTempDir({ prefix: "rap_bench_" });
  const file = `${dir}/data.bin`;
  const children: Child[] = [];
  const rows: Row[] = [];
  try {
    console.error(`[bench] making ${formatBytes(size)} of random data`);
    const data = pattern(size);
    await Deno.writeFile(file, data);
    const dest = new Uint8Array(size).fill(1); // touched, so page faults are not timed

    const server = await spawnChild(
      Deno.execPath(),
      [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        CLI,
        "serve",
        "-w",
        "--port",
        "0",
        ...connectionLimitArgs(clientCount + 16),
      ],
      { cpu: pin ? 0 : undefined, ready: /rap:\/\/127\.0\.0\.1:(\d+)\// },
    );
    children.push(server);
    const port = Number(server.ready![1]);
    const raw = await spawnChild(
      Deno.execPath(),
      ["run", "--allow-net=127.0.0.1", "--allow-read", RAW_SENDER, file],
      { cpu: pin ? 0 : undefined, ready: /port (\d+)/ },
    );
    children.push(raw);
    if (pin) await pinSelf(1);

    // One connection: plain RAP first, then the extensions negotiated on the same session,
    // so every mode reads the same malloc:// buffer.
    const client = await RapClient.connect({ hostname: "127.0.0.1", port });
    try {
      await client.open(`malloc://${size}`, Perm.R | Perm.W);
      console.error("[bench] writing the data (plain RAP, pipelined)");
      const writeMs = await timed(1, async () => {
        await client.write(0, data);
      }, async () => {});
      rows.push({
        name: "sequential write, plain RAP pipelined (4 KiB)",
        amount: formatBytes(size),
        mbps: mbps(size, writeMs),
      });

      console.error("[bench] plain RAP, lock-step");
      for (
        const [name, window] of [
          [
            "sequential read, plain RAP lock-step (SEEK, wait, READ, wait; radare2's one request in flight)",
            1,
          ],
          ["sequential read, plain RAP one SEEK+READ pair in flight", 2],
        ] as const
      ) {
        const lock = await RapClient.connect({ hostname: "127.0.0.1", port, window });
        try {
          // A second session: fill its own buffer with the first lockBytes.
          await lock.open(`malloc://${size}`, Perm.R | Perm.W);
          await lock.write(0, data.subarray(0, lockBytes));
          const samples = new Samples();
          const into = dest.subarray(0, lockBytes);
          const t0 = performance.now();
          for (let at = 0; at < lockBytes; at += BLOCK) {
            const s = performance.now();
            await lock.readInto(at, into.subarray(at, at + BLOCK));
            samples.add(performance.now() - s);
          }
          const ms = performance.now() - t0;
          check(sameBytes(into, data.subarray(0, lockBytes)), name);
          rows.push({
            name,
            amount: formatBytes(lockBytes),
            mbps: mbps(lockBytes, ms),
            p50: samples.percentile(50),
            p99: samples.percentile(99),
          });
        } finally {
          await lock.close();
        }
      }

      console.error("[bench] plain RAP, pipelined");
      const plainMs = await timed(runs, async () => {
        await client.readInto(0, dest);
      }, async () => {
        await client.readInto(0, dest.subarray(0, Math.min(size, 16 << 20)));
      });
      check(sameBytes(dest, data), "plain pipelined read");
      rows.push({
        name: "sequential read, plain RAP pipelined (4 KiB, 128 in flight)",
        amount: formatBytes(size),
        mbps: mbps(size, plainMs),
      });

      console.error("[bench] plain RAP, random reads");
      for (const depth of [1, 32]) {
        const r = await randomReads(client, size, depth, seconds, data);
        rows.push({
          name: `random 4 KiB reads, plain RAP, queue depth ${depth}`,
          amount: `${r.ops} ops`,
          ops: r.ops / (r.ms / 1000),
          p50: r.samples.percentile(50),
          p99: r.samples.percentile(99),
        });
      }

      const ext = await client.negotiate();
      if (!ext) throw new Error("the server did not offer the extensions");
      console.error(`[bench] extensions on (maxdata ${ext.maxData}), sequential`);
      dest.fill(1);
      const extMs = await timed(runs, async () => {
        await client.readInto(0, dest);
      });
      check(sameBytes(dest, data), "extended read");
      rows.push({
        name: "sequential read, extended (1 MiB requests, 8 in flight)",
        amount: formatBytes(size),
        mbps: mbps(size, extMs),
      });
      const extWriteMs = await timed(runs, async () => {
        await client.write(0, data);
      });
      rows.push({
        name: "sequential write, extended (1 MiB requests)",
        amount: formatBytes(size),
        mbps: mbps(size, extWriteMs),
      });

      console.error("[bench] extensions, random reads");
      for (const depth of [1, 32]) {
        const r = await randomReads(client, size, depth, seconds, data);
        rows.push({
          name: `random 4 KiB reads, extended, queue depth ${depth}`,
          amount: `${r.ops} ops`,
          ops: r.ops / (r.ms / 1000),
          p50: r.samples.percentile(50),
          p99: r.samples.percentile(99),
        });
      }
    } finally {
      await client.close();
    }

    console.error("[bench] raw Deno TCP");
    dest.fill(1);
    const rawMs = await rawTcpRead(Number(raw.ready![1]), dest, runs);
    check(sameBytes(dest, data), "raw TCP read");
    const ceiling = mbps(size, rawMs);
    rows.push({
      name: "sequential read, raw Deno TCP stream (ceiling)",
      amount: formatBytes(size),
      mbps: ceiling,
    });

    console.error(`[bench] ${clientCount} clients, file`);
    const fromFile = await manyClients(
      port,
      server.pid,
      {
        name: `a ${formatBytes(size)} file`,
        uri: file,
        size,
        expect: (offset) => data[offset],
      },
      clientCount,
      seconds * 2,
    );
    rows.push(fromFile.row);
    console.error(`[bench] ${clientCount} clients, malloc://`);
    const fromMemory = await manyClients(
      port,
      server.pid,
      {
        name: "malloc://1M each",
        uri: "malloc://1M",
        size: 1 << 20,
        expect: () => 0,
      },
      clientCount,
      seconds * 2,
    );
    rows.push(fromMemory.row);

    const fmt = (v: number | undefined, digits: number) =>
      v === undefined || Number.isNaN(v) ? "" : v.toFixed(digits);
    console.log("");
    console.log(markdownTable(
      ["Benchmark", "Amount", "MB/s", "ops/s", "p50 ms", "p99 ms", "× ceiling", "Notes"],
      rows.map((r) => [
        r.name,
        r.amount,
        fmt(r.mbps, 0),
        fmt(r.ops, 0),
        fmt(r.p50, 3),
        fmt(r.p99, 3),
        r.mbps === undefined ? "" : (r.mbps / ceiling).toFixed(2),
        r.note ?? "",
      ]),
    ));

    const find = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))?.mbps;
    const lockStep = find("sequential read, plain RAP lock-step")!;
    const pair = find("sequential read, plain RAP one SEEK+READ")!;
    const pipelined = find("sequential read, plain RAP pipelined")!;
    const extended = find("sequential read, extended")!;
    const mark = (ok: boolean) => ok ? "yes" : "NO";
    console.log("");
    console.log("Targets:");
    console.log(
      `- plain pipelined / lock-step: ${(pipelined / lockStep).toFixed(1)}× (≥ 10×: ${
        mark(pipelined >= 10 * lockStep)
      }); / one pair in flight: ${(pipelined / pair).toFixed(1)}×`,
    );
    console.log(
      `- extended / raw TCP: ${(extended / ceiling * 100).toFixed(0)}% (≥ 50%: ${
        mark(extended >= ceiling / 2)
      })`,
    );
    for (const [what, many] of [["file", fromFile], ["malloc://", fromMemory]] as const) {
      const half = Math.floor(many.rss.length / 2);
      const first = Math.max(...many.rss.slice(0, Math.max(1, half)));
      const second = Math.max(...many.rss.slice(half));
      // Flat: no growth from the first half of the measured run to the second.
      const flat = second <= first * 1.05 + 8 * 2 ** 20;
      console.log(
        `- server RSS, ${clientCount} clients (${what}), ${formatBytes(many.readBytes)} read: ` +
          `${formatBytes(many.rssStart)} after warm-up; max ${formatBytes(first)} in the first ` +
          `half, ${formatBytes(second)} in the second (flat: ${mark(flat)})`,
      );
    }
    if (values.json) {
      const rss = { file: fromFile.rss, malloc: fromMemory.rss };
      console.log(JSON.stringify({ size, pin, rows, rss }, null, 2));
    }
    return 0;
  } finally {
    for (const child of children.reverse()) await child.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
