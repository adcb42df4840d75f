/**
 * The server fuzz's checkers, each on connections of its own for the whole run: an
 * in-process RAP client reading random blocks of a known file, the python
 * `rap_peer.py check` doing the same from another process, and an HTTP client whose
 * `?e TOKEN` requests must come back with exactly their token. Any error or wrong byte is a
 * finding.
 *
 * @module
 */

import { RapClient } from "../lib/client/client.ts";
import { HttpReplyReader } from "./_fuzz_http.ts";
import { type Peer, PYTHON, startPeer } from "./_peer.ts";
import { Random } from "./_random.ts";

const encoder = new TextEncoder();

/** What the checked client saw. */
export interface CheckerReport {
  /** Reads made and compared. */
  reads: number;
  /** Bytes compared. */
  bytes: number;
  /** Reads that returned wrong bytes. */
  wrong: number;
  /** Reads that failed or stalled. */
  errors: number;
  /** Their messages (first few). */
  samples: string[];
  /** The slowest read, ms. */
  maxLatencyMs: number;
}

/**
 * Read random blocks of the known file over RAP until `done()`, comparing each byte;
 * reconnects after an error (which is counted).
 *
 * @param options Where to connect (called again after each error: the server may have been
 *   restarted), the file and its bytes, the seed, the stall deadline, when to stop, and what
 *   to do after an error or a wrong read (given a description).
 * @returns The counts.
 */
export async function checkRapReads(options: {
  port: () => number;
  path: string;
  known: Uint8Array;
  seed: number;
  stallMs: number;
  done: () => boolean;
  onError: (kind: "wrong-byte" | "checker-error", message: string) => Promise<void>;
}): Promise<CheckerReport> {
  const report: CheckerReport = {
    reads: 0,
    bytes: 0,
    wrong: 0,
    errors: 0,
    samples: [],
    maxLatencyMs: 0,
  };
  const { known } = options;
  const rng = new Random(options.seed ^ 0x600d);
  let client: RapClient | undefined;
  while (!options.done()) {
    try {
      if (client === undefined) {
        client = await RapClient.connect({
          hostname: "127.0.0.1",
          port: options.port(),
          timeout: options.stallMs,
        });
        await client.open(options.path, 4);
      }
      const offset = rng.int(known.length);
      const length = 1 + rng.int(rng.chance(0.9) ? 4096 : 16384);
      const t0 = performance.now();
      const data = await client.read(offset, length);
      report.maxLatencyMs = Math.max(report.maxLatencyMs, performance.now() - t0);
      report.reads++;
      report.bytes += length;
      const end = Math.min(known.length, offset + length);
      let ok = data.length === length;
      for (let i = offset; ok && i < end; i++) ok = data[i - offset] === known[i];
      for (let i = end; ok && i < offset + length; i++) ok = data[i - offset] === 0xff;
      if (!ok) {
        report.wrong++;
        await options.onError(
          "wrong-byte",
          `RAP checker: wrong bytes reading ${length} at ${offset}`,
        );
      }
    } catch (error) {
      report.errors++;
      const message = (error as Error).message;
      if (report.samples.length < 5) report.samples.push(message);
      await client?.close().catch(() => {});
      client = undefined;
      await options.onError("checker-error", `RAP checker: ${message}`);
    }
  }
  await client?.close().catch(() => {});
  return report;
}

/** What the HTTP checker saw. */
export interface HttpCheckReport {
  /** Requests answered and compared. */
  requests: number;
  /** Replies with another body than the one asked for. */
  wrong: number;
  /** Requests that failed or stalled. */
  errors: number;
  /** Their messages (first few). */
  samples: string[];
  /** Requests answered 503 (HTTP slots full, during a hold): retried. */
  busy: number;
  /** The slowest request, ms. */
  maxLatencyMs: number;
}

/**
 * The HTTP checker: `GET /cmd/?e TOKEN` (raw spaces in it, as radare2 sends) with a new
 * token each time, on a kept-alive connection (every 16th on a connection of its own, read
 * to EOF as radare2 does), until `done()`; each reply must be 200 with exactly that token.
 *
 * @param options Where to connect, the seed, the stall deadline, when to stop, and what to
 *   do after a wrong reply or an error.
 * @returns The counts.
 */
