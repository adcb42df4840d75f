/**
 * What the server fuzz found, and how to replay it: each finding (a crash, a hang, a wrong
 * byte, outside bytes in a reply, a self-dial, a reply that does not parse, an internal
 * error, a server that exited or grew past its memory bound) is kept with a reproducer, a
 * JSON file naming the run's seed, its served tree and ports, and the bytes the connections
 * in question sent (`deno run -A bench/fuzz.ts --replay FILE` sends them again).
 *
 * @module
 */

import { concatBytes as join } from "../lib/protocol/bytes.ts";

/** The kinds of finding. */
export type FindingKind =
  | "crash"
  | "exit"
  | "hang"
  | "bad-reply"
  | "internal-error"
  | "leak"
  | "self-dial"
  | "wrong-byte"
  | "checker-error"
  | "rss"
  | "scenario";

/** One connection's bytes in a reproducer. */
export interface ReproStream {
  /** Which listener it went to. */
  port: "rap" | "http";
  /** What was sent, hex; for slow HTTP plans, one entry per step. */
  hex: string[];
  /** Milliseconds waited before each step (same length as `hex`). */
  pauses: number[];
  /** Whether it half-closed after the last step. */
  closeWrite: boolean;
  /** RAP: the payload limit its extension probe asked for (replies decoded accordingly). */
  extensions?: number;
}

/** A reproducer file. */
export interface Reproducer {
  /** The kind of finding. */
  kind: FindingKind;
  /** What was seen. */
  detail: string;
  /** The run's seed (the served tree is made from it). */
  seed: number;
  /**
   * The run's served dir, outside dir and ports (replays put their own in their place), and
   * how its server and bombs were made.
   */
  setup: {
    dir: string;
    outside: string;
    rap: number;
    http: number;
    fileLimit: number;
    connections: number;
    packetTimeout: number;
    bombSize: number;
  };
  /** The connections to replay (all at once). */
  streams: ReproStream[];
  /** The scenario under way, if the finding came from one. */
  scenario?: { name: string; params: Record<string, unknown> };
  /** The server's last log lines. */
  log: string[];
}

/** One finding in the report. */
export interface Finding {
  /** Its kind. */
  kind: FindingKind;
  /** What was seen. */
  detail: string;
  /** The reproducer's path, when saved. */
  reproducer?: string;
}

/**
 * Bytes as hex.
 *
 * @param bytes The bytes.
 * @returns Lower-case hex.
 *
 * @example
 * ```ts
 * import { fromHex, toHex } from "./_fuzz_findings.ts";
 * console.assert(toHex(new Uint8Array([1, 255])) === "01ff");
 * console.assert(fromHex("01ff")[1] === 255);
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Hex back to bytes.
 *
 * @param hex Hex digits.
 * @returns The bytes.
 */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Looks for markers (bytes that only exist outside the served scope) in a stream of reply
 * chunks, across chunk boundaries.
 *
 * @example
 * ```ts
 * import { LeakScanner } from "./_fuzz_findings.ts";
 * import assert from "node:assert/strict";
 *
 * const scanner = new LeakScanner([new Uint8Array([1, 2, 3, 4])]);
 * assert.equal(scanner.scan(new Uint8Array([9, 1, 2])), false);
 * assert.equal(scanner.scan(new Uint8Array([3, 4, 9])), true);
 * ```
 */
export class LeakScanner {
  readonly #needles: readonly Uint8Array[];
  readonly #keep: number;
  #tail = new Uint8Array(0);

  /**
   * Make one.
   *
   * @param needles The markers (non-empty byte strings).
   */
  constructor(needles: readonly Uint8Array[]) {
    this.#needles = needles;
    this.#keep = Math.max(0, ...needles.map((n) => n.length - 1));
  }

  /**
   * Scan the next chunk.
   *
   * @param chunk Received bytes.
   * @returns Whether a marker ends in this chunk.
   */
  scan(chunk: Uint8Array): boolean {
    if (this.#needles.length === 0) return false;
    const seam = this.#tail.length > 0
      ? join([this.#tail, chunk.subarray(0, this.#keep)])
      : new Uint8Array(0);
    const found = holds(seam, this.#needles) || holds(chunk, this.#needles);
    const from = Math.max(0, chunk.length - this.#keep);
    this.#tail = chunk.length >= this.#keep
      ? chunk.slice(from)
      : join([this.#tail, chunk]).slice(-this.#keep);
    return found;
  }
}

function holds(haystack: Uint8Array, needles: readonly Uint8Array[]): boolean {
  for (const needle of needles) {
    const first = needle[0];
    for (let i = haystack.indexOf(first); i >= 0; i = haystack.indexOf(first, i + 1)) {
      if (i + needle.length > haystack.length) break;
      let j = 1;
      while (j < needle.length && haystack[i + j] === needle[j]) j++;
      if (j === needle.length) return true;
    }
  }
  return false;
}

/** Most reproducer files saved per kind (the count goes on). */
const SAVED_PER_KIND = 20;

/**
 * The findings of one run, each saved as a reproducer file when a directory is given.
 *
 * @example
 * ```ts
 * import { Findings } from "./_fuzz_findings.ts";
 * import assert from "node:assert/strict";
 *
 * const findings = new Findings(undefined);
 * await findings.add({
 *   kind: "hang", detail: "no reply", seed: 1, streams: [], log: [],
 *   setup: {
 *     dir: "/tmp/x", outside: "/tmp/y", rap: 1, http: 2,
 *     fileLimit: 512, connections: 2048, packetTimeout: 2000, bombSize: 1 << 26,
 *   },
 * });
 * assert.equal(findings.count, 1);
 * assert.equal(findings.counts.hang, 1);
 * ```
 */
export class Findings {
  /** Every finding (details of the first few per kind). */
  readonly list: Finding[] = [];
  /** Count per kind. */
  readonly counts: Partial<Record<FindingKind, number>> = {};
  readonly #dir: string | undefined;

  /**
   * Make the list.
   *
   * @param dir Where reproducers are saved (created on the first finding); none: not saved.
   */
  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /** How many findings in all. */
  get count(): number {
    return Object.values(this.counts).reduce((a, b) => a + (b ?? 0), 0);
  }

  /**
   * Record a finding and save its reproducer.
   *
   * @param repro The reproducer (kind and detail included).
   * @returns The finding.
   */
  async add(repro: Reproducer): Promise<Finding> {
    const n = (this.counts[repro.kind] ?? 0) + 1;
    this.counts[repro.kind] = n;
    const finding: Finding = { kind: repro.kind, detail: repro.detail };
    if (n > SAVED_PER_KIND) return finding;
    if (this.#dir !== undefined) {
      await Deno.mkdir(this.#dir, { recursive: true });
      const path = `${this.#dir}/seed${repro.seed}-${repro.kind}-${n}.json`;
      await Deno.writeTextFile(path, JSON.stringify(repro, null, 1) + "\n");
      finding.reproducer = path;
    }
    this.list.push(finding);
    return finding;
  }
}
