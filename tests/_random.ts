/**
 * A small seeded pseudo-random generator for the fuzz and load scripts, so every run can be
 * repeated from its seed.
 *
 * @module
 */

/**
 * A deterministic pseudo-random generator (sfc32), seeded with one integer.
 *
 * @example
 * ```ts
 * import { Random } from "./_random.ts";
 * import assert from "node:assert/strict";
 *
 * const a = new Random(42);
 * const b = new Random(42);
 * assert.equal(a.int(1000), b.int(1000));
 * assert.ok(a.int(10) < 10);
 * ```
 */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Seed a generator.
   *
   * @param seed Any integer.
   */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  /**
   * The next 32-bit unsigned value.
   *
   * @returns A value in [0, 2^32).
   */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /**
   * An integer in [0, n).
   *
   * @param n The bound (at most 2^32).
   * @returns The integer.
   */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /**
   * True with probability `p`.
   *
   * @param p The probability, 0 to 1.
   * @returns The outcome.
   */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  /**
   * One element of a non-empty array.
   *
   * @param items The choices.
   * @returns One of them.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /**
   * `n` random bytes.
   *
   * @param n How many.
   * @returns The bytes.
   */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
