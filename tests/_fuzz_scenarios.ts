/**
 * The server fuzz's scenarios: what needs raw sockets or another process, run one at a
 * time while the RAP and HTTP fuzzing connections go on. Each uses the python3 outside
 * peers of tests/peers/: abortive closes (SO_LINGER 0 resets before accept, in the middle
 * of a request, in the middle of a reply), descriptor exhaustion (more held connections than
 * the server's `ulimit -n`, then released), HTTP slots held, nested self-`rap://` OPENs,
 * symbolic-link races on a read and a write scope, slow and oversized HTTP requests; and,
 * in process, OPENs of the hostile archives with their bytes checked.
 *
 * @module
 */

import { RapClient } from "../lib/client/client.ts";
import { encodePacket } from "../lib/protocol/encode.ts";
import { concatBytes as join } from "../lib/protocol/bytes.ts";
import { toHex } from "./_fuzz_findings.ts";
import type { FindingKind } from "./_fuzz_findings.ts";
import type { FuzzSetup, RaceSite } from "./_fuzz_setup.ts";
import { runPeer, startPeer } from "./_peer.ts";
import { Random } from "./_random.ts";

/**
 * The scenarios, in the order they take turns.
 *
 * @example
 * ```ts
 * import { SCENARIOS, scenarioStats } from "./_fuzz_scenarios.ts";
 * console.assert(SCENARIOS.includes("race-read") && scenarioStats().nests.opened === 0);
 * ```
 */
export const SCENARIOS = [
  "reset-rap",
  "nest",
  "archives",
  "race-read",
  "hold-rap",
  "reset-http",
  "race-write",
  "http-peers",
  "hold-http",
] as const;

/** A scenario's name. */
export type ScenarioName = typeof SCENARIOS[number];

/** Counters the scenarios keep (in the report). */
export interface ScenarioStats {
  /** Times each scenario ran. */
  runs: Partial<Record<ScenarioName, number>>;
  /** Milliseconds spent in each scenario, in all. */
  ms: Partial<Record<ScenarioName, number>>;
  /** Connections the scenarios made (resets, held, OPENs of the racing client ...). */
  connections: number;
  /** Abortive closes sent, by mode (`connect`: before accept, `partial`, `reply`). */
  resets: { sent: number; modes: Record<string, number> };
  /** Descriptor exhaustion: episodes, connections held, episodes the server hit EMFILE in. */
  holds: { episodes: number; held: number; exhausted: number; httpRefused: number };
  /** Self-`rap://` OPENs sent, refused, opened (must stay 0). */
  nests: { sent: number; refused: number; opened: number };
  /** Race windows, swaps, and what the racing client's OPENs got. */
  races: {
    windows: number;
    swaps: number;
    /** RAP fuzzing connections whose stream names a racing path, during a window. */
    fuzzStreams: number;
    opens: number;
    refused: number;
    inside: number;
    outside: number;
    other: number;
  };
  /** Archive OPENs: per archive URI, how many were refused (by reason) or opened; bytes compared. */
  archives: {
    opens: number;
    opened: number;
    outcomes: Record<string, Record<string, number>>;
    checked: number;
  };
  /** Slow HTTP heads cut by the server, oversized bodies refused, r2-style GETs. */
  httpPeers: { slow: number; slowCut: number; bigPosts: number; bigRefused: number; gets: number };
}

/**
 * A new, zeroed {@linkcode ScenarioStats}.
 *
 * @returns The counters.
 */
export function scenarioStats(): ScenarioStats {
  return {
    runs: {},
    ms: {},
    connections: 0,
    resets: { sent: 0, modes: {} },
    holds: { episodes: 0, held: 0, exhausted: 0, httpRefused: 0 },
    nests: { sent: 0, refused: 0, opened: 0 },
    races: {
      windows: 0,
      swaps: 0,
      fuzzStreams: 0,
      opens: 0,
      refused: 0,
      inside: 0,
      outside: 0,
      other: 0,
    },
    archives: { opens: 0, opened: 0, outcomes: {}, checked: 0 },
    httpPeers: { slow: 0, slowCut: 0, bigPosts: 0, bigRefused: 0, gets: 0 },
  };
}

