/**
 * The options and the report of the server fuzz (`_fuzz_server.ts`).
 *
 * @module
 */

import type { CheckerReport, HttpCheckReport, PythonCheckReport } from "./_fuzz_checkers.ts";
import type { Finding, FindingKind } from "./_fuzz_findings.ts";
import { type ScenarioName, type ScenarioStats, scenarioStats } from "./_fuzz_scenarios.ts";

/**
 * Options of `fuzzServer`.
 *
 * @example
 * ```ts
 * import type { ServerFuzzOptions } from "./_fuzz_report.ts";
 * const options: ServerFuzzOptions = { seed: 1, packets: 10_000 };
 * console.assert(options.packets === 10_000);
 * ```
 */
export interface ServerFuzzOptions {
  /** Seed of every random choice. */
  seed: number;
  /** Stop once the server has handled this many RAP packets and HTTP requests together. */
  packets: number;
  /** Stop after this many seconds even if fewer were handled (default: no limit). */
  seconds?: number;
  /** RAP fuzzing connections open at once (default 32). */
  concurrency?: number;
  /** HTTP fuzzing connections open at once (default 16). */
  httpConcurrency?: number;
  /** Packets per RAP connection: a random count up to this (default 600). */
  maxPacketsPerConnection?: number;
  /** Probability that a packet is mutated (default: varies per connection, 0.002 to 0.2). */
  mutationRate?: number;
  /** A connection that neither answers nor closes for this long is a hang (default 15000 ms). */
  hangMs?: number;
  /** A checker request slower than this is an error (default 15000 ms). */
  stallMs?: number;
  /**
   * The server's `--packet-timeout`, ms: slow HTTP and RAP senders are cut then (default
   * 5000; short ones time out checker requests that arrived whole on a starved machine).
   */
  packetTimeout?: number;
  /** The server's `ulimit -n` (default 512). */
  fileLimit?: number;
  /** Zeros in each bomb stream (default 64 MiB). */
  bombSize?: number;
  /** A peak RSS over this is a finding (default 1 GiB). */
  rssLimit?: number;
  /** Which scenarios take turns (default all; none without python3). */
  scenarios?: readonly ScenarioName[];
  /** Each scenario runs at least this many times before the run may end (default 1). */
  minScenarioRuns?: number;
  /** Pause between two scenarios, ms (default 500). */
  scenarioPauseMs?: number;
  /** How long races and holds last, ms (default 2000). */
  windowMs?: number;
  /** Abortive closes per reset scenario (default 100). */
  resetCount?: number;
  /** Where reproducers are saved (default: not saved). */
  findingsDir?: string;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

/** Counters of the RAP fuzzing connections. */
export interface RapFuzzStats {
  /** Connections made. */
  connections: number;
  /**
   * Packets the server consumed: on each connection, as many of the stream's packets as it
   * answered, plus the one that made it close the connection (if it did).
   */
  packetsHandled: number;
  /** Of those, mutated or garbage ones. */
  mutatedHandled: number;
  /** Packets whose bytes the socket accepted (handled or not). */
  packetsWritten: number;
  /** Replies received, all well-formed. */
  replies: number;
  /** Connections the server closed before the end of their stream. */
  closedEarly: number;
  /**
   * Of those, connections with a reply cut short and more than the server drains after a
   * fatal packet still to send (`LINGER_BYTES`): a reset there is by design, not a finding.
   */
  cutPastLinger: number;
  /** Bytes sent / received. */
  bytesSent: number;
  /** Reply bytes received. */
  bytesReceived: number;
}

/** Counters of the HTTP fuzzing connections. */
export interface HttpFuzzStats {
  /** Connections made. */
  connections: number;
  /** Requests answered (final replies received, all well-formed). */
  requests: number;
  /** Requests sent (complete or not). */
  sent: number;
  /** Connections per plan kind. */
  plans: Record<string, number>;
  /** Replies per status. */
  statuses: Record<string, number>;
  /** Bytes sent / received. */
  bytesSent: number;
  /** Reply bytes received. */
  bytesReceived: number;
}

/**
 * What `fuzzServer` found.
 *
 * @example
 * ```ts
 * import type { ServerFuzzReport } from "./_fuzz_report.ts";
 * const ok = (r: ServerFuzzReport) => r.findings.length === 0;
 * console.assert(typeof ok === "function");
 * ```
 */
export interface ServerFuzzReport {
  /** The seed. */
  seed: number;
  /** RAP packets handled plus HTTP requests answered. */
  packets: number;
  /** Every connection made to the server (fuzzing, scenarios, checkers). */
  connections: number;
  /** RAP fuzzing. */
  rap: RapFuzzStats;
  /** HTTP fuzzing. */
  http: HttpFuzzStats;
  /** The scenarios. */
  scenarios: ScenarioStats;
  /** The checkers: in-process RAP, python RAP (`rap_peer.py check`), HTTP. */
  checkers: {
    rap: CheckerReport;
    python: PythonCheckReport | undefined;
    http: HttpCheckReport;
  };
  /** The findings (the first few of each kind in full), with their reproducers. */
  findings: Finding[];
  /** Findings per kind. */
  findingCounts: Partial<Record<FindingKind, number>>;
  /** Times the server process exited (it is restarted after each). */
  crashes: number;
  /** Log lines of internal errors (RAP "internal error", HTTP "handler failed"). */
  internalErrors: number;
  /** How RAP fuzzing connections ended, per server log reason (numbers and quotes stripped). */
  closeReasons: Record<string, number>;
  /** The server's `ulimit -n`, and the most descriptors it had open (sampled). */
  files: { limit: number | undefined; peak: number };
  /** Server RSS after start-up, at the end, peak (VmHWM), and the bound; bytes. */
  rss: { start?: number; end?: number; peak?: number; limit: number };
  /** Wall time, seconds. */
  seconds: number;
}

/**
 * A report with every count at zero.
 *
 * @param seed The run's seed.
 * @param rssLimit The RSS bound.
 * @param findings The run's findings list and counts (filled as they come).
 * @returns The report.
 *
 * @example
 * ```ts
 * import { emptyReport } from "./_fuzz_report.ts";
 * const report = emptyReport(1, 1 << 30, { list: [], counts: {} });
 * console.assert(report.packets === 0 && report.rss.limit === 1 << 30);
 * ```
 */
export function emptyReport(
  seed: number,
  rssLimit: number,
  findings: { list: Finding[]; counts: Partial<Record<FindingKind, number>> },
): ServerFuzzReport {
  return {
    seed,
    packets: 0,
    connections: 0,
    rap: {
      connections: 0,
      packetsHandled: 0,
      mutatedHandled: 0,
      packetsWritten: 0,
      replies: 0,
      closedEarly: 0,
      cutPastLinger: 0,
      bytesSent: 0,
      bytesReceived: 0,
    },
    http: {
      connections: 0,
      requests: 0,
      sent: 0,
      plans: {},
      statuses: {},
      bytesSent: 0,
      bytesReceived: 0,
    },
    scenarios: scenarioStats(),
    checkers: {
      rap: { reads: 0, bytes: 0, wrong: 0, errors: 0, samples: [], maxLatencyMs: 0 },
      python: undefined,
      http: { requests: 0, wrong: 0, errors: 0, samples: [], busy: 0, maxLatencyMs: 0 },
    },
    findings: findings.list,
    findingCounts: findings.counts,
    crashes: 0,
    internalErrors: 0,
    closeReasons: {},
    files: { limit: undefined, peak: 0 },
    rss: { limit: rssLimit },
    seconds: 0,
  };
}
