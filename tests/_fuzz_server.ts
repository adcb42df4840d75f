/**
 * Fuzz a live `cli.ts serve` subprocess (RAP and `--http-port`, under a low `ulimit -n`, on
 * 127.0.0.1 port 0, serving a temp dir): many connections send recorded, random and mutated
 * RAP packets and HTTP requests, while the scenarios of `_fuzz_scenarios.ts` take turns
 * (abortive closes, descriptor exhaustion, held HTTP slots, nested self-`rap://`, hostile
 * archives, symbolic-link races, slow and oversized HTTP requests) and three checkers (an
 * in-process RAP client, the python `rap_peer.py check` and an HTTP client) compare bytes
 * the whole time. Every finding is saved with a reproducer (`_fuzz_findings.ts`).
 *
 * @module
 */

import { buildStream, recordedRequests } from "./_mutate.ts";
import { Random } from "./_random.ts";
import type { ServeProcess } from "./_serve_process.ts";
import { checkHttpEcho, checkRapReads, PythonChecker } from "./_fuzz_checkers.ts";
import {
  type FindingKind,
  Findings,
  LeakScanner,
  type ReproStream,
  toHex,
} from "./_fuzz_findings.ts";
import { buildHttpPlan, httpCommands, runHttpConnection } from "./_fuzz_http.ts";
import { runRapConnection } from "./_fuzz_rap.ts";
import { emptyReport, type ServerFuzzOptions, type ServerFuzzReport } from "./_fuzz_report.ts";
import { runScenario, type ScenarioName, scenarioRandom, SCENARIOS } from "./_fuzz_scenarios.ts";
import { type FuzzSetup, makeFuzzSetup, startFuzzServe } from "./_fuzz_setup.ts";
import { HAS_PYTHON } from "./_peer.ts";
import { LINGER_BYTES } from "../lib/net/linger.ts";

export type { ServerFuzzOptions, ServerFuzzReport } from "./_fuzz_report.ts";

/** A RAP close reason without its numbers, paths and quotes (for the report). */
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

async function openFiles(pid: number): Promise<number> {
  let n = 0;
  try {
    for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) n++;
  } catch { /* exited */ }
  return n;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run: the server, its setup, the report, and the tasks that drive them. */
class ServerFuzz {
  readonly o: ServerFuzzOptions;
  readonly setup: FuzzSetup;
  readonly report: ServerFuzzReport;
  readonly findings: Findings;
  readonly started = performance.now();
  readonly deadline: number;
  readonly scenarioNames: readonly ScenarioName[];
  readonly fileLimit: number;
  readonly connections: number;
  readonly packetTimeout: number;
  readonly bombSize: number;
  readonly hangMs: number;
  readonly python = new PythonChecker();
  readonly #pending = new Set<Promise<unknown>>();
  /** Streams by "rap:PORT" / "http:PORT" (the server logs the peer's port). */
  readonly #inflight = new Map<string, ReproStream>();
  readonly #recent = new Map<string, ReproStream>();
  readonly #logCounters = new Map<string, { pattern: RegExp; count: number }>();
  server!: ServeProcess;
  targets: string[] = [];
  commands: string[] = [];
  corpus: Uint8Array[][] = [];
  stopping = false;
  scenarioRounds = 0;
  scenarioNow: { name: string; params: Record<string, unknown> } | undefined;
  /** The racing paths (as bytes) while a race window is open. */
  racing: Uint8Array[] | undefined;
  #restarting: Promise<void> | undefined;

  constructor(o: ServerFuzzOptions, setup: FuzzSetup, bombSize: number) {
    this.o = o;
    this.setup = setup;
    this.bombSize = bombSize;
    this.findings = new Findings(o.findingsDir);
    this.report = emptyReport(o.seed, o.rssLimit ?? 1 << 30, this.findings);
    this.deadline = o.seconds === undefined ? Infinity : this.started + o.seconds * 1000;
    this.scenarioNames = HAS_PYTHON ? o.scenarios ?? SCENARIOS : [];
    if (this.scenarioNames.length === 0) this.scenarioRounds = Infinity;
    this.fileLimit = o.fileLimit ?? 512;
    this.connections = 2 * this.fileLimit + 4 * (this.concurrency + this.httpConcurrency) + 512;
    this.packetTimeout = o.packetTimeout ?? 5000;
    this.hangMs = o.hangMs ?? 15_000;
  }

  get concurrency(): number {
    return this.o.concurrency ?? 32;
  }

  get httpConcurrency(): number {
    return this.o.httpConcurrency ?? 16;
  }

  get ports(): { rap: number; http: number } {
    return { rap: this.server.port, http: this.server.httpPort };
  }