/** What a scenario is given. */
export interface ScenarioContext {
  /** The running server's ports. */
  ports: () => { rap: number; http: number };
  /** Told when a race window opens (the racing path given) and closes (undefined). */
  racing?: (site: RaceSite | undefined) => void;
  /** The served tree. */
  setup: FuzzSetup;
  /** The server's `ulimit -n`. */
  fileLimit: number;
  /** How long races and holds last, ms. */
  windowMs: number;
  /** Abortive closes per reset scenario. */
  resetCount: number;
  /** This run's generator. */
  random: Random;
  /** The stats to update. */
  stats: ScenarioStats;
  /** Server log lines matching `pattern` since the server started. */
  logCount: (pattern: RegExp) => number;
  /** Record a finding of this scenario (with its parameters, for the reproducer). */
  finding: (kind: FindingKind, detail: string, params: Record<string, unknown>) => Promise<unknown>;
}

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function add(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Abortive closes against one port, with a payload whose reply is large. */
async function resets(ctx: ScenarioContext, port: number, payload: Uint8Array): Promise<void> {
  const params = {
    port,
    count: ctx.resetCount,
    send: toHex(payload),
    modes: "connect,partial,reply",
    seed: ctx.random.int(1 << 30),
  };
  const result = await runPeer("rap_peer.py", [
    "reset",
    "127.0.0.1",
    port,
    "--count",
    params.count,
    "--send",
    params.send,
    "--modes",
    params.modes,
    "--read",
    65536,
    "--seed",
    params.seed,
  ]);
  ctx.stats.resets.sent += result.sent as number;
  ctx.stats.connections += result.sent as number;
  add(ctx.stats.resets.modes, result.modes as Record<string, number>);
}

/** Wait until a plain RAP request is answered again (after a hold); false after `ms`. */
async function rapServes(port: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      await using client = await RapClient.connect({ hostname: "127.0.0.1", port, timeout: 2000 });
      await client.cmd("#");
      return true;
    } catch {
      await sleep(100);
    }
  }
  return false;
}

/** Wait until the HTTP port answers a request again; false after `ms`. */
async function httpServes(port: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const result = await runPeer("http_peer.py", [
      "get",
      "127.0.0.1",
      port,
      "/cmd/?e back",
      "--timeout",
      2,
    ]).catch(() => undefined);
    const first = result?.first as { status_line?: string } | undefined;
    if (first?.status_line?.includes(" 200 ")) return true;
    await sleep(100);
  }
  return false;
}

/** Hold `count` idle connections to `port` for the window, then release them. */
async function hold(ctx: ScenarioContext, port: number, count: number): Promise<number> {
  await using holder = startPeer("rap_peer.py", [
    "hold",
    "127.0.0.1",
    port,
    "--count",
    count,
    "--seconds",
    60,
    "--connect-timeout",
    2,
  ]);
  const holding = await holder.waitFor("holding");
  await sleep(ctx.windowMs);
  await holder.release();
  const result = await holder.result;
  ctx.stats.holds.episodes++;
  ctx.stats.holds.held += holding.connected as number;
  ctx.stats.connections += (holding.connected as number) + (result.reconnects as number);
  return result.closed_by_server as number;
}

async function holdRap(ctx: ScenarioContext): Promise<void> {
  const { rap } = ctx.ports();
  const before = ctx.logCount(/accept failed .*Too many open files/);
  const count = ctx.fileLimit + 64;
  await hold(ctx, rap, count);
  if (ctx.logCount(/accept failed .*Too many open files/) > before) ctx.stats.holds.exhausted++;
  if (!await rapServes(rap, 15_000)) {
    await ctx.finding("hang", "the RAP port did not serve again within 15 s of a hold", {
      count,
    });
  }
}

async function holdHttp(ctx: ScenarioContext): Promise<void> {
  const { http } = ctx.ports();
  // Past --http-max-connections (128): the rest are answered 503 and closed.
  ctx.stats.holds.httpRefused += await hold(ctx, http, 200);
  if (!await httpServes(http, 15_000)) {
    await ctx.finding("hang", "the HTTP port did not serve again within 15 s of a hold", {
      count: 200,
    });
  }
}

