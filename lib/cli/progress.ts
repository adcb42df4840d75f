/**
 * A progress line on standard error (`rap cat` to a file or a pipe, watched on a
 * terminal): bytes done, percentage, rate and time left, redrawn at most a few times a
 * second and cleared at the end. Shown only when standard error is a terminal.
 *
 * @module
 */

/**
 * Options of a {@linkcode Progress}.
 *
 * @example
 * ```ts
 * import type { ProgressOptions } from "@rap/cli/commands";
 * const options: ProgressOptions = { total: 100, write: () => {} };
 * console.assert(options.total === 100);
 * ```
 */
export interface ProgressOptions {
  /** The bytes there are to do. */
  total: number;
  /** What the line starts with (default `rap cat`). */
  label?: string;
  /**
   * Write text to the terminal (default: standard error).
   *
   * @param text The text (it starts with a carriage return).
   */
  write?: (text: string) => void;
  /** The clock, in milliseconds (default `performance.now`). */
  now?: () => number;
  /** The least time between two redraws, in milliseconds (default 250). */
  interval?: number;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `256 MiB`.
 *
 * @param bytes The count.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatBytes } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatBytes(512), "512 B");
 * assert.equal(formatBytes(1536), "1.5 KiB");
 * assert.equal(formatBytes(256 * 2 ** 20), "256 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || value >= 100 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown.replace(/\.0$/, "")} ${UNITS[unit]}`;
}

/** Seconds for people: `42 s`, `3 min 5 s`, `2 h 1 min`. */
function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * A progress line: call {@linkcode Progress.update} as bytes are done (the first call
 * draws it, later ones redraw it at most every `interval` ms) and
 * {@linkcode Progress.clear} at the end.
 *
 * @example
 * ```ts
 * import { Progress } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * let clock = 0;
 * const lines: string[] = [];
 * const progress = new Progress({ total: 4096, write: (t) => lines.push(t), now: () => clock });
 * clock = 1000;
 * progress.update(1024);
 * clock = 1100;
 * progress.update(2048); // 100 ms after the last draw: not drawn
 * progress.clear();
 * assert.equal(lines[0], "\r\x1b[2Krap cat: 1 KiB of 4 KiB (25%), 1 KiB/s, 3 s left");
 * assert.equal(lines.length, 2);
 * assert.equal(lines[1], "\r\x1b[2K");
 * ```
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #start: number;
  #drawn = false;
  #last: number;

  /**
   * Create it (the first update draws the line; later ones at most every interval).
   *
   * @param options See {@linkcode ProgressOptions}.
   */
  constructor(options: ProgressOptions) {
    const encoder = new TextEncoder();
    this.#total = options.total;
    this.#label = options.label ?? "rap cat";
    this.#write = options.write ?? ((text) => {
      try {
        Deno.stderr.writeSync(encoder.encode(text));
      } catch { /* a progress line is never worth an error */ }
    });
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.interval ?? 250;
    this.#start = this.#now();
    this.#last = -Infinity;
  }

  /**
   * Bytes done so far: redraw the line if the last draw is an interval old.
   *
   * @param done The bytes done.
   */
  update(done: number): void {
    const now = this.#now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const percent = this.#total > 0 ? Math.floor((done / this.#total) * 100) : 100;
    let line = `${this.#label}: ${formatBytes(done)} of ${formatBytes(this.#total)} ` +
      `(${percent}%), ${formatBytes(rate)}/s`;
    if (rate > 0) line += `, ${formatSeconds((this.#total - done) / rate)} left`;
    this.#write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Erase the line, if one was drawn. */
  clear(): void {
    if (this.#drawn) this.#write("\r\x1b[2K");
    this.#drawn = false;
  }
}

/**
 * Whether `rap cat` shows a progress line: standard error is a terminal, and standard
 * output is not (the bytes would be on the same screen).
 *
 * @returns Whether to show it.
 *
 * @example
 * ```ts
 * import { wantsProgress } from "@rap/cli/commands";
 * console.assert(typeof wantsProgress() === "boolean");
 * ```
 */
export function wantsProgress(): boolean {
  return Deno.stderr.isTerminal() && !Deno.stdout.isTerminal();
}
