/**
 * radare2-style HTTP clients against `serve --http-port`: how long each request takes when
 * the client does what radare2's `r2web://`, `=+ http://` and r2pipe do (one request per
 * connection, the command unencoded, the reply read until the server closes), against a
 * keep-alive client and Deno's `fetch`, and, when `r2` is on PATH, a real radare2's
 * `r2web://`; then the same against radare2's own `=h` as the baseline. Last, with `r2`, the
 * issue's measure as whole processes in paired runs: `r2 -n -qc 'b 256;p8 256 @@s:0 4096 256'
 * r2web://H/cmd` against `serve --http-port`, against `rap shell -qc '=h PORT' FILE` and against
 * `r2 -qc '=h PORT' FILE`, in turn, with medians and the median of the run-by-run ratios.
 *
 * ```sh
 * deno run -A bench/http_bench.ts                       # 200 requests per mode
 * deno run -A bench/http_bench.ts --paired-only --runs 21   # only the whole-process runs
 * deno run -A bench/http_bench.ts --cli ../main/cli.ts --requests 10   # another checkout
 * ```
 *
 * A request that gets no EOF within `--timeout` ms (radare2's client gives up after about
 * that) counts as a timeout. Figures are printed; nothing is asserted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { markdownTable, median } from "./_bench_support.ts";
import { startServe } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno run -A bench/http_bench.ts [options]

  --requests N   requests per mode (default 200)
  --timeout MS   how long a request may wait for EOF (default 2000)
  --cli PATH     the cli.ts to run as the server (default this checkout's)
  --no-r2        skip the real radare2 (client runs and its own =h as the baseline)
  --runs N       paired whole-process r2web:// runs per server (default 11; 0: none)
  --paired-only  only the paired whole-process runs (needs r2)
  --json         print the results as JSON after the table
  -h, --help     this help
`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SIZE = 4096;

interface Result {
  mode: string;
  requests: number;
  eof: number;
  timeouts: number;
  wrong: number;
  medianMs: number;
  p99Ms: number;
  totalMs: number;
}

/** Read from `conn` until EOF or `ms`; returns the bytes and whether EOF came. */
async function readToEof(conn: Deno.Conn, ms: number): Promise<{ text: string; eof: boolean }> {
  const chunks: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await Promise.race([conn.read(buf), expired]);
      if (n === "timeout") return { text: decoder.decode(concat(chunks)), eof: false };
      if (n === null) return { text: decoder.decode(concat(chunks)), eof: true };
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The `p8` answer for the served file (bytes `i & 0xff`, 0xff past its end). */
function expectedHex(offset: number, length: number): string {
  let hex = "";
  for (let i = offset; i < offset + length; i++) {
    hex += (i < SIZE ? i & 0xff : 0xff).toString(16).padStart(2, "0");
  }
  return hex + "\n";
}

function summary(mode: string, times: number[], eof: number, timeouts: number, wrong: number) {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    mode,
    requests: times.length,
    eof,
    timeouts,
    wrong,
    medianMs: median(times),
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
    totalMs: times.reduce((a, b) => a + b, 0),
  };
}

/**
 * radare2's client: a new connection per request, read until EOF; the command raw (as
 * `=+ http://` sends it) or `%XX`-encoded (as `r2web://` does).
 */
async function r2Style(
  port: number,
  requests: number,
  timeout: number,
  encoded: boolean,
): Promise<Result> {
  const times: number[] = [];
  let eof = 0, timeouts = 0, wrong = 0;
  for (let i = 0; i < requests; i++) {
    const offset = (i * 256) % SIZE;
    const started = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const command = encoded ? `p8%20256@0x${offset.toString(16)}` : `p8 256 @ ${offset}`;
    await conn.write(encoder.encode(
      `GET /cmd/${command} HTTP/1.1\r\nUser-Agent: radare2\r\nAccept: */*\r\n` +
        `Host: 127.0.0.1:${port}\r\n\r\n`,
    ));
    const { text, eof: ended } = await readToEof(conn, timeout);
    conn.close();
    times.push(performance.now() - started);
    if (ended) eof++;
    else timeouts++;
    if (!text.endsWith(`\r\n\r\n${expectedHex(offset, 256)}`)) wrong++;
  }
  const mode = encoded ? "r2web-style (%XX)" : "=+ http:// style (raw spaces)";
  return summary(`${mode}, 1 request/connection, read to EOF`, times, eof, timeouts, wrong);
}

