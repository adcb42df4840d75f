/**
 * `deno task fuzz`: fuzz the pure decoders and format parsers in memory, then a live
 * `cli.ts serve` subprocess over many connections, and print what was found.
 *
 * ```sh
 * deno run -A bench/fuzz.ts [--packets N] [--seconds S] [--seed N] [--concurrency N]
 *                           [--scale X] [--only decoders|server] [--json]
 * ```
 *
 * Exit code 0 when nothing was found, 1 when something was (a crash, a hang, wrong bytes,
 * an untyped error, an over-allocation ...), 2 for a usage error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { DecoderReport } from "../tests/_fuzz_decoders.ts";
import { fuzzServer, type ServerFuzzReport } from "../tests/_fuzz_server.ts";
import { mib } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno run -A bench/fuzz.ts [options]

  --packets N       packets the server must handle (default 1000000)
  --seconds S       stop the server fuzz after S seconds even if fewer were handled
  --seed N          seed of every random choice (default 1)
  --concurrency N   fuzzing connections at once (default 32)
  --scale X         decoder inputs: X times 100,000 per in-memory parser, 10,000 per
                    file-based one and 2,000 for http (default 1)
  --only WHAT       "decoders" or "server" (default both)
  --json            print the reports as JSON
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
  return r.crashes.length + r.hangs + r.wrongBytes + r.badReplies + r.internalErrors +
    r.goodErrors;
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
  const rows: [string, string][] = [
    [
      "packets handled by the server",
      `${r.packetsHandled} (${r.mutatedHandled} mutated or garbage)`,
    ],
    ["packets written (incl. unread after a fatal one)", String(r.packetsWritten)],
    [
      "replies received, all well-formed",
      `${r.replies} (${r.badReplies} connections with bad replies)`,
    ],
    ["connections", `${r.connections} (${r.closedEarly} closed by the server on a bad packet)`],
    ["bytes sent / received", `${mib(r.bytesSent)} / ${mib(r.bytesReceived)}`],
    ["crashes (server exited)", String(r.crashes.length)],
    ["hangs (no answer, no close)", String(r.hangs)],
    ["internal errors in the server log", String(r.internalErrors)],
    [
      "checked client",
      `${r.goodReads} reads, ${mib(r.goodBytes)}, ${r.wrongBytes} wrong, ${r.goodErrors} failed, ` +
      `slowest ${r.goodMaxLatencyMs.toFixed(1)} ms`,
    ],
    ["server RSS start / end / peak", `${mib(r.rssStart)} / ${mib(r.rssEnd)} / ${mib(r.rssPeak)}`],
    ["time", `${r.seconds.toFixed(1)} s`],
  ];
  console.log("| | |\n|---|---|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  const reasons = Object.entries(r.closeReasons).sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.log("\nMost frequent reasons the server gave for closing a fuzzing connection:");
  for (const [reason, n] of reasons) console.log(`  ${String(n).padStart(7)}  ${reason}`);
  for (const c of r.crashes) console.log(`\nCRASH: exit ${c.code} ${c.signal ?? ""}\n${c.log}`);
  for (const h of r.hangSamples) console.log(`\nHANG stream: ${h}`);
  for (const s of r.badReplySamples) console.log(`\nBAD REPLY: ${s}`);
  for (const s of r.internalErrorSamples) {
    const stream = s.stream.length > 1024
      ? `${s.stream.slice(0, 1024)}... (--json has it all)`
      : s.stream;
    console.log(`\nINTERNAL ERROR: ${s.line}\n  stream ${stream}`);
  }
  for (const s of r.goodErrorSamples) console.log(`\nCHECKED CLIENT ERROR: ${s}`);
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
  const num = (name: string, text: string | undefined, fallback: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`--${name} expects a number`);
    return value;
  };
  let seed, packets, scale, concurrency, seconds;
  try {
    seed = num("seed", values.seed, 1);
    packets = num("packets", values.packets, 1_000_000);
    scale = num("scale", values.scale, 1);
    concurrency = Math.max(1, num("concurrency", values.concurrency, 32));
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
    const command = `deno run -A bench/fuzz.ts --packets ${packets}` +
      (seconds !== undefined ? ` --seconds ${seconds}` : "") +
      ` --seed ${seed} --concurrency ${concurrency}`;
    const report = await fuzzServer({
      seed,
      packets,
      seconds,
      concurrency,
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
