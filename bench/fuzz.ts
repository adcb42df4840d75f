/**
 * `deno task fuzz`: fuzz the pure decoders and format parsers in memory, then a live
 * `cli.ts serve` subprocess (RAP and HTTP, under a low `ulimit -n`) with mutated RAP packets
 * and HTTP requests while abortive closes, descriptor exhaustion, nested self-`rap://`,
 * hostile archives and path races take turns, and checkers compare bytes; print what was
 * found. Each finding is saved as a reproducer (JSON) that `--replay FILE` runs again.
 *
 * ```sh
 * deno task fuzz                                   # short: 50,000 packets, every class
 * deno run -A bench/fuzz.ts --only server --packets 1000000   # the long run
 * deno run -A bench/fuzz.ts --replay fuzz-findings/seed1-hang-1.json
 * ```
 *
 * Exit code 0 when nothing was found, 1 when something was (a crash, a hang, wrong bytes,
 * outside bytes, an untyped error, an over-allocation ...), 2 for a usage error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { DecoderReport } from "../tests/_fuzz_decoders.ts";
import { replayFinding } from "../tests/_fuzz_replay.ts";
import { fuzzServer, type ServerFuzzReport } from "../tests/_fuzz_server.ts";
import { mib } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno run -A bench/fuzz.ts [options]

  --packets N            RAP packets and HTTP requests the server must handle
                         (default 50000; 1000000 for the long run)
  --seconds S            stop the server fuzz after S seconds even if fewer were handled
  --seed N               seed of every random choice (default 1)
  --concurrency N        RAP fuzzing connections at once (default 32)
  --http-concurrency N   HTTP fuzzing connections at once (default 16)
  --file-limit N         the server's ulimit -n (default 512)
  --no-scenarios         only the fuzzing connections and checkers (no python3 peers)
  --findings DIR         where reproducers are saved (default fuzz-findings)
  --replay FILE          run a saved reproducer again and say what reproduced
  --scale X              decoder inputs: X times 100,000 per in-memory parser, 10,000 per
                         file-based one and 2,000 for http (default 0.1)
  --only WHAT            "decoders" or "server" (default both)
  --json                 print the reports as JSON
`;

/** Run the decoder fuzz in a worker; a decoder silent for `stuckMs` is reported as a hang. */
async function decodersInWorker(
  seed: number,
  scale: number,
  stuckMs: number,
  onReport: (report: DecoderReport) => void,
): Promise<string | undefined> {
  const worker = new Worker(new URL("../tests/_fuzz_decoders_worker.ts", import.meta.url), {
    type: "module",
  });
  let last = { name: "(start)", index: 0, at: performance.now() };
  const finished = Promise.withResolvers<string | undefined>();
  worker.onmessage = (event) => {
    const message = event.data;
    if (message.type === "beat") last = { ...message, at: performance.now() };
    else if (message.type === "report") {
      last.at = performance.now();
      onReport(message.report);
    } else if (message.type === "done") finished.resolve(undefined);
    else if (message.type === "error") finished.resolve(`decoder fuzz failed: ${message.message}`);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    finished.resolve(`decoder fuzz worker crashed: ${event.message}`);
  };
  const watchdog = setInterval(() => {
    if (performance.now() - last.at > stuckMs) {
      finished.resolve(
        `HANG: "${last.name}" made no progress for ${stuckMs} ms after input ${last.index} ` +
          `(seed ${seed}; rerun with --only decoders to reproduce)`,
      );
    }
  }, 1000);
  worker.postMessage({ seed, scale, slowMs: 2000 });
  try {
    return await finished.promise;
  } finally {
    clearInterval(watchdog);
    worker.terminate();
  }
}

function decoderFindings(r: DecoderReport): number {
  return r.untyped + r.slow + r.overAllocations;
}

function serverFindings(r: ServerFuzzReport): number {
  return findingCount(r);
}

function printDecoders(reports: DecoderReport[]): void {
  console.log("\nDecoders and format parsers (mutated inputs, in memory):\n");
  console.log(
    "| decoder | inputs | decoded | typed errors | other errors | slowest | most memory grown |",
  );
  console.log("|---|---:|---:|---|---:|---:|---:|");
  for (const r of reports) {
    const typed = Object.entries(r.typedErrors).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(
      `| ${r.name} | ${r.inputs} | ${r.accepted} | ${typed} | ${r.untyped} | ` +
        `${r.maxMs.toFixed(1)} ms | ${mib(r.maxGrowth)} |`,
    );
  }
  for (const r of reports) {
    for (const s of r.untypedSamples) {
      console.log(`\n${r.name} #${s.index}: ${s.message}\n  input ${s.input}`);
    }
    for (const s of r.overAllocationSamples) {
      console.log(
        `\n${r.name} #${s.index}: ${s.inputLength}-byte input grew memory by ${mib(s.grew)}`,
      );
    }
  }
}

