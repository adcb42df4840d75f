/**
 * radare2-style HTTP clients against `serve --http-port`: how long each request takes when
 * the client does what radare2's `r2web://`, `=+ http://` and r2pipe do (one request per
 * connection, the command unencoded, the reply read until the server closes), against a
 * keep-alive client and Deno's `fetch`, and, when `r2` is on PATH, a real radare2's
 * `r2web://`; then the same against radare2's own `=h` as the baseline.
 *
 * ```sh
 * deno run -A bench/http_bench.ts                       # 200 requests per mode
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
    const started = performance.now();
    const out = await new Deno.Command(r2, {
      args: ["-n", "-qc", "b 256;p8 256 @@s:0 4096 256", `r2web://127.0.0.1:${port}/cmd`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    times.push(performance.now() - started);
    const lines = decoder.decode(out.stdout).trim().split("\n");
    if (lines.length !== 17) wrong++;
    else if (lines.some((line, i) => line + "\n" !== expectedHex(i * 256, 256))) wrong++;
  }
  return summary(`radare2 r2web://, 17 blocks (runs)`, times, runs, 0, wrong);
}

/** radare2's own `=h` on `path`, as the baseline; resolves once it answers. */
async function startR2Http(
  r2: string,
  path: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(r2, {
    args: ["-e", "http.sandbox=false", "-qc", `=h ${port}`, path],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
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
  const all: Record<string, Result[]> = {};
  try {
    {
      await using server = await startServe({
        cli: values.cli,
        flags: ["--allow-net=127.0.0.1", "--allow-read", `--allow-write=${path}`],
        args: ["--http-port", "0", path],
      });
      all.rap = await runModes(server.httpPort, requests, timeout, r2);
    }
    console.log(table(`rap serve --http-port (${values.cli ?? "this checkout"})`, all.rap));
    if (r2) {
      const baseline = await startR2Http(r2, path);
      try {
        all.r2 = await runModes(baseline.port, requests, timeout, r2);
      } finally {
        await baseline.stop();
      }
      console.log(table(`radare2's own =h (${r2}), the baseline`, all.r2));
    }
    if (values.json) console.log(JSON.stringify(all, null, 2));
  } finally {
    await Deno.remove(path);
  }
}

if (import.meta.main) await main();