async function nest(ctx: ScenarioContext): Promise<void> {
  const names = ctx.setup.selfTargets(ctx.ports());
  const result = await runPeer("rap_peer.py", [
    "nest",
    "127.0.0.1",
    ctx.ports().rap,
    ...names.flatMap((name) => ["--name", name]),
    "--count",
    2,
  ]);
  ctx.stats.connections++;
  ctx.stats.nests.sent += (result.opened as number) + (result.refused as number);
  ctx.stats.nests.refused += result.refused as number;
  ctx.stats.nests.opened += result.opened as number;
  if ((result.opened as number) > 0) {
    await ctx.finding("self-dial", `opened: ${JSON.stringify(result.opened_names)}`, { names });
  }
  if (result.closed) {
    await ctx.finding("scenario", `nest: connection lost: ${JSON.stringify(result.messages)}`, {
      names,
    });
  }
}

/** A short reason key: the message without its URI, numbers and quotes. */
function reasonKey(message: string): string {
  return message.replace(/^.*the server refused it: Cannot open "[^"]*": /, "")
    .replace(/"[^"]*"/g, '"…"').replace(/\d[\d.]*( ?[KMG]i?B)?/g, "N").slice(0, 90);
}

async function archives(ctx: ScenarioContext): Promise<void> {
  const { rap } = ctx.ports();
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: rap,
    timeout: 30_000,
    extensions: true,
  });
  ctx.stats.connections++;
  try {
    for (const archive of ctx.setup.archives) {
      const a = ctx.stats.archives;
      a.opens++;
      const outcomes = a.outcomes[archive.uri.replace(`${ctx.setup.dir}/bombs/`, "")] ??= {};
      let fd: number;
      try {
        fd = await client.open(archive.uri, 4);
      } catch (error) {
        const message = (error as Error).message;
        if (!/the server refused it: /.test(message)) throw error;
        const key = reasonKey(message);
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        continue;
      }
      a.opened++;
      outcomes.opened = (outcomes.opened ?? 0) + 1;
      const expect = archive.expect;
      if (expect !== undefined) {
        const size = "bytes" in expect ? expect.bytes.length : expect.size;
        for (let i = 0; i < 3; i++) {
          const offset = ctx.random.int(size);
          const length = Math.min(size - offset, 1 + ctx.random.int(65536));
          const got = await client.read(offset, length, fd);
          ctx.stats.archives.checked += length;
          const ok = "bytes" in expect
            ? got.every((b, j) => b === expect.bytes[offset + j])
            : got.every((b) => b === expect.fill);
          if (!ok) {
            await ctx.finding("wrong-byte", `${archive.uri}: wrong bytes at ${offset}+${length}`, {
              uri: archive.uri,
            });
          }
        }
      }
      await client.closeFile(fd);
    }
  } catch (error) {
    await ctx.finding("scenario", `archives: ${(error as Error).message}`, {});
  } finally {
    await client.close().catch(() => {});
  }
}

async function race(ctx: ScenarioContext, site: RaceSite, write: boolean): Promise<void> {
  const { rap } = ctx.ports();
  await using racer = startPeer("path_racer.py", [
    "swap",
    site.swapped,
    site.outsideDir,
    "--seconds",
    60,
    "--mode",
    ctx.random.pick(["exchange", "rename"]),
    // Thousands of swaps a second, not a whole CPU (which the server and the clients need).
    "--pause",
    0.0002,
  ]);
  await racer.waitFor("racing");
  ctx.racing?.(site);
  const counts = await runPeer("path_racer.py", [
    "opens",
    "127.0.0.1",
    rap,
    site.target,
    "--seconds",
    ctx.windowMs / 1000,
    "--inside",
    site.expected,
    "--outside",
    site.outsideFile,
    ...(write ? ["--write"] : []),
  ]).finally(() => ctx.racing?.(undefined));
  await racer.release();
  const swapped = await racer.result;
  const r = ctx.stats.races;
  r.windows++;
  r.swaps += swapped.swaps as number;
  for (const k of ["opens", "refused", "inside", "outside", "other"] as const) {
    r[k] += counts[k] as number;
  }
  ctx.stats.connections += counts.opens as number;
  const params = { target: site.target, write };
  if ((counts.outside as number) > 0 || (counts.other as number) > 0) {
    await ctx.finding("leak", `race: ${JSON.stringify(counts)}`, params);
  } else if ((counts.errors as string[]).length > 0) {
    await ctx.finding("scenario", `race: ${JSON.stringify(counts.errors)}`, params);
  }
  if (!await ctx.setup.outsideUnchanged()) {
    await ctx.finding("leak", "a file outside the scope changed", params);
  }
}

