/**
 * The memory accounting of one {@linkcode IoSession}: the RAM its files hold against the
 * session's own limit (`--max-session-memory`) and a budget shared with other sessions
 * (`--max-memory`), claimed before plugins allocate and counted again after opens and
 * writes.
 *
 * @module
 */

import { MemoryLimitError } from "./errors.ts";
import { formatBytes, type MemoryBudget } from "./memory_budget.ts";
import type { IoDescriptor, MemoryAllowance } from "./types.ts";

/**
 * The allowance of one open in progress, with what it claimed so far.
 *
 * @example
 * ```ts
 * import { SessionMemory } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const memory = new SessionMemory(100, undefined, () => []);
 * const claim = memory.claim("malloc://80");
 * claim.claim(80);
 * assert.equal(claim.claimed, 80);
 * claim.cancel();
 * assert.equal(claim.claimed, 0);
 * ```
 */
export interface OpenClaim extends MemoryAllowance {
  /** Bytes claimed (reserved from the shared budget, pending in the session). */
  claimed: number;
  /** Give back everything claimed (the open failed). */
  cancel(): void;
}

/**
 * What a session's files hold in RAM, checked against its limit and a shared budget.
 *
 * @example
 * ```ts
 * import { MemoryDescriptor, SessionMemory } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const files: MemoryDescriptor[] = [];
 * const memory = new SessionMemory(10, undefined, () => files);
 * const desc = new MemoryDescriptor("malloc://8", "malloc", new Uint8Array(8));
 * memory.admit("malloc://8", [desc], memory.claim("malloc://8"));
 * files.push(desc);
 * assert.equal(memory.usage(), 8);
 * assert.throws(() => memory.claim("malloc://4").claim(4), /--max-session-memory/);
 * ```
 */
export class SessionMemory {
  readonly #limit: number;
  readonly #budget: MemoryBudget | undefined;
  readonly #files: () => Iterable<IoDescriptor>;
  /** Bytes of the shared budget each file holds (its `memoryUsage()` when last counted). */
  readonly #charged = new Map<IoDescriptor, number>();
  /** Bytes claimed by opens in progress. */
  #pending = 0;

  /**
   * Create it.
   *
   * @param limit The session's limit in bytes (`Infinity`: none).
   * @param budget The budget shared with other sessions, if any.
   * @param files The session's open files.
   */
  constructor(
    limit: number,
    budget: MemoryBudget | undefined,
    files: () => Iterable<IoDescriptor>,
  ) {
    this.#limit = limit;
    this.#budget = budget;
    this.#files = files;
  }

