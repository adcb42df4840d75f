/**
 * A memory budget shared by several IO sessions (a server's `--max-memory`): bytes are
 * reserved before they are spent and released when the file holding them closes, so the
 * RAM all clients' files hold together stays under one limit, whatever the number of
 * connections.
 *
 * @module
 */

/**
 * The default server-wide budget: 2 GiB. A fixed figure rather than a fraction of the
 * machine's memory: it needs no `--allow-sys` permission (the recommended `serve` flags do
 * not grant it), it behaves the same on every machine and in every test, it lets two
 * clients use their whole default `--max-session-memory` (1 GiB), and it stays below the
 * 4 GiB at which four clients were measured to kill an unlimited server. Raise it on
 * machines with more memory to spare.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MEMORY } from "@rap/cli";
 * console.assert(DEFAULT_MAX_MEMORY === 2 ** 31);
 * ```
 */
export const DEFAULT_MAX_MEMORY: number = 2 ** 31;

/**
 * Format a byte count for an error message: `512 bytes`, `4.0 KiB`, `1.5 GiB`.
 *
 * @param bytes The count.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatBytes } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatBytes(2 ** 30), "1.0 GiB");
 * assert.equal(formatBytes(512 * 2 ** 20), "512.0 MiB");
 * assert.equal(formatBytes(100), "100 bytes");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unlimited";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  if (Math.abs(bytes) < 1024) return `${bytes} bytes`;
  let value = bytes / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A budget refused a reservation. The message says who needs how much, how much is left
 * and which flag sets the budget.
 *
 * @example
 * ```ts
 * import { MemoryBudget, MemoryBudgetError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const budget = new MemoryBudget(1024);
 * assert.throws(() => budget.reserve(2048, "it"), MemoryBudgetError);
 * ```
 */
export class MemoryBudgetError extends RangeError {
  /** The bytes asked for. */
  readonly needed: number;
  /** The bytes that were left. */
  readonly available: number;

  /**
   * Create it.
   *
   * @param message The message.
   * @param needed The bytes asked for.
   * @param available The bytes that were left.
   */
  constructor(message: string, needed: number, available: number) {
    super(message);
    this.name = "MemoryBudgetError";
    this.needed = needed;
    this.available = available;
  }
}

/**
 * Options of a {@linkcode MemoryBudget}.
 *
 * @example
 * ```ts
 * import type { MemoryBudgetOptions } from "@rap/cli/io";
 * const options: MemoryBudgetOptions = { owner: "the proxy's", flag: "--proxy-memory" };
 * console.assert(options.flag === "--proxy-memory");
 * ```
 */
export interface MemoryBudgetOptions {
  /** Whose budget it is, in messages (default `the server's`). */
  owner?: string;
  /** The flag that sets it, named in messages (default `--max-memory`). */
  flag?: string;
}

/**
 * A number of bytes that reservations draw from. Reservations are synchronous, so two
 * clients opening at the same moment cannot both take the last gigabyte.
 *
 * @example
 * ```ts
 * import { MemoryBudget } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const budget = new MemoryBudget(2 ** 31);
 * budget.reserve(2 ** 30, "malloc://1G");
 * budget.reserve(2 ** 30, "malloc://1G");
 * assert.throws(
 *   () => budget.reserve(2 ** 30, "malloc://1G"),
 *   /malloc:\/\/1G needs 1\.0 GiB but only 0 bytes of the server's memory budget is left \(--max-memory\)/,
 * );
 * budget.release(2 ** 30);
 * assert.equal(budget.available, 2 ** 30);
 * ```
 */
export class MemoryBudget {
  /** The most bytes reservations may hold together. */
  readonly limit: number;
  /** Whose budget it is, in messages. */
  readonly owner: string;
  /** The flag that sets it, named in messages. */
  readonly flag: string;
  #used = 0;

  /**
   * Create it.
   *
   * @param limit The most bytes (Infinity for no limit).
   * @param options See {@linkcode MemoryBudgetOptions}.
   * @throws {RangeError} When the limit is negative or not a number.
   */
  constructor(limit: number, options: MemoryBudgetOptions = {}) {
    if (!(limit >= 0)) throw new RangeError(`Invalid memory budget "${limit}"`);
    this.limit = limit;
    this.owner = options.owner ?? "the server's";
    this.flag = options.flag ?? "--max-memory";
  }

  /** The bytes reserved now (it may pass the limit only through {@linkcode overdraw}). */
  get used(): number {
    return this.#used;
  }

  /** The bytes still free (0 when the budget is spent or overdrawn). */
  get available(): number {
    return Math.max(0, this.limit - this.#used);
  }

  /**
   * Reserve `bytes` if they are left.
   *
   * @param bytes The bytes.
   * @returns Whether they were reserved.
   */
  tryReserve(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (bytes > this.available) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Reserve `bytes` or throw.
   *
   * @param bytes The bytes.
   * @param what Who needs them, at the start of the message (e.g. `member "a.bin"`).
   * @throws {MemoryBudgetError} When fewer bytes are left, naming the flag.
   */
  reserve(bytes: number, what = "it"): void {
    if (this.tryReserve(bytes)) return;
    throw this.refusal(bytes, what);
  }

  /**
   * The error for a reservation of `bytes` that does not fit.
   *
   * @param bytes The bytes asked for.
   * @param what Who needs them.
   * @returns The error (not thrown).
   */
  refusal(bytes: number, what = "it"): MemoryBudgetError {
    const left = this.available;
    return new MemoryBudgetError(
      `${what} needs ${formatBytes(bytes)} but only ${formatBytes(left)} of ${this.owner} ` +
        `memory budget is left (${this.flag})`,
      bytes,
      left,
    );
  }

  /**
   * Record bytes already spent, even past the limit (later reservations then fail until
   * enough is released).
   *
   * @param bytes The bytes.
   */
  overdraw(bytes: number): void {
    if (bytes > 0) this.#used += bytes;
  }

  /**
   * Give back reserved bytes.
   *
   * @param bytes The bytes.
   */
  release(bytes: number): void {
    if (bytes > 0) this.#used = Math.max(0, this.#used - bytes);
  }
}