/** A keep-alive client: one connection, `Connection: keep-alive`, replies by Content-Length. */
async function keepAlive(port: number, requests: number): Promise<Result> {
  const times: number[] = [];
  let wrong = 0;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let pending: Uint8Array = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  try {
    for (let i = 0; i < requests; i++) {
      const offset = (i * 256) % SIZE;
      const started = performance.now();
      await conn.write(encoder.encode(
        `GET /cmd/p8%20256%20@%20${offset} HTTP/1.1\r\nConnection: keep-alive\r\n\r\n`,
      ));
      let reply: string | undefined;
      while (reply === undefined) {
        const text = decoder.decode(pending);
        const end = text.indexOf("\r\n\r\n");
        const length = Number(/Content-Length: (\d+)/i.exec(text)?.[1] ?? NaN);
        if (end >= 0 && pending.length >= end + 4 + length) {
          reply = text.slice(end + 4, end + 4 + length);
          pending = pending.slice(end + 4 + length);
          break;
        }
        const n = await conn.read(buf);
        if (n === null) throw new Error("the server closed a kept-alive connection");
        pending = concat([pending, buf.subarray(0, n)]);
      }
      times.push(performance.now() - started);
      if (reply !== expectedHex(offset, 256)) wrong++;
    }
  } finally {
    conn.close();
  }
  return summary("keep-alive (1 connection)", times, requests, 0, wrong);
}

