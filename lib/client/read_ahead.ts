/**
 * Read-ahead for a block cache: how far past a read to fetch. A sequential run starts
 * with a window of one block; each time the cache fetches ahead with it, the window
 * doubles (up to `max`), so it grows with what the reader really consumed (as the Linux
 * page cache does), and drops to nothing on the first read elsewhere: sequential readers
 * get large, early requests, random readers single blocks.
 *
 * @example
 * ```ts
 * import { ReadAhead } from "./read_ahead.ts";
 * import assert from "node:assert/strict";
 *
 * const ahead = new ReadAhead({ min: 64, max: 256 });
 * assert.equal(ahead.next(0, 16), 0); // the first read: no history yet
 * assert.equal(ahead.next(16, 16), 64); // sequential: start at one block
 * ahead.grow(); // the cache fetched 64 ahead
 * assert.equal(ahead.next(32, 16), 128);
 * ahead.grow();
 * ahead.grow();
 * assert.equal(ahead.next(48, 16), 256); // capped
 * assert.equal(ahead.next(9000, 16), 0); // random: none
 * ```
 *
 * @module
 */

/**
 * Options of a {@linkcode ReadAhead}.
 *
 * @example
 * ```ts
 * import type { ReadAheadOptions } from "./read_ahead.ts";
 * const options: ReadAheadOptions = { min: 65536, max: 4 << 20 };
 * console.assert(options.max > options.min);
 * ```
 */
export interface ReadAheadOptions {
  /** The first window of a sequential run (one block). */
  min: number;
  /** The largest window. 0 turns read-ahead off. */
  max: number;
  /**
   * How far past the end of the last read a read may start and still count as sequential
   * (radare2 skips a little now and then; default `min`).
   */
  slack?: number;
}

/**
 * The sequential-read detector. See the module documentation.
 *
 * @example
 * ```ts
 * import { ReadAhead } from "./read_ahead.ts";
 * import assert from "node:assert/strict";
 *
 * const off = new ReadAhead({ min: 64, max: 0 });
 * off.next(0, 16);
 * assert.equal(off.next(16, 16), 0);
 * ```
 */
export class ReadAhead {
  readonly #min: number;
  readonly #max: number;
  readonly #slack: number;
  /** Where the last read started and ended (-1: no read yet). */
  #lastStart = -1;
  #lastEnd = -1;
  #window = 0;

  /**
   * Make a detector with no history.
   *
   * @param options Window bounds.
   */
  constructor(options: ReadAheadOptions) {
    if (!(options.min >= 1) || !(options.max >= 0)) {
      throw new RangeError(`Invalid read-ahead window ${options.min}..${options.max}`);
    }
    this.#min = options.min;
    this.#max = options.max;
    this.#slack = options.slack ?? options.min;
  }

  /** The window the last read got, in bytes. */
  get window(): number {
    return this.#window;
  }

  /**
   * Take note of a read and say how many bytes past its end to fetch ahead.
   *
   * @param offset Where the read starts.
   * @param length Its length.
   * @returns The read-ahead in bytes (0 for a random read).
   */
  next(offset: number, length: number): number {
    const sequential = this.#lastEnd >= 0 && offset >= this.#lastStart &&
      offset <= this.#lastEnd + this.#slack;
    if (!sequential || this.#max === 0) this.#window = 0;
    else if (this.#window === 0) this.#window = Math.min(this.#max, this.#min);
    this.#lastStart = offset;
    this.#lastEnd = offset + length;
    return this.#window;
  }

  /** The cache fetched ahead with the window: the next one is twice as large (to `max`). */
  grow(): void {
    if (this.#window > 0) this.#window = Math.min(this.#max, this.#window * 2);
  }

  /** Forget the history (after a write elsewhere, a new file ...). */
  reset(): void {
    this.#lastStart = -1;
    this.#lastEnd = -1;
    this.#window = 0;
  }
}