  /**
   * The RAM the session's files hold (the sum of their `memoryUsage()`).
   *
   * @returns Bytes.
   */
  usage(): number {
    let total = 0;
    for (const desc of this.#files()) total += desc.memoryUsage?.() ?? 0;
    return total;
  }

  /**
   * The allowance of one open: claims count against both limits at once.
   *
   * @param uri The URI being opened (for messages).
   * @returns The claim.
   */
  claim(uri: string): OpenClaim {
    // deno-lint-ignore no-this-alias
    const memory = this;
    const claim: OpenClaim = {
      claimed: 0,
      get remaining(): number {
        const own = memory.#limit - memory.usage() - memory.#pending;
        return Math.max(0, Math.min(own, memory.#budget?.available ?? Infinity));
      },
      claim(bytes: number, what = "it"): void {
        if (!(bytes > 0)) return;
        const total = memory.usage() + memory.#pending + bytes;
        if (total > memory.#limit) {
          throw new MemoryLimitError(
            uri,
            `Cannot open "${uri}": ${what} needs ${formatBytes(bytes)}, but the session's ` +
              `files would hold ${total} bytes in memory, over its limit of ` +
              `${memory.#limit} (--max-session-memory)`,
          );
        }
        if (memory.#budget && !memory.#budget.tryReserve(bytes)) {
          throw new MemoryLimitError(
            uri,
            `Cannot open "${uri}": ${memory.#budget.refusal(bytes, what).message}`,
          );
        }
        memory.#pending += bytes;
        claim.claimed += bytes;
      },
      cancel(): void {
        memory.#pending -= claim.claimed;
        memory.#budget?.release(claim.claimed);
        claim.claimed = 0;
      },
    };
    return claim;
  }

  /**
   * Check newly opened files against the limits: what they hold replaces what the open
   * claimed. On refusal the claim is cancelled (the caller closes the files).
   *
   * @param uri The URI opened.
   * @param descriptors The new files.
   * @param claim The open's claim.
   * @returns What each file holds, to {@linkcode SessionMemory.charge} once added.
   * @throws {MemoryLimitError} When they do not fit.
   */
  admit(uri: string, descriptors: readonly IoDescriptor[], claim: OpenClaim): number[] {
    const usages = descriptors.map((d) => d.memoryUsage?.() ?? 0);
    const total = usages.reduce((a, b) => a + b, 0);
    const used = this.usage() + this.#pending - claim.claimed + total;
    if (used > this.#limit) {
      claim.cancel();
      throw new MemoryLimitError(
        uri,
        `Cannot open "${uri}": the session's files would hold ${used} bytes in memory, ` +
          `over its limit of ${this.#limit} (--max-session-memory)`,
      );
    }
    const budget = this.#budget;
    const extra = total - claim.claimed;
    if (budget && extra > 0 && !budget.tryReserve(extra)) {
      claim.cancel(); // so the message counts what this open had claimed as left
      throw new MemoryLimitError(uri, `Cannot open "${uri}": ${budget.refusal(total).message}`);
    }
    if (budget && extra < 0) budget.release(-extra);
    this.#pending -= claim.claimed;
    claim.claimed = 0;
    return usages;
  }

  /**
   * Count a file added to the session whose `charged` bytes are already reserved.
   *
   * @param desc The file.
   * @param charged Bytes reserved for it.
   */
  charge(desc: IoDescriptor, charged: number): void {
    this.#charged.set(desc, charged);
  }

  /**
   * Count a file added as it is, even past the limit (the server's shared default).
   *
   * @param desc The file.
   */
  chargeAsIs(desc: IoDescriptor): void {
    const usage = desc.memoryUsage?.() ?? 0;
    this.#budget?.overdraw(usage);
    this.#charged.set(desc, usage);
  }

  /**
   * Give back what a closed file held.
   *
   * @param desc The file.
   */
  release(desc: IoDescriptor): void {
    this.#budget?.release(this.#charged.get(desc) ?? 0);
    this.#charged.delete(desc);
  }

  /**
   * Check that a write to `desc` may grow the RAM the session's files hold: refused once the
   * session holds more than its limit, or the shared budget is overdrawn.
   *
   * @param desc The descriptor about to be written.
   * @throws {MemoryLimitError} When the session or the shared budget is over its limit.
   */
  checkWrite(desc: IoDescriptor): void {
    if (desc.memoryUsage === undefined) return;
    const used = this.usage();
    if (used > this.#limit) {
      throw new MemoryLimitError(
        desc.uri,
        `Cannot write to "${desc.uri}": the session's files hold ${used} bytes in memory, ` +
          `over its limit of ${this.#limit} (--max-session-memory)`,
      );
    }
    const budget = this.#budget;
    if (budget && budget.used > budget.limit) {
      throw new MemoryLimitError(
        desc.uri,
        `Cannot write to "${desc.uri}": ${budget.owner} memory budget is spent ` +
          `(${formatBytes(budget.used)} held, limit ${formatBytes(budget.limit)}) (${budget.flag})`,
      );
    }
  }

  /**
   * Write under the limits: a write that would grow the file (`memoryGrowth`) past the
   * session's limit or the shared budget is refused before it is made, and what the file
   * holds afterwards is counted.
   *
   * @param desc The descriptor.
   * @param offset Where to write.
   * @param data The bytes.
   * @returns Bytes written.
   * @throws {MemoryLimitError} When the write does not fit.
   */
  async write(desc: IoDescriptor, offset: number, data: Uint8Array): Promise<number> {
    this.checkWrite(desc);
    const growth = Math.max(0, desc.memoryGrowth?.(offset, data.length) ?? 0);
    if (growth > 0) {
      const used = this.usage() + this.#pending + growth;
      if (used > this.#limit) {
        throw new MemoryLimitError(
          desc.uri,
          `Cannot write to "${desc.uri}": the write needs ${formatBytes(growth)}, but the ` +
            `session's files would hold ${used} bytes in memory, over its limit of ` +
            `${this.#limit} (--max-session-memory)`,
        );
      }
      if (this.#budget && !this.#budget.tryReserve(growth)) {
        throw new MemoryLimitError(
          desc.uri,
          `Cannot write to "${desc.uri}": ${this.#budget.refusal(growth, "the write").message}`,
        );
      }
    }
    try {
      return await desc.write(offset, data);
    } finally {
      this.#recount(desc, growth);
    }
  }

  /** After a write: the shared budget holds what `desc` holds now (`reserved` was taken). */
  #recount(desc: IoDescriptor, reserved: number): void {
    const budget = this.#budget;
    const before = this.#charged.get(desc);
    if (before === undefined) {
      budget?.release(reserved);
      return;
    }
    const now = desc.memoryUsage?.() ?? 0;
    const held = before + reserved;
    if (now <= held) budget?.release(held - now);
    else budget?.overdraw(now - held);
    this.#charged.set(desc, now);
  }
}