/** Deno's fetch (what this project's own r2web:// plugin uses). */
async function fetchStyle(port: number, requests: number): Promise<Result> {
  const times: number[] = [];
  let wrong = 0;
  for (let i = 0; i < requests; i++) {
    const offset = (i * 256) % SIZE;
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/cmd/p8%20256%20@%20${offset}`);
    const text = await res.text();
    times.push(performance.now() - started);
    if (text !== expectedHex(offset, 256)) wrong++;
  }
  return summary("fetch", times, requests, 0, wrong);
}

/** The radare2 binary, if one is installed. */
async function findR2(): Promise<string | undefined> {
  for (const bin of ["/usr/local/bin/r2", "r2"]) {
    try {
      const out = await new Deno.Command(bin, { args: ["-v"], stdout: "null", stderr: "null" })
        .output();
      if (out.success) return bin;
    } catch { /* not there */ }
  }
  return undefined;
}

/** A real radare2's r2web:// reading 17 blocks (the issue's measure), `runs` times. */
async function realR2(r2: string, port: number, runs: number): Promise<Result> {
  const times: number[] = [];
  let wrong = 0;
  for (let run = 0; run < runs; run++) {
    const { ms, right } = await r2WebRun(r2, port);
    times.push(ms);
    if (!right) wrong++;
  }
  return summary(`radare2 r2web://, 17 blocks (runs)`, times, runs, 0, wrong);
}

/** A server process on a free port of 127.0.0.1; resolves once it accepts connections. */
async function startOnPort(
  command: string,
  argsFor: (port: number) => string[],
): Promise<{ port: number; stop(): Promise<void> }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(command, {
    args: argsFor(port),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let up = false;
  for (let attempt = 0; attempt < 200 && !up; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      up = true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!up) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`${command} ${argsFor(port).join(" ")}: nothing listens on ${port}`);
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

/** radare2's own `=h` on `path`, as the baseline. */
function startR2Http(r2: string, path: string) {
  return startOnPort(r2, (port) => ["-e", "http.sandbox=false", "-qc", `=h ${port}`, path]);
}

/** `rap shell -qc '=h PORT' FILE`: the shell's own `=h`, in the foreground as radare2's. */
function startShellHttp(cli: string, path: string) {
  return startOnPort(Deno.execPath(), (port) => [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-env",
    "--allow-write",
    cli,
    "shell",
    "-qc",
    `=h ${port}`,
    path,
  ]);
}

/** One whole `r2 -n -qc 'b 256;p8 256 @@s:0 4096 256' r2web://...` run: ms, and right? */
async function r2WebRun(r2: string, port: number): Promise<{ ms: number; right: boolean }> {
  const started = performance.now();
  const out = await new Deno.Command(r2, {
    args: ["-n", "-qc", "b 256;p8 256 @@s:0 4096 256", `r2web://127.0.0.1:${port}/cmd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const ms = performance.now() - started;
  const lines = decoder.decode(out.stdout).trim().split("\n");
  const right = lines.length === 17 &&
    lines.every((line, i) => line + "\n" === expectedHex(i * 256, 256));
  return { ms, right };
}

/** A whole-process comparison: each target's median and the median of the paired ratios. */
interface PairedRow {
  target: string;
  runs: number;
  wrong: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
  ratio: number;
}

/**
 * The measure as whole processes, paired: a real radare2's `r2web://` reading 17
 * blocks, against each target in turn (A B C A B C ...), so a drift of the machine's speed
 * moves every target alike; the ratio to the last target (radare2's own `=h`) is taken run
 * by run, and its median printed.
 */
async function pairedR2(
  r2: string,
  targets: { name: string; port: number }[],
  runs: number,
): Promise<PairedRow[]> {
  const times = targets.map(() => [] as number[]);
  const wrong = targets.map(() => 0);
  for (const target of targets) await r2WebRun(r2, target.port); // warm-up
  for (let run = 0; run < runs; run++) {
    for (const [i, target] of targets.entries()) {
      const { ms, right } = await r2WebRun(r2, target.port);
      times[i].push(ms);
      if (!right) wrong[i]++;
    }
  }
  const base = times[times.length - 1];
  return targets.map((target, i) => {
    const sorted = [...times[i]].sort((a, b) => a - b);
    return {
      target: target.name,
      runs,
      wrong: wrong[i],
      minMs: sorted[0],
      medianMs: median(times[i]),
      maxMs: sorted[sorted.length - 1],
      ratio: median(times[i].map((ms, run) => ms / base[run])),
    };
  });
}

function pairedTable(rows: PairedRow[]): string {
  const ms = (n: number) => n.toFixed(1);
  return "radare2 6.x `r2 -n -qc 'b 256;p8 256 @@s:0 4096 256' r2web://H/cmd`, whole " +
    "processes, paired runs\n\n" + markdownTable(
      ["server", "runs", "wrong", "min ms", "median ms", "max ms", "median ratio to r2 =h"],
      rows.map((r) => [
        r.target,
        String(r.runs),
        String(r.wrong),
        ms(r.minMs),
        ms(r.medianMs),
        ms(r.maxMs),
        r.ratio.toFixed(2),
      ]),
    ) + "\n";
}

/** Every client mode against the endpoint on `port`. */
async function runModes(
  port: number,
  requests: number,
  timeout: number,
  r2: string | undefined,
): Promise<Result[]> {
  const results: Result[] = [];
  results.push(await r2Style(port, requests, timeout, false));
  results.push(await r2Style(port, requests, timeout, true));
  results.push(
    await keepAlive(port, requests).catch((error) => {
      console.error(`keep-alive on ${port}: ${error.message}`);
      return summary("keep-alive (1 connection)", [], 0, 0, 0);
    }),
  );
  results.push(await fetchStyle(port, requests));
  if (r2) results.push(await realR2(r2, port, 5));
  return results;
}

function table(title: string, results: Result[]): string {
  const ms = (n: number) => n.toFixed(2);
  return `${title}\n\n` + markdownTable(
    ["client", "requests", "EOF", "timeouts", "wrong", "median ms", "p99 ms", "total ms"],
    results.map((r) => [
      r.mode,
      String(r.requests),
      String(r.eof),
      String(r.timeouts),
      String(r.wrong),
      ms(r.medianMs),
      ms(r.p99Ms),
      ms(r.totalMs),
    ]),
  ) + "\n";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: "string" },
      timeout: { type: "string" },
      cli: { type: "string" },
      "no-r2": { type: "boolean" },
      runs: { type: "string" },
      "paired-only": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const requests = Number(values.requests ?? 200);
  const timeout = Number(values.timeout ?? 2000);
  const r2 = values["no-r2"] ? undefined : await findR2();
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  await Deno.writeFile(path, Uint8Array.from({ length: SIZE }, (_, i) => i & 0xff));
  const runs = Number(values.runs ?? 11);
  const cli = values.cli ?? new URL("../cli.ts", import.meta.url).pathname;
  const all: Record<string, Result[] | PairedRow[]> = {};
  try {
    if (!values["paired-only"]) await perRequest(values.cli, path, requests, timeout, r2, all);
    if (r2 && runs > 0) {
      await using rap = await startServe({
        cli: values.cli,
        flags: ["--allow-net=127.0.0.1", "--allow-read", `--allow-write=${path}`],
        args: ["--http-port", "0", path],
      });
      const shell = await startShellHttp(cli, path);
      const baseline = await startR2Http(r2, path);
      try {
        all.paired = await pairedR2(r2, [
          { name: "rap serve --http-port", port: rap.httpPort },
          { name: "rap shell -qc '=h PORT' FILE", port: shell.port },
          { name: "r2 -qc '=h PORT' FILE", port: baseline.port },
        ], runs);
      } finally {
        await Promise.all([shell.stop(), baseline.stop()]);
      }
      console.log(pairedTable(all.paired as PairedRow[]));
    }
    if (values.json) console.log(JSON.stringify(all, null, 2));
  } finally {
    await Deno.remove(path);
  }
}

/** Every client mode against `serve --http-port`, then against radare2's own `=h`. */
async function perRequest(
  cli: string | undefined,
  path: string,
  requests: number,
  timeout: number,
  r2: string | undefined,
  all: Record<string, Result[] | PairedRow[]>,
): Promise<void> {
  {
    await using server = await startServe({
      cli,
      flags: ["--allow-net=127.0.0.1", "--allow-read", `--allow-write=${path}`],
      args: ["--http-port", "0", path],
    });
    all.rap = await runModes(server.httpPort, requests, timeout, r2);
  }
  console.log(table(`rap serve --http-port (${cli ?? "this checkout"})`, all.rap));
  if (!r2) return;
  const baseline = await startR2Http(r2, path);
  try {
    all.r2 = await runModes(baseline.port, requests, timeout, r2);
  } finally {
    await baseline.stop();
  }
  console.log(table(`radare2's own =h (${r2}), the baseline`, all.r2));
}

if (import.meta.main) await main();
