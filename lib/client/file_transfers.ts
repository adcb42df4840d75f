/**
 * The file bytes a {@linkcode RapClient} reads and writes: split into pieces of the peer's
 * payload limit and pipelined (`pipeline.ts`), through the block caches of `file_caches.ts`
 * when the client has them (`options.cache`).
 *
 * @module
 */

import { FileCaches, type RapCacheOptions } from "./file_caches.ts";
import { pipelineShape, readPieces, splitRange, writePieces } from "./pipeline.ts";
import type { StreamSink } from "../io/types.ts";
import { streamRange } from "./stream_range.ts";
import type { RapTransport } from "./transport.ts";

/** How far a streamed read runs ahead of its consumer: more than the sockets buffer. */
const STREAM_AHEAD = 32 << 20;
/** The one buffer a streamed read's payloads come through. */
const STREAM_CHUNK = 1 << 20;

/**
 * What {@linkcode FileTransfers} needs of the client's options.
 *
 * @example
 * ```ts
 * import type { FileTransferOptions } from "./file_transfers.ts";
 * const options: FileTransferOptions = { window: 1, cache: { blockSize: 4096 } };
 * console.assert(options.window === 1);
 * ```
 */
export interface FileTransferOptions {
  /** Largest READ/WRITE payload per request (`RapClientOptions.maxPayload`). */
  maxPayload?: number;
  /** Requests of one read or write in flight (`RapClientOptions.window`). */
  window?: number;
  /** The block caches' settings; none without. */
  cache?: RapCacheOptions;
}

/**
 * A client's reads and writes of file bytes, pipelined, through its block caches if any.
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { CURRENT_FD } from "../protocol/constants.ts";
 * import { FileTransfers } from "./file_transfers.ts";
 * import { RapTransport } from "./transport.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const transport = new RapTransport(conn, { peer: `127.0.0.1:${server.addr.port}` });
 * await transport.request({ type: "open", flags: 6, name: "malloc://64" }, "open_reply"); // RW
 * const transfers = new FileTransfers(transport, { cache: {} }, () => undefined); // plain RAP
 * assert.equal(await transfers.write(CURRENT_FD, 8, new Uint8Array([1, 2])), 2);
 * const into = new Uint8Array(3);
 * await transfers.read(CURRENT_FD, 8, into);
 * assert.deepEqual([...into], [1, 2, 0]);
 * assert.equal(transfers.capacity, 16 << 20);
 * await transport.close();
 * ```
 */
export class FileTransfers {
  readonly #transport: RapTransport;
  readonly #options: FileTransferOptions;
  readonly #extMaxData: () => number | undefined;
  readonly #caches: FileCaches | undefined;

  /**
   * Make the transfers of one connection.
   *
   * @param transport The connection.
   * @param options Piece size, window and cache settings.
   * @param extMaxData The negotiated extensions' payload limit, `undefined` on plain RAP
   *   (asked at each read or write: the extensions may be negotiated later).
   */
  constructor(
    transport: RapTransport,
    options: FileTransferOptions,
    extMaxData: () => number | undefined,
  ) {
    this.#transport = transport;
    this.#options = options;
    this.#extMaxData = extMaxData;
    if (options.cache !== undefined) {
      this.#caches = new FileCaches(options.cache, async (fd, offset, into) => {
        await this.#pipelined(readPieces, offset, into, fd);
      });
    }
  }

  /** The bytes one file's block cache may hold, or 0 without a cache. */
  get capacity(): number {
    return this.#caches?.capacity ?? 0;
  }

  /** The block caches' counters: blocks found, blocks fetched, fetch requests. */
  get stats(): { hits: number; misses: number; fetches: number } {
    return this.#caches?.stats ?? { hits: 0, misses: 0, fetches: 0 };
  }

  /**
   * Read `into.length` bytes of `fd` at `offset` into `into`: from the cache for a small
   * read, else pipelined from the server.
   *
   * @param fd The file (the fd of extended requests; ignored on plain RAP).
   * @param offset Where to read.
   * @param into The destination (not empty).
   */
  async read(fd: number, offset: number | bigint, into: Uint8Array): Promise<void> {
    if (this.#caches !== undefined && await this.#caches.read(fd, offset, into)) return;
    await this.#pipelined(readPieces, offset, into, fd);
  }

  /**
   * Hand `length` bytes of `fd` at `offset` to `write` as they arrive: streamed READ_ATs
   * with the extensions, else 1 MiB reads one after another (see `RapClient.readStream`).
   * The block cache is left alone: a bulk read would only push out what it holds.
   *
   * @param fd The file (the fd of extended requests; ignored on plain RAP).
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @param write Takes each piece.
   * @returns The bytes handed over.
   */
  async stream(fd: number, offset: bigint, length: number, write: StreamSink): Promise<number> {
    if (length <= 0) return 0;
    await this.#transport.turn();
    const extMaxData = this.#extMaxData();
    if (extMaxData !== undefined) {
      const { step } = pipelineShape(extMaxData, this.#options);
      const plan = {
        fd,
        step,
        window: Math.max(2, Math.ceil(STREAM_AHEAD / step)),
        chunk: STREAM_CHUNK,
      };
      return await streamRange(this.#transport, plan, offset, length, write);
    }
    const buffer = new Uint8Array(Math.min(STREAM_CHUNK, length));
    for (let done = 0; done < length;) {
      const piece = done + buffer.length <= length ? buffer : buffer.subarray(0, length - done);
      await this.read(fd, offset + BigInt(done), piece);
      await write(piece);
      done += piece.length;
    }
    return length;
  }

  /**
   * Write `data` to `fd` at `offset`, pipelined; the blocks held are updated once the
   * server acknowledged it (and forgotten if it failed: some pieces may have landed).
   *
   * @param fd The file (the fd of extended requests; ignored on plain RAP).
   * @param offset Where to write.
   * @param data The bytes (not empty; unchanged until this resolves).
   * @returns The bytes written.
   */
  async write(fd: number, offset: number | bigint, data: Uint8Array): Promise<number> {
    if (this.#caches === undefined) return await this.#pipelined(writePieces, offset, data, fd);
    let written;
    try {
      written = await this.#pipelined(writePieces, offset, data, fd);
    } catch (error) {
      this.#caches.forget(fd); // some pieces may have landed
      throw error;
    }
    this.#caches.wrote(fd, offset, data);
    return written;
  }

  /**
   * Forget the cached blocks of `fd` (closed, or another file took its place).
   *
   * @param fd The file.
   */
  forget(fd: number): void {
    this.#caches?.forget(fd);
  }

  /**
   * One read or write through the pipeline, after a CMD running first (so that its piece
   * size and window follow the extensions negotiated by then).
   */
  #pipelined(
    run: typeof readPieces,
    offset: number | bigint,
    bytes: Uint8Array,
    fd: number,
  ): Promise<number> {
    if (this.#transport.alone) {
      return this.#transport.turn().then(() => this.#pipelined(run, offset, bytes, fd));
    }
    const extMaxData = this.#extMaxData();
    const { step, window } = pipelineShape(extMaxData, this.#options);
    const plan = { fd: extMaxData === undefined ? undefined : fd, window };
    return run(this.#transport, plan, splitRange(BigInt(offset), bytes, step));
  }
}
