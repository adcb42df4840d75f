/**
 * Helpers of `bench/rap_bench.ts`: sizes, percentiles, child processes pinned to a CPU,
 * their memory, the machine description and the result table.
 *
 * @module
 */

/**
 * Parse a size such as `64M`, `256MiB`, `1G`, `16k` or `4096`.
 *
 * @param text The size.
 * @returns Bytes.
 * @throws {RangeError} If it is not a size.
 *
 * @example
 * ```ts
 * import { parseSize } from "./_bench_support.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseSize("64M"), 64 * 1024 * 1024);
 * assert.equal(parseSize("4096"), 4096);
 * ```
 */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`Not a size: "${text}" (use e.g. 64M, 1G, 4096)`);
  const unit = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40 }[m[2].toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

/**
 * Format a byte count with a binary unit (`256 MiB`).
 *
 * @param bytes The count.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./_bench_support.ts";
 * console.assert(formatBytes(64 * 1024 * 1024) === "64 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

/**
 * Latency samples in milliseconds, with percentiles.
 *
 * @example
 * ```ts
 * import { Samples } from "./_bench_support.ts";
 * import assert from "node:assert/strict";
 *
 * const s = new Samples();
 * for (let i = 1; i <= 100; i++) s.add(i);
 * assert.equal(s.percentile(50), 50);
 * assert.equal(s.percentile(99), 99);
 * ```
 */
export class Samples {
  #values = new Float64Array(1024);
  #count = 0;
  #sorted = true;

  /** How many samples. */
  get count(): number {
    return this.#count;
  }

  /**
   * Add one sample.
   *
   * @param ms The latency in milliseconds.
   */
  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = ms;
    this.#sorted = false;
  }

  /**
   * The `p`-th percentile (nearest rank).
   *
   * @param p 0 to 100.
   * @returns The value, or NaN without samples.
   */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const values = this.#values.subarray(0, this.#count);
    if (!this.#sorted) {
      values.sort();
      this.#sorted = true;
    }
    const rank = Math.min(this.#count, Math.max(1, Math.ceil((p / 100) * this.#count)));
    return values[rank - 1];
  }
}

/**
 * The median of some numbers.
 *
 * @param values The numbers.
 * @returns Their median.
 *
 * @example
 * ```ts
 * import { median } from "./_bench_support.ts";
 * console.assert(median([3, 1, 2]) === 2);
 * ```
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Whether `command` runs (e.g. `taskset`, `nbdkit`).
 *
 * @param command The program.
 * @param args Arguments that make it exit at once.
 * @returns Whether it ran and exited with status 0.
 *
 * @example
 * ```ts
 * import { hasCommand } from "./_bench_support.ts";
 * console.assert(typeof await hasCommand("true") === "boolean");
 * ```
 */
export async function hasCommand(
  command: string,
  args: string[] = ["--version"],
): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * A child process started by {@linkcode spawnChild}.
 *
 * @example
 * ```ts
 * import type { Child } from "./_bench_support.ts";
 * const show = (c: Child) => `pid ${c.pid}`;
 * console.assert(typeof show === "function");
 * ```
 */
export interface Child extends AsyncDisposable {
  /** Its process id (the program's own: `taskset` execs it). */
  pid: number;
  /** The first stdout line that matched `ready`, with its groups. */
  ready: RegExpExecArray | undefined;
  /** Stop it (SIGTERM, then SIGKILL after 5 s) and wait for it. */
  stop(): Promise<void>;
}

/**
 * Start a program, pinned to one CPU with `taskset` when `cpu` is given, and wait until a
 * stdout line matches `ready`. stderr is dropped.
 *
 * @param command The program.
 * @param args Its arguments.
 * @param options `cpu` to pin to, `ready` to wait for.
 * @returns The running child.
 * @throws {Error} If the program ends before printing a matching line.
 *
 * @example
 * ```ts
 * import { spawnChild } from "./_bench_support.ts";
 * import assert from "node:assert/strict";
 *
 * await using child = await spawnChild("bash", ["-c", "echo port 42; sleep 5"], { ready: /port (\d+)/ });
 * assert.equal(child.ready?.[1], "42");
 * ```
 */
export async function spawnChild(
  command: string,
  args: string[],
  options: { cpu?: number; ready?: RegExp } = {},
): Promise<Child> {
  const [program, argv] = options.cpu === undefined
    ? [command, args]
    : ["taskset", ["-c", String(options.cpu), command, ...args]];
  const child = new Deno.Command(program, {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let exited = false;
  const status = child.status.then(() => {
    exited = true;
  });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let ready: RegExpExecArray | undefined;
  while (options.ready !== undefined && ready === undefined) {
    const { value, done } = await lines.read();
    if (done) break;
    seen += value;
    ready = options.ready.exec(seen) ?? undefined;
  }
  const drained = (async () => {
    for (;;) if ((await lines.read()).done) return;
  })();
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([status, new Promise((r) => timer = setTimeout(r, 5000))]);
    clearTimeout(timer);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
    await status;
    await drained;
  };
  if (options.ready !== undefined && ready === undefined) {
    await stop();
    throw new Error(`${command} did not start: ${seen.trim() || "(no output)"}`);
  }
  return { pid: child.pid, ready, stop, [Symbol.asyncDispose]: stop };
}

/**
 * The resident set size of a process (`VmRSS` in `/proc/PID/status`).
 *
 * @param pid The process.
 * @returns Bytes, or undefined when unknown.
 *
 * @example
 * ```ts
 * import { rssBytes } from "./_bench_support.ts";
 * const rss = await rssBytes(Deno.pid);
 * console.assert(rss === undefined || rss > 0);
 * ```
 */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pin every thread of this process to one CPU (`taskset -a -p`).
 *
 * @param cpu The CPU number.
 * @returns Whether it worked.
 *
 * @example
 * ```ts
 * import { pinSelf } from "./_bench_support.ts";
 * console.assert(typeof pinSelf === "function");
 * ```
 */
export async function pinSelf(cpu: number): Promise<boolean> {
  try {
    const out = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", String(cpu), String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * One line describing the machine: CPU model, CPU count, memory, kernel, Deno.
 *
 * @returns The description.
 *
 * @example
 * ```ts
 * import { describeMachine } from "./_bench_support.ts";
 * console.assert(describeMachine().includes("Deno"));
 * ```
 */
export function describeMachine(): string {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
  } catch { /* not Linux */ }
  const cpus = navigator.hardwareConcurrency;
  const memory = `${Math.round(Deno.systemMemoryInfo().total / 2 ** 30)} GiB RAM`;
  return `${cpu}, ${cpus} CPUs, ${memory}, ${Deno.build.os} ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

/**
 * Lay out rows as a Markdown table with aligned columns.
 *
 * @param header The column titles.
 * @param rows The cells.
 * @returns The table text.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./_bench_support.ts";
 * console.assert(markdownTable(["a", "b"], [["1", "22"]]).split("\n").length === 3);
 * ```
 */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}
