/**
 * Replay a reproducer of the server fuzz (`deno run -A bench/fuzz.ts --replay FILE`): the
 * served tree is made again from the run's seed (with paths of the same lengths), a fresh
 * `cli.ts serve` is started as the fuzz starts it, the recorded connections are sent again
 * at once (the run's paths and ports replaced by the new ones), or the recorded scenario is
 * run again; then what the fuzz would have reported is checked.
 *
 * @module
 */

import { fromHex, type Reproducer } from "./_fuzz_findings.ts";
import { runHttpConnection } from "./_fuzz_http.ts";
import { runRapConnection } from "./_fuzz_rap.ts";
import {
  runScenario,
  type ScenarioName,
  scenarioRandom,
  SCENARIOS,
  scenarioStats,
} from "./_fuzz_scenarios.ts";
import { makeFuzzSetup, startFuzzServe } from "./_fuzz_setup.ts";

/** What a replay saw. */
export interface ReplayResult {
  /** What reproduced, one line each (empty: nothing did). */
  seen: string[];
  /** The server's log lines during the replay (the last 200). */
  log: string[];
}

/** Put the new paths and ports where the run's were, byte for byte. */
function substitute(bytes: Uint8Array, pairs: [string, string][]): Uint8Array {
  // One character per byte (TextDecoder's "latin1" is windows-1252: 0x80-0x9f would change).
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  for (const [from, to] of pairs) text = text.replaceAll(from, to);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Replay one reproducer file.
 *
 * @param path The JSON file a fuzz run saved.
 * @param options The hang deadline (default 15000 ms) and how many times a scenario is run
 *   again (default 3).
 * @returns What reproduced.
 */
export async function replayFinding(
  path: string,
  options: { hangMs?: number; scenarioRuns?: number } = {},
): Promise<ReplayResult> {
  const repro = JSON.parse(await Deno.readTextFile(path)) as Reproducer;
  const old = repro.setup;
  const setup = await makeFuzzSetup(repro.seed, {
    bombSize: old.bombSize,
    pathLengths: { dir: old.dir.length, outside: old.outside.length },
  });
  const log: string[] = [];
  const seen: string[] = [];
  const server = await startFuzzServe(setup, {
    fileLimit: old.fileLimit,
    connections: old.connections,
    packetTimeout: old.packetTimeout,
    onLog: (line) => {
      log.push(line);
      if (log.length > 200) log.shift();
      if (/internal error|handler failed|Uncaught|panicked/.test(line)) seen.push(`log: ${line}`);
    },
  });
  try {
    const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);
    const pairs: [string, string][] = [
      [old.outside, setup.outside],
      [old.dir, setup.dir],
      [base(old.outside), base(setup.outside)], // in DIR/../OUTSIDE paths
      [`:${old.rap}`, `:${server.port}`],
      [`:${old.http}`, `:${server.httpPort}`],
    ];
    const hangMs = options.hangMs ?? 15_000;
    await Promise.all(repro.streams.map(async (stream, i) => {
      const parts = stream.hex.map((hex) => substitute(fromHex(hex), pairs));
      if (stream.port === "rap") {
        const outcome = await runRapConnection(server.port, {
          bytes: parts[0],
          ends: [],
          mutated: [],
        }, { hangMs, markers: setup.markers, extensions: stream.extensions });
        if (outcome.hung) seen.push(`stream ${i} (RAP): hang`);
        if (outcome.badReply) seen.push(`stream ${i} (RAP): bad reply: ${outcome.badReply}`);
        if (outcome.leaked) seen.push(`stream ${i} (RAP): outside bytes in a reply`);
      } else {
        const outcome = await runHttpConnection(server.httpPort, {
          kind: "replay",
          steps: parts.map((bytes, j) => ({ pauseMs: stream.pauses[j] ?? 0, bytes })),
          requests: parts.length,
          closeWrite: stream.closeWrite,
        }, { hangMs, markers: setup.markers });
        if (outcome.hung) seen.push(`stream ${i} (HTTP): hang`);
        if (outcome.badReply) seen.push(`stream ${i} (HTTP): bad reply: ${outcome.badReply}`);
        if (outcome.leaked) seen.push(`stream ${i} (HTTP): outside bytes in a reply`);
        if (outcome.statuses.includes(500)) seen.push(`stream ${i} (HTTP): status 500`);
      }
    }));
    const name = repro.scenario?.name as ScenarioName | undefined;
    if (repro.streams.length === 0 && name !== undefined && SCENARIOS.includes(name)) {
      const stats = scenarioStats();
      for (let run = 0; run < (options.scenarioRuns ?? 3); run++) {
        await runScenario(name, {
          ports: () => ({ rap: server.port, http: server.httpPort }),
          setup,
          fileLimit: old.fileLimit,
          windowMs: 2000,
          resetCount: 100,
          // The first run repeats the recorded one's choices.
          random: scenarioRandom(repro.seed, Number(repro.scenario?.params.run ?? 0) + 1000 * run),
          stats,
          logCount: () => 0,
          finding: (kind, detail) => Promise.resolve(seen.push(`${name}: ${kind}: ${detail}`)),
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (server.exited) {
      const status = await server.status;
      seen.push(`server exited: code ${status.code} ${status.signal ?? ""}`);
    }
    if (!await setup.outsideUnchanged()) seen.push("a file outside the scope changed");
  } finally {
    await server.stop("SIGTERM", 10_000);
    await setup.remove();
  }
  return { seen, log };
}