function printServer(r: ServerFuzzReport, command: string): void {
  console.log(`\nLive server (${command}):\n`);
  const n = (x: number) => x.toLocaleString("en-US");
  const list = (o: Record<string, number>) =>
    Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${n(v)}`).join(", ");
  const s = r.scenarios;
  const c = r.checkers;
  const rows: [string, string][] = [
    [
      "packets handled (RAP + HTTP)",
      `${n(r.packets)}: ${n(r.rap.packetsHandled)} RAP (${n(r.rap.mutatedHandled)} mutated or ` +
      `garbage), ${n(r.http.requests)} HTTP requests answered (of ${n(r.http.sent)} sent)`,
    ],
    [
      "connections",
      `${n(r.connections)}: ${n(r.rap.connections)} RAP fuzzing (${n(r.rap.closedEarly)} closed ` +
      `by the server on a bad packet, ${n(r.rap.cutPastLinger)} of them with over 256 KiB ` +
      `still to send), ${n(r.http.connections)} HTTP fuzzing, ` +
      `${n(s.connections)} by the scenarios`,
    ],
    [
      "bytes sent / received",
      `${mib(r.rap.bytesSent + r.http.bytesSent)} / ${
        mib(r.rap.bytesReceived + r.http.bytesReceived)
      }`,
    ],
    ["HTTP connections by plan", list(r.http.plans)],
    ["HTTP replies by status", list(r.http.statuses)],
    ["abortive closes (SO_LINGER 0)", `${n(s.resets.sent)}: ${list(s.resets.modes)}`],
    [
      "descriptor exhaustion",
      `${n(s.holds.episodes)} holds, ${n(s.holds.held)} connections held, EMFILE hit in ` +
      `${n(s.holds.exhausted)}; ${n(s.holds.httpRefused)} HTTP connections over the limit refused`,
    ],
    [
      "nested self-rap:// OPENs",
      `${n(s.nests.sent)} sent, ${n(s.nests.refused)} refused, ${n(s.nests.opened)} opened`,
    ],
    [
      "path races",
      `${n(s.races.windows)} windows, ${n(s.races.swaps)} swaps, ${n(s.races.fuzzStreams)} ` +
      `fuzzing streams naming the racing paths; the racing client's ${n(s.races.opens)} OPENs: ` +
      `${n(s.races.inside)} inside, ${n(s.races.refused)} refused, ${
        n(s.races.outside)
      } outside, ` +
      `${n(s.races.other)} other`,
    ],
    [
      "hostile archives",
      `${n(s.archives.opens)} OPENs, ${n(s.archives.opened)} opened, ` +
      `${mib(s.archives.checked)} compared`,
    ],
    [
      "slow / oversized HTTP (python peers)",
      `${s.httpPeers.slowCut}/${s.httpPeers.slow} slow heads cut, ` +
      `${s.httpPeers.bigRefused}/${s.httpPeers.bigPosts} 8 MB bodies refused 413`,
    ],
    [
      "checkers",
      `RAP ${n(c.rap.reads)} reads (${mib(c.rap.bytes)}), ${c.rap.wrong} wrong, ` +
      `${c.rap.errors} failed, slowest ${c.rap.maxLatencyMs.toFixed(0)} ms; ` +
      (c.python
        ? `python ${
          n(c.python.ops)
        } ops, ${c.python.wrong} wrong, ${c.python.errors.length} failed; `
        : "python n/a; ") +
      `HTTP ${n(c.http.requests)} requests, ${c.http.wrong} wrong, ${c.http.errors} failed ` +
      `(${c.http.busy} 503 retried), slowest ${c.http.maxLatencyMs.toFixed(0)} ms`,
    ],
    [
      "scenario time (mean per run)",
      Object.entries(s.ms).map(([k, v]) =>
        `${k} ${((v ?? 0) / (s.runs[k as keyof typeof s.runs] ?? 1) / 1000).toFixed(1)} s`
      ).join(", "),
    ],
    ["server exits / internal errors", `${r.crashes} / ${r.internalErrors}`],
    ["descriptors: ulimit -n / peak open", `${r.files.limit ?? "n/a"} / ${r.files.peak}`],
    [
      "server RSS start / end / peak (bound)",
      `${mib(r.rss.start)} / ${mib(r.rss.end)} / ${mib(r.rss.peak)} (${mib(r.rss.limit)})`,
    ],
    ["findings", `${findingCount(r)} ${JSON.stringify(r.findingCounts)}`],
    ["time", `${r.seconds.toFixed(1)} s`],
  ];
  console.log("| | |\n|---|---|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  console.log("\nHostile archives (each OPEN's outcome):");
  for (const [uri, outcomes] of Object.entries(s.archives.outcomes)) {
    console.log(`  ${uri}: ${list(outcomes)}`);
  }
  const reasons = Object.entries(r.closeReasons).sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.log("\nMost frequent reasons the server gave for closing a RAP fuzzing connection:");
  for (const [reason, count] of reasons) console.log(`  ${String(count).padStart(7)}  ${reason}`);
  for (const f of r.findings) {
    console.log(`\n${f.kind.toUpperCase()}: ${f.detail}`);
    if (f.reproducer) console.log(`  reproducer: ${f.reproducer} (--replay ${f.reproducer})`);
  }
}

function findingCount(r: ServerFuzzReport): number {
  return Object.values(r.findingCounts).reduce((a, b) => a + (b ?? 0), 0);
}

async function replay(path: string): Promise<number> {
  const { seen, log } = await replayFinding(path);
  if (seen.length === 0) {
    console.log(`${path}: nothing reproduced (the server's last lines follow)`);
    for (const line of log.slice(-20)) console.log(`  ${line}`);
    return 0;
  }
  console.log(`${path}: reproduced`);
  for (const line of seen) console.log(`  ${line}`);
  return 1;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        packets: { type: "string" },
        seconds: { type: "string" },
        seed: { type: "string" },
        concurrency: { type: "string" },
        "http-concurrency": { type: "string" },
        "file-limit": { type: "string" },
        "no-scenarios": { type: "boolean" },
        findings: { type: "string" },
        replay: { type: "string" },
        scale: { type: "string" },
        only: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`fuzz: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.replay !== undefined) return await replay(values.replay);
  const num = (name: string, text: string | undefined, fallback: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`--${name} expects a number`);
    return value;
  };
  let seed, packets, scale, concurrency, httpConcurrency, fileLimit, seconds;
  try {
    seed = num("seed", values.seed, 1);
    packets = num("packets", values.packets, 50_000);
    scale = num("scale", values.scale, 0.1);
    concurrency = Math.max(1, num("concurrency", values.concurrency, 32));
    httpConcurrency = num("http-concurrency", values["http-concurrency"], 16);
    fileLimit = Math.max(64, num("file-limit", values["file-limit"], 512));
    seconds = values.seconds === undefined ? undefined : num("seconds", values.seconds, 0);
  } catch (error) {
    console.error(`fuzz: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.only !== undefined && values.only !== "decoders" && values.only !== "server") {
    console.error(`fuzz: --only expects "decoders" or "server"\n\n${USAGE}`);
    return 2;
  }
  let findings = 0;
  const output: Record<string, unknown> = { seed };

  if (values.only !== "server") {
    const reports: DecoderReport[] = [];
    const failure = await decodersInWorker(seed, scale, 30_000, (r) => {
      reports.push(r);
      if (!values.json) {
        console.error(`  ${r.name}: ${r.inputs} inputs, ${decoderFindings(r)} findings`);
      }
    });
    findings += reports.reduce((n, r) => n + decoderFindings(r), 0);
    if (failure) {
      findings++;
      console.log(`\n${failure}`);
    }
    output.decoders = reports;
    if (!values.json) printDecoders(reports);
  }

  if (values.only !== "decoders") {
    const command = `deno run -A bench/fuzz.ts --only server --packets ${packets}` +
      (seconds !== undefined ? ` --seconds ${seconds}` : "") +
      ` --seed ${seed} --concurrency ${concurrency} --http-concurrency ${httpConcurrency}` +
      ` --file-limit ${fileLimit}` + (values["no-scenarios"] ? " --no-scenarios" : "");
    const report = await fuzzServer({
      seed,
      packets,
      seconds,
      concurrency,
      httpConcurrency,
      fileLimit,
      ...(values["no-scenarios"] ? { scenarios: [] } : {}),
      findingsDir: values.findings ?? "fuzz-findings",
      progress: values.json ? undefined : (line) => console.error(`  ${line}`),
    });
    findings += serverFindings(report);
    output.server = report;
    if (!values.json) printServer(report, command);
  }
  if (values.json) console.log(JSON.stringify(output, null, 2));
  else console.log(findings === 0 ? "\nNo findings." : `\n${findings} finding(s).`);
  return findings === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
