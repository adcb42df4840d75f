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

/** Chunks smaller than this are copied into the current batch buffer; larger ones are queued as views. */
const SMALL = 16 * 1024;
/** Size of the first batch buffer; a full batch doubles the next one, up to BATCH_MAX. */
const BATCH_MIN = 16 * 1024;
const BATCH_MAX = 256 * 1024;
const EMPTY = new Uint8Array(0);

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
 * sent in the background, in order. Small chunks are copied into a batch buffer (reused
 * once written), so a reply or a batch of pipelined requests goes out in one write, never
 * waiting on Nagle's algorithm; large ones are sent as they are, without a copy. Callers
 * that produce a lot await {@linkcode QueuedWriter.ready} (backpressure), which bounds the
 * memory held to about the high-water mark plus one chunk.
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
  /** Chunks ready to be written: sealed batches and large views. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  /** The open batch buffer small chunks are copied into, and its fill. */
  #batch: Uint8Array | undefined;
  #batchLength = 0;
  #nextBatch = BATCH_MIN;
  /** A written batch buffer kept for reuse. */
  #spare: Uint8Array | undefined;
  readonly #batches = new WeakSet<ArrayBufferLike>();
  /** Callbacks of large chunks whose writers want to know when they are written. */
  readonly #written = new Map<Uint8Array, () => void>();
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
   * Queue bytes. A small chunk is copied at once; a large one (16 KiB or more) is kept as
   * a view until written: do not change it meanwhile. `written`, if given, is called once
   * the chunk is no longer needed (copied, or on the wire), so that its buffer can be used
   * again; it is not called when the writer fails (the buffer is then left to the GC).
   *
   * @param chunk The bytes.
   * @param written Called when the writer is done with `chunk`.
   *
   * @example Reuse a buffer once it is written
   * ```ts
   * import { QueuedWriter } from "@rap/cli";
   * import assert from "node:assert/strict";
   *
   * let sent = 0;
   * const writer = new QueuedWriter({ write: (p) => Promise.resolve((sent += p.length, p.length)) });
   * let free = false;
   * writer.write(new Uint8Array(64 * 1024), () => free = true);
   * await writer.flush();
   * assert.ok(free);
   * assert.equal(sent, 64 * 1024);
   * ```
   */
  write(chunk: Uint8Array, written?: () => void): void {
    if (this.#error !== undefined || chunk.length === 0) {
      if (chunk.length === 0) written?.();
      return;
    }
    if (chunk.length < SMALL) {
      this.#append(chunk.length).set(chunk);
      written?.();
    } else {
      this.#seal();
      this.#chunks.push(chunk);
      if (written !== undefined) this.#written.set(chunk, written);
    }
    this.#queued += chunk.length;
    // A large chunk is a write of its own whether corked or not: start it now. Held back,
    // the last piece of a READ_AT waited for the next request's first piece to be read.
    if (chunk.length < SMALL) this.#kick();
    else this.#start();
  }

  /**
   * Queue `length` bytes that the caller fills in at once, in place (no allocation):
   * the returned view is valid until the next call on the writer.
   *
   * @param length How many bytes (less than 16 KiB).
   * @returns The bytes to fill.
   *
   * @example
   * ```ts
   * import { QueuedWriter } from "@rap/cli";
   * import assert from "node:assert/strict";
   *
   * const seen: number[] = [];
   * const writer = new QueuedWriter({ write: (p) => { seen.push(...p); return Promise.resolve(p.length); } });
   * writer.reserve(2).set([7, 8]);
   * await writer.flush();
   * assert.deepEqual(seen, [7, 8]);
   * ```
   */
  reserve(length: number): Uint8Array {
    if (length >= SMALL) {
      throw new RangeError(`Cannot reserve ${length} bytes (at most ${SMALL - 1})`);
    }
    if (this.#error !== undefined) return new Uint8Array(length);
    const view = this.#append(length);
    this.#queued += length;
    this.#kick();
    return view;
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

  /**
   * Wait until at most the high-water mark is queued.
   *
   * @returns A promise that rejects if the connection failed.
   */
  ready(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#queued <= this.#highWaterMark) return Promise.resolve();
    this.#start();
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
    this.#start();
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

  #kick(): void {
    if (this.#corked && this.#queued <= this.#highWaterMark) return;
    this.#start();
  }

  #start(): void {
    if (this.#running) return;
    this.#running = true;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#runDone = promise;
    // Start on a microtask, so everything queued in the same turn goes out together.
    queueMicrotask(() => this.#run().finally(resolve));
  }

  /** Room for `length` more bytes in the open batch. */
  #append(length: number): Uint8Array {
    let batch = this.#batch;
    if (batch === undefined || this.#batchLength + length > batch.length) {
      if (batch !== undefined) {
        this.#seal();
        this.#nextBatch = Math.min(BATCH_MAX, batch.length * 2);
      }
      const spare = this.#spare;
      if (spare !== undefined && spare.length >= this.#nextBatch) {
        batch = spare;
        this.#spare = undefined;
      } else {
        batch = new Uint8Array(this.#nextBatch);
        this.#batches.add(batch.buffer);
      }
      this.#batch = batch;
    }
    const at = this.#batchLength;
    this.#batchLength = at + length;
    return batch.subarray(at, at + length);
  }

  /** Close the open batch and queue it. */
  #seal(): void {
    if (this.#batch === undefined || this.#batchLength === 0) return;
    this.#chunks.push(this.#batch.subarray(0, this.#batchLength));
    this.#batch = undefined;
    this.#batchLength = 0;
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        if (this.#head === this.#chunks.length) {
          const held = this.#corked && this.#queued <= this.#highWaterMark &&
            this.#idle === undefined;
          if (this.#batchLength === 0 || held) break;
          this.#seal();
        }
        const data = this.#chunks[this.#head];
        this.#chunks[this.#head++] = EMPTY;
        if (this.#head === this.#chunks.length) {
          this.#chunks = [];
          this.#head = 0;
        } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
          this.#chunks = this.#chunks.slice(this.#head);
          this.#head = 0;
        }
        let done = 0;
        while (done < data.length) done += await this.#sink.write(data.subarray(done));
        this.#queued -= data.length;
        if (this.#written.size > 0) {
          const written = this.#written.get(data);
          if (written !== undefined) {
            this.#written.delete(data);
            written();
          }
        }
        if (data.byteOffset === 0 && this.#batches.has(data.buffer)) {
          const buffer = new Uint8Array(data.buffer);
          if (this.#spare === undefined || this.#spare.length < buffer.length) this.#spare = buffer;
        }
        if (this.#ready !== undefined && this.#queued <= this.#highWaterMark) {
          this.#ready.resolve();
          this.#ready = undefined;
        }
      }
      this.#running = false;
      if (this.#queued === 0) {
        this.#idle?.resolve();
        this.#idle = undefined;
      }
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #fail(error: Error): void {
    this.#error = error;
    this.#chunks = [];
    this.#head = 0;
    this.#written.clear();
    this.#batch = this.#spare = undefined;
    this.#batchLength = 0;
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