async function httpPeers(ctx: ScenarioContext): Promise<void> {
  const { http } = ctx.ports();
  const p = ctx.stats.httpPeers;
  // At once, on connections of their own: slowloris (one byte every 50 ms, far slower than
  // --packet-timeout allows), an 8 MB POST (over --http-max-body), r2-style GETs.
  const [slow, big, get] = await Promise.all([
    runPeer("http_peer.py", ["slow", "127.0.0.1", http, "--interval", 0.05, "--seconds", 12]),
    runPeer("http_peer.py", ["post", "127.0.0.1", http, "--length", 8_000_000]),
    runPeer("http_peer.py", ["get", "127.0.0.1", http, "/cmd/?e raw spaces here", "--count", 3]),
  ]);
  p.slow++;
  if (slow.closed) p.slowCut++;
  else await ctx.finding("hang", `a slow HTTP head was not cut: ${JSON.stringify(slow)}`, {});
  p.bigPosts++;
  if (big.status === 413) p.bigRefused++;
  else await ctx.finding("scenario", `an 8 MB POST got ${JSON.stringify(big)}`, {});
  p.gets += 3;
  const bodies = get.bodies as string[];
  if (get.eof !== 3 || bodies.length !== 1 || bodies[0] !== "raw spaces here\n") {
    await ctx.finding("wrong-byte", `r2-style GETs: ${JSON.stringify(get)}`, {});
  }
  ctx.stats.connections += 5;
}

/** A RAP payload whose replies make 2 MiB (for resets in the middle of a reply). */
function bigRapReply(setup: FuzzSetup): Uint8Array {
  const reads = Array.from({ length: 512 }, () => encodePacket({ type: "read", length: 4096 }));
  return join([
    encodePacket({ type: "open", flags: 4, name: setup.known.path }),
    encodePacket({ type: "seek", whence: 0, offset: 0n }),
    ...reads,
  ]);
}

/**
 * Run one scenario.
 *
 * @param name Which.
 * @param ctx What it is given.
 * @returns Resolves when it is over (its findings recorded).
 */
export async function runScenario(name: ScenarioName, ctx: ScenarioContext): Promise<void> {
  ctx.stats.runs[name] = (ctx.stats.runs[name] ?? 0) + 1;
  const started = performance.now();
  try {
    await scenario(name, ctx);
  } finally {
    ctx.stats.ms[name] = Math.round((ctx.stats.ms[name] ?? 0) + performance.now() - started);
  }
}

function scenario(name: ScenarioName, ctx: ScenarioContext): Promise<void> {
  switch (name) {
    case "reset-rap":
      return resets(ctx, ctx.ports().rap, bigRapReply(ctx.setup));
    case "reset-http":
      return resets(
        ctx,
        ctx.ports().http,
        encoder.encode(
          "GET /cmd/p8 262144 HTTP/1.1\r\nConnection: keep-alive\r\n\r\n".repeat(4) +
            "POST /cmd HTTP/1.1\r\nContent-Length: 16\r\n\r\n?e 0123456789ab",
        ),
      );
    case "nest":
      return nest(ctx);
    case "archives":
      return archives(ctx);
    case "race-read":
      return race(ctx, ctx.setup.readRace, false);
    case "race-write":
      return race(ctx, ctx.setup.writeRace, true);
    case "hold-rap":
      return holdRap(ctx);
    case "hold-http":
      return holdHttp(ctx);
    case "http-peers":
      return httpPeers(ctx);
  }
}

/**
 * A generator for one scenario run (so a reproducer can name its seed).
 *
 * @param seed The run's seed.
 * @param run The scenario run's number.
 * @returns The generator.
 *
 * @example
 * ```ts
 * import { scenarioRandom } from "./_fuzz_scenarios.ts";
 * console.assert(scenarioRandom(1, 2).u32() === scenarioRandom(1, 2).u32());
 * ```
 */
export function scenarioRandom(seed: number, run: number): Random {
  return new Random(seed * 7919 + run);
}