  done(): boolean {
    const budgetMet = this.report.packets >= this.o.packets &&
      this.scenarioRounds >= (this.o.minScenarioRuns ?? 1);
    return this.stopping || budgetMet || performance.now() > this.deadline ||
      this.report.crashes >= 5;
  }

  /** Record a finding with its reproducer (saved in the background; awaited at the end). */
  finding(
    kind: FindingKind,
    detail: string,
    streams: ReproStream[],
    scenario = this.scenarioNow,
  ): Promise<unknown> {
    const server = this.server as ServeProcess | undefined;
    // A moment for the server's log lines about it (a connection's reason comes at its end).
    const task = sleep(500).then(() =>
      this.findings.add({
        kind,
        detail,
        seed: this.o.seed,
        setup: {
          dir: this.setup.dir,
          outside: this.setup.outside,
          rap: server?.port ?? 0,
          http: server?.httpPort ?? 0,
          fileLimit: this.fileLimit,
          connections: this.connections,
          packetTimeout: this.packetTimeout,
          bombSize: this.bombSize,
        },
        streams,
        ...(scenario ? { scenario } : {}),
        log: server?.logTail.slice(-100) ?? [],
      })
    );
    this.#pending.add(task);
    return task.finally(() => this.#pending.delete(task));
  }

  remember(key: string, stream: ReproStream): void {
    this.#inflight.set(key, stream);
    this.#recent.set(key, stream);
    if (this.#recent.size > 4 * (this.concurrency + this.httpConcurrency) + 256) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  forget(key: string): void {
    this.#inflight.delete(key);
  }

  get inflight(): ReproStream[] {
    return [...this.#inflight.values()];
  }

  onLog(line: string): void {
    for (const c of this.#logCounters.values()) if (c.pattern.test(line)) c.count++;
    if (/internal error|handler failed|Uncaught|panicked/.test(line)) {
      this.report.internalErrors++;
      const m = /^\[(rap|http)\] [\d.]+:(\d+)[: ]/.exec(line);
      const stream = m ? this.#recent.get(`${m[1]}:${m[2]}`) : undefined;
      this.finding("internal-error", line, stream ? [stream] : this.inflight);
    }
    const key = reasonKey(line, this.setup.dir);
    if (key) this.report.closeReasons[key] = (this.report.closeReasons[key] ?? 0) + 1;
  }

  /** Log lines matching `pattern` since it was first asked for. */
  logCount(pattern: RegExp): number {
    const counter = this.#logCounters.get(pattern.source) ?? { pattern, count: 0 };
    this.#logCounters.set(pattern.source, counter);
    return counter.count;
  }

  async start(): Promise<void> {
    this.server = await startFuzzServe(this.setup, {
      fileLimit: this.fileLimit,
      connections: this.connections,
      packetTimeout: this.packetTimeout,
      onLog: (line) => this.onLog(line),
    });
    this.targets = this.setup.targets(this.ports);
    this.commands = httpCommands(this.ports);
    this.python.start(this.server.port, this.setup.known.path, this.o.seed);
  }

  /** If the server exited: a crash finding (with the streams in flight), then a new server. */
  async restartIfDead(): Promise<void> {
    if (!this.server.exited) return;
    this.#restarting ??= (async () => {
      const old = this.server;
      const status = await old.status;
      this.report.crashes++;
      await this.finding(
        "crash",
        `server exited: code ${status.code} ${status.signal ?? ""}`,
        this.inflight,
      );
      await old.stop("SIGKILL", 1000);
      await this.python.stop();
      if (!this.done()) await this.start();
      this.#restarting = undefined;
    })();
    await this.#restarting;
  }

  async rapConnection(worker: Random): Promise<void> {
    const count = 1 + worker.int(this.o.maxPacketsPerConnection ?? 600);
    const rate = this.o.mutationRate ?? worker.pick([0.002, 0.01, 0.03, 0.1, 0.2]);
    // A third of the connections negotiate the extensions first (radare2's never do).
    const extensions = worker.chance(1 / 3)
      ? worker.pick([4096, 65536, 1 << 20, 8 << 20])
      : undefined;
    const stream = buildStream(worker, this.corpus, this.targets, count, rate, extensions);
    const repro: ReproStream = {
      port: "rap",
      hex: [toHex(stream.bytes)],
      pauses: [0],
      closeWrite: true,
      ...(extensions === undefined ? {} : { extensions }),
    };
    let key = "";
    const racingAtStart = this.racing;
    const outcome = await runRapConnection(this.server.port, stream, {
      hangMs: this.hangMs,
      markers: this.setup.markers,
      split: worker.chance(0.15) ? worker : undefined,
      extensions,
      onConnect: (port) => this.remember(key = `rap:${port}`, repro),
    });
    this.forget(key);
    if (outcome.refused) return await this.restartIfDead();
    const { report } = this;
    const racing = racingAtStart ?? this.racing; // the connection overlapped a race window
    if (racing && new LeakScanner(racing).scan(stream.bytes)) report.scenarios.races.fuzzStreams++;
    const r = report.rap;
    r.connections++;
    report.connections++;
    let written = 0;
    while (written < stream.ends.length && stream.ends[written] <= outcome.accepted) written++;
    const early = outcome.replies < stream.ends.length;
    const handled = Math.min(written, early ? outcome.replies + 1 : stream.ends.length);
    r.packetsWritten += written;
    r.packetsHandled += handled;
    report.packets += handled;
    r.mutatedHandled += stream.mutated.filter((i) => i < handled).length;
    r.replies += outcome.replies;
    if (early) r.closedEarly++;
    r.bytesSent += outcome.accepted;
    r.bytesReceived += outcome.received;
    const what = `RAP connection ${key}`;
    if (outcome.hung) await this.finding("hang", `${what}: no reply, no close`, [repro]);
    // After a fatal packet the server drains at most LINGER_BYTES of what follows: a longer
    // rest may reset the connection (and cut a reply) by design.
    const rest = outcome.accepted - (stream.ends[outcome.replies - 1] ?? 0);
    if (outcome.badReply?.startsWith("Truncated") && rest > LINGER_BYTES) {
      r.cutPastLinger++;
    } else if (outcome.badReply !== undefined) {
      await this.finding("bad-reply", `${what}: ${outcome.badReply}`, [repro]);
    }
    if (outcome.leaked) await this.finding("leak", `${what}: outside bytes`, [repro]);
  }

  async httpConnection(worker: Random): Promise<void> {
    const plan = buildHttpPlan(worker, this.commands);
    const repro: ReproStream = {
      port: "http",
      hex: plan.steps.map((s) => toHex(s.bytes)),
      pauses: plan.steps.map((s) => s.pauseMs),
      closeWrite: plan.closeWrite,
    };
    let key = "";
    const outcome = await runHttpConnection(this.server.httpPort, plan, {
      hangMs: this.hangMs,
      markers: this.setup.markers,
      onConnect: (port) => this.remember(key = `http:${port}`, repro),
    });
    this.forget(key);
    if (outcome.refused) return await this.restartIfDead();
    const { report } = this;
    const h = report.http;
    h.connections++;
    report.connections++;
    h.plans[plan.kind] = (h.plans[plan.kind] ?? 0) + 1;
    h.sent += plan.requests;
    h.requests += outcome.statuses.length;
    report.packets += outcome.statuses.length;
    for (const s of outcome.statuses) h.statuses[s] = (h.statuses[s] ?? 0) + 1;
    h.bytesSent += outcome.sent;
    h.bytesReceived += outcome.received;
    const what = `HTTP ${plan.kind} connection ${key}`;
    if (outcome.hung) await this.finding("hang", `${what}: no reply, no close`, [repro]);
    if (outcome.badReply !== undefined) {
      await this.finding("bad-reply", `${what}: ${outcome.badReply}`, [repro]);
    }
    if (outcome.leaked) await this.finding("leak", `${what}: outside bytes`, [repro]);
  }

  async monitor(): Promise<void> {
    let last = performance.now();
    let connectionsAtReset = 0;
    const { report } = this;
    for (let tick = 0; !this.done(); tick++) {
      await sleep(250);
      await this.restartIfDead();
      const peak = await this.server.peakRss();
      if (peak !== undefined) report.rss.peak = Math.max(report.rss.peak ?? 0, peak);
      if (tick % 4 === 0) {
        report.files.peak = Math.max(report.files.peak, await openFiles(this.server.pid));
      }
      if (report.connections - connectionsAtReset > 500) {
        connectionsAtReset = report.connections;
        await this.setup.resetFixtures();
      }
      if (this.o.progress && performance.now() - last > 5000) {
        last = performance.now();
        const rss = await this.server.rss();
        this.o.progress(
          `${report.packets} packets (${report.http.requests} HTTP), ${report.connections} ` +
            `connections, ${this.findings.count} findings, scenarios ${
              JSON.stringify(report.scenarios.runs)
            }, rss ${((rss ?? 0) / 1048576).toFixed(1)} MiB`,
        );
      }
    }
  }

  /** The scenarios, one after the other, until the run is done. */
  async scenarioLoop(): Promise<void> {
    const names = this.scenarioNames;
    if (names.length === 0) return;
    for (let run = 0; !this.done(); run++) {
      const name = names[run % names.length];
      this.scenarioNow = { name, params: { run } };
      try {
        await runScenario(name, {
          ports: () => this.ports,
          racing: (site) => {
            const paths = site ? [site.target, site.fuzzTarget] : undefined;
            this.racing = paths?.map((p) => new TextEncoder().encode(p));
          },
          setup: this.setup,
          fileLimit: this.fileLimit,
          windowMs: this.o.windowMs ?? 2000,
          resetCount: this.o.resetCount ?? 100,
          random: scenarioRandom(this.o.seed, run),
          stats: this.report.scenarios,
          logCount: (pattern) => this.logCount(pattern),
          finding: (kind, detail, params) =>
            this.finding(kind, `${name}: ${detail}`, [], { name, params: { run, ...params } }),
        });
      } catch (error) {
        await this.finding("scenario", `${name} failed: ${(error as Error).message}`, []);
      }
      this.scenarioNow = undefined;
      await this.restartIfDead();
      if ((run + 1) % names.length === 0) this.scenarioRounds++;
      await sleep(this.o.scenarioPauseMs ?? 500);
    }
  }

  /** Run everything until done, then stop the server and sum up. */
  async run(): Promise<ServerFuzzReport> {
    const { report, setup } = this;
    this.corpus = await recordedRequests();
    await this.start();
    report.files.limit = await this.server.fileLimit();
    report.rss.start = await this.server.rss();
    const seed = this.o.seed;
    const workers = [
      ...Array.from({ length: this.concurrency }, async (_, i) => {
        const worker = new Random(seed * 1000 + i + 1);
        while (!this.done()) await this.rapConnection(worker);
      }),
      ...Array.from({ length: this.httpConcurrency }, async (_, i) => {
        const worker = new Random(seed * 1000 + 500 + i);
        while (!this.done()) await this.httpConnection(worker);
      }),
    ];
    const checkerError = async (kind: "wrong-byte" | "checker-error", message: string) => {
      await this.finding(kind, message, this.inflight);
      await this.restartIfDead();
    };
    const stallMs = this.o.stallMs ?? 15_000;
    const done = () => this.done();
    const rapChecker = checkRapReads({
      port: () => this.server.port,
      path: setup.known.path,
      known: setup.known.bytes,
      seed,
      stallMs,
      done,
      onError: checkerError,
    });
    const httpChecker = checkHttpEcho({
      port: () => this.server.httpPort,
      seed,
      stallMs,
      done,
      onError: checkerError,
    });
    const watch = this.monitor();
    const scenarios = this.scenarioLoop();
    try {
      await Promise.all(workers);
    } finally {
      this.stopping = true;
      report.checkers.rap = await rapChecker;
      report.checkers.http = await httpChecker;
      await scenarios;
      await watch;
      await this.finish();
    }
    return report;
  }

  /** Stop the checkers and the server; the end-of-run findings. */
  async finish(): Promise<void> {
    const { report } = this;
    await this.restartIfDead();
    await this.python.stop();
    const python = this.python.report;
    report.checkers.python = HAS_PYTHON ? python : undefined;
    if (python.wrong > 0) {
      await this.finding("wrong-byte", `python checker: ${python.wrong} wrong`, []);
    }
    for (const e of python.errors.slice(0, 5)) {
      await this.finding("checker-error", `python checker: ${e}`, []);
    }
    report.rss.end = await this.server.rss();
    const peak = await this.server.peakRss();
    if (peak !== undefined) report.rss.peak = Math.max(report.rss.peak ?? 0, peak);
    if ((report.rss.peak ?? 0) > report.rss.limit) {
      await this.finding("rss", `peak RSS ${report.rss.peak} over ${report.rss.limit}`, []);
    }
    if (!await this.setup.outsideUnchanged()) {
      await this.finding("leak", "a file outside the scope changed", []);
    }
    const { status } = await this.server.stop("SIGTERM", 10_000);
    if (status.code !== 0) {
      await this.finding("exit", `exit ${status.code} ${status.signal ?? ""} at shutdown`, []);
    }
    await Promise.all([...this.#pending]);
    report.connections += report.scenarios.connections + 3;
    report.seconds = (performance.now() - this.started) / 1000;
  }
}

/**
 * Run the server fuzz.
 *
 * @param options Seed, budget and limits.
 * @returns The findings and figures.
 *
 * @example
 * ```ts
 * import { fuzzServer } from "./_fuzz_server.ts";
 * import assert from "node:assert/strict";
 *
 * const report = await fuzzServer({ seed: 1, packets: 2000, concurrency: 4, scenarios: [] });
 * assert.deepEqual(report.findings, []);
 * assert.ok(report.packets >= 2000);
 * ```
 */
export async function fuzzServer(options: ServerFuzzOptions): Promise<ServerFuzzReport> {
  const bombSize = options.bombSize ?? 64 * 1024 * 1024;
  const setup = await makeFuzzSetup(options.seed, { bombSize });
  try {
    return await new ServerFuzz(options, setup, bombSize).run();
  } finally {
    await setup.remove();
  }
}