export async function checkHttpEcho(options: {
  port: () => number;
  seed: number;
  stallMs: number;
  done: () => boolean;
  onError: (kind: "wrong-byte" | "checker-error", message: string) => Promise<void>;
}): Promise<HttpCheckReport> {
  const report: HttpCheckReport = {
    requests: 0,
    wrong: 0,
    errors: 0,
    samples: [],
    busy: 0,
    maxLatencyMs: 0,
  };
  let conn: Deno.TcpConn | undefined;
  let reader = new HttpReplyReader();
  const buf = new Uint8Array(16 * 1024);
  const drop = () => {
    try {
      conn?.close();
    } catch { /* closed */ }
    conn = undefined;
  };
  for (let n = 0; !options.done(); n++) {
    const alone = n % 16 === 15;
    const token = `chk ${options.seed} ${n} ${(n * 2654435761 >>> 0).toString(16)}`;
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    try {
      if (conn === undefined || alone) {
        drop();
        conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port() });
        reader = new HttpReplyReader();
      }
      const c = conn;
      timer = setTimeout(() => {
        stalled = true;
        drop();
      }, options.stallMs);
      const head = alone ? "" : "Connection: keep-alive\r\n";
      await c.write(encoder.encode(`GET /cmd/?e ${token} HTTP/1.1\r\n${head}\r\n`));
      const want = reader.replies.length + 1;
      while (reader.replies.length < want) {
        const got = await c.read(buf);
        if (got === null) throw new Error(`closed before the reply to "${token}"`);
        reader.push(buf.slice(0, got));
      }
      clearTimeout(timer);
      const reply = reader.replies[want - 1];
      report.maxLatencyMs = Math.max(report.maxLatencyMs, performance.now() - t0);
      if (reply.status === 503) {
        report.busy++;
        drop();
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      report.requests++;
      const body = new TextDecoder().decode(reply.body);
      if (reply.status !== 200 || body !== `${token}\n`) {
        report.wrong++;
        await options.onError(
          "wrong-byte",
          `HTTP checker: "${token}" got ${reply.status} ${JSON.stringify(body.slice(0, 200))}`,
        );
      }
      if (alone || reader.closing) drop();
    } catch (error) {
      clearTimeout(timer);
      drop();
      report.errors++;
      const message = stalled
        ? `HTTP checker: no reply to "${token}" within ${options.stallMs} ms`
        : `HTTP checker: ${(error as Error).message}`;
      if (report.samples.length < 5) report.samples.push(message);
      await options.onError("checker-error", message);
    }
  }
  drop();
  return report;
}

/** What the python checker saw (summed over its runs: it is restarted with the server). */
export interface PythonCheckReport {
  /** Reads made and compared. */
  ops: number;
  /** Reads with wrong bytes. */
  wrong: number;
  /** Its errors. */
  errors: string[];
}

/**
 * The python checker (`rap_peer.py check --until-stdin`): started against a server, stopped
 * (and its result added up) when the server is replaced or the run ends.
 */
export class PythonChecker {
  /** Its results so far. */
  readonly report: PythonCheckReport = { ops: 0, wrong: 0, errors: [] };
  #peer: Peer | undefined;

  /**
   * Start it (a no-op without python3).
   *
   * @param port The server's RAP port.
   * @param path The known file.
   * @param seed Its seed.
   */
  start(port: number, path: string, seed: number): void {
    if (PYTHON === undefined) return;
    this.#peer = startPeer("rap_peer.py", [
      "check",
      "127.0.0.1",
      port,
      path,
      "--seconds",
      1e6,
      "--until-stdin",
      "--seed",
      seed,
    ]);
  }

  /** Stop it and add its result. */
  async stop(): Promise<void> {
    const peer = this.#peer;
    if (!peer) return;
    this.#peer = undefined;
    await peer.release();
    const result = await peer.result.catch((error) => ({
      ops: 0,
      wrong: 0,
      errors: [(error as Error).message],
    })) as unknown as PythonCheckReport;
    this.report.ops += result.ops;
    this.report.wrong += result.wrong;
    this.report.errors.push(...result.errors);
  }
}
