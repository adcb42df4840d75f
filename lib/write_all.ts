/**
 * Writing whole buffers to a connection.
 *
 * @module
 */

/**
 * Anything with a `write` like `Deno.Conn`.
 *
 * @example
 * ```ts
 * import type { ByteSink } from "@rap/cli";
 * const sink: ByteSink = { write: (p) => Promise.resolve(p.length) };
 * console.assert(typeof sink.write === "function");
 * ```
 */
export interface ByteSink {
  /** Write some of `p`; resolve to the count written. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Write every byte of `chunks`, joined into as few writes as possible (one write per call
 * when the total is small), so a reply never goes out in pieces that wait on Nagle's
 * algorithm.
 *
 * @param sink The connection.
 * @param chunks The buffers, in order.
 *
 * @example
 * ```ts
 * import { writeAll } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const seen: number[] = [];
 * await writeAll({ write: (p) => { seen.push(...p); return Promise.resolve(p.length); } }, [
 *   new Uint8Array([1]),
 *   new Uint8Array([2, 3]),
 * ]);
 * assert.deepEqual(seen, [1, 2, 3]);
 * ```
 */
export async function writeAll(sink: ByteSink, chunks: readonly Uint8Array[]): Promise<void> {
  let data: Uint8Array;
  if (chunks.length === 1) {
    data = chunks[0];
  } else {
    let total = 0;
    for (const c of chunks) total += c.length;
    data = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
  }
  let done = 0;
  while (done < data.length) done += await sink.write(data.subarray(done));
}

/** Chunks at least this big are written as they are; smaller ones are joined. */
const JOIN_BELOW = 64 * 1024;
/** Most bytes joined into one write. */
const JOIN_MAX = 256 * 1024;

/**
 * Options of a {@linkcode QueuedWriter}.
 *
 * @example
 * ```ts
 * import type { QueuedWriterOptions } from "@rap/cli";
 * const options: QueuedWriterOptions = { highWaterMark: 1 << 20 };
 * console.assert(options.highWaterMark === 1048576);
 * ```
 */
export interface QueuedWriterOptions {
  /** {@linkcode QueuedWriter.ready} waits while more than this many bytes are queued (default 1 MiB). */
  highWaterMark?: number;
  /** Called once when a write fails; later writes are dropped. */
  onError?: (error: Error) => void;
}

/**
 * A write queue in front of a connection. `write()` never blocks: chunks are queued and
 * sent in the background, in order, small ones joined into one write (so a reply or a
 * batch of pipelined requests goes out in one piece, never waiting on Nagle's algorithm)
 * and large ones sent as they are, without a copy. Callers that produce a lot await
 * {@linkcode QueuedWriter.ready} (backpressure), which bounds the memory held to about the
 * high-water mark plus one chunk.
 *
 * @example
 * ```ts
 * import { QueuedWriter } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const writes: number[][] = [];
 * const writer = new QueuedWriter({ write: (p) => { writes.push([...p]); return Promise.resolve(p.length); } });
 * writer.write(new Uint8Array([1]));
 * writer.write(new Uint8Array([2, 3]));
 * await writer.flush();
 * assert.deepEqual(writes, [[1, 2, 3]]);
 * ```
 */
export class QueuedWriter {
  readonly #sink: ByteSink;
  readonly #highWaterMark: number;
  readonly #onError: ((error: Error) => void) | undefined;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #running = false;
  #corked = false;
  #runDone: Promise<void> = Promise.resolve();
  #error: Error | undefined;
  #ready: PromiseWithResolvers<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;

  /**
   * Create a writer.
   *
   * @param sink The connection.
   * @param options See {@linkcode QueuedWriterOptions}.
   */
  constructor(sink: ByteSink, options: QueuedWriterOptions = {}) {
    this.#sink = sink;
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.#onError = options.onError;
  }

  /** Bytes queued and not yet written. */
  get queued(): number {
    return this.#queued;
  }

  /** The error that stopped the writer, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Queue bytes. The chunk is kept as a view until written: do not change it meanwhile.
   *
   * @param chunk The bytes.
   */
  write(chunk: Uint8Array): void {
    if (this.#error !== undefined || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#corked && this.#queued <= this.#highWaterMark) return;
    this.#start();
  }

  /**
   * Hold small writes back (until {@linkcode QueuedWriter.uncork} or the high-water mark),
   * e.g. while answering a batch of pipelined requests, so the replies leave in one write.
   */
  cork(): void {
    this.#corked = true;
  }

  /** Send what {@linkcode QueuedWriter.cork} held back, and stop holding. */
  uncork(): void {
    this.#corked = false;
    if (this.#queued > 0) this.#start();
  }

  #start(): void {
    if (!this.#running) {
      this.#running = true;
      // Start on a microtask, so everything queued in the same turn goes out together.
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#runDone = promise;
      queueMicrotask(() => this.#run().finally(resolve));
    }
  }

  /**
   * Wait until at most the high-water mark is queued.
   *
   * @returns A promise that rejects if the connection failed.
   */
  ready(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#queued <= this.#highWaterMark) return Promise.resolve();
    this.#ready ??= Promise.withResolvers<void>();
    return this.#ready.promise;
  }

  /**
   * Wait until everything queued is written.
   *
   * @returns A promise that rejects if the connection failed.
   */
  flush(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#queued === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * Wait until the background writing has stopped (everything written, or failed).
   *
   * @returns A promise that never rejects.
   */
  settled(): Promise<void> {
    return this.#runDone;
  }

  #next(): Uint8Array {
    const chunks = this.#chunks;
    const first = chunks[this.#head];
    if (first.length >= JOIN_BELOW || this.#head + 1 === chunks.length) {
      chunks[this.#head++] = EMPTY;
      return first;
    }
    let end = this.#head;
    let total = 0;
    while (
      end < chunks.length && chunks[end].length < JOIN_BELOW &&
      total + chunks[end].length <= JOIN_MAX
    ) {
      total += chunks[end++].length;
    }
    const data = new Uint8Array(total);
    let at = 0;
    for (let i = this.#head; i < end; i++) {
      data.set(chunks[i], at);
      at += chunks[i].length;
      chunks[i] = EMPTY;
    }
    this.#head = end;
    return data;
  }

  async #run(): Promise<void> {
    try {
      while (this.#head < this.#chunks.length) {
        const data = this.#next();
        if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
          this.#chunks = this.#chunks.slice(this.#head);
          this.#head = 0;
        }
        let done = 0;
        while (done < data.length) done += await this.#sink.write(data.subarray(done));
        this.#queued -= data.length;
        if (this.#ready !== undefined && this.#queued <= this.#highWaterMark) {
          this.#ready.resolve();
          this.#ready = undefined;
        }
      }
      this.#chunks = [];
      this.#head = 0;
      this.#running = false;
      this.#idle?.resolve();
      this.#idle = undefined;
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #fail(error: Error): void {
    this.#error = error;
    this.#chunks = [];
    this.#head = 0;
    this.#queued = 0;
    this.#running = false;
    for (const waiter of [this.#ready, this.#idle]) {
      waiter?.promise.catch(() => {});
      waiter?.reject(error);
    }
    this.#ready = this.#idle = undefined;
    this.#onError?.(error);
  }
}

const EMPTY = new Uint8Array(0);
