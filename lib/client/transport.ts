/**
 * The transport under {@linkcode RapClient}: one connection's requests and replies. Requests
 * are written in call order and the replies, which a RAP server sends in order, are handed
 * to their callers from a first-in first-out queue; a READ reply's payload can land in the
 * caller's buffer. It also answers the server's reverse CMDs, gives up a connection whose
 * replies stop coming, and runs a request alone on the wire when asked (a CMD). It knows
 * packets, not files: the operations (`client.ts`) and the pipelined reads and writes
 * (`pipeline.ts`) sit on top of it.
 *
 * @module
 */

import { PacketReader, type PayloadTarget } from "../net/packet_reader.ts";
import { QueuedWriter } from "../net/write_queue.ts";
import { RAP_PACKET_MAX } from "../protocol/constants.ts";
import { encodePacket } from "../protocol/encode.ts";
import { RapConnectionError, RapProtocolError, RapRemoteError } from "../protocol/errors.ts";
import type { RapPacket, RapReply, RapRequest } from "../protocol/packets.ts";
import { Fifo, handled } from "./_support.ts";
import { startTimer } from "./_timer.ts";

/**
 * The type of a reply packet.
 *
 * @example
 * ```ts
 * import type { ReplyType } from "./transport.ts";
 * const type: ReplyType = "seek_reply";
 * console.assert(type.endsWith("_reply"));
 * ```
 */
export type ReplyType = RapReply["type"];

/**
 * The reply packet of one type.
 *
 * @example
 * ```ts
 * import type { ReplyOf } from "./transport.ts";
 * const reply: ReplyOf<"seek_reply"> = { type: "seek_reply", offset: 16n };
 * console.assert(reply.offset === 16n);
 * ```
 */
export type ReplyOf<T extends ReplyType> = Extract<RapReply, { type: T }>;

/**
 * Options of a {@linkcode RapTransport}.
 *
 * @example
 * ```ts
 * import type { RapTransportOptions } from "./transport.ts";
 * const options: RapTransportOptions = { peer: "127.0.0.1:9999", timeout: 5000 };
 * console.assert(options.peer.endsWith(":9999"));
 * ```
 */
export interface RapTransportOptions {
  /** `host:port` of the server, for messages. */
  peer: string;
  /** Milliseconds to wait for a reply before the connection is given up (30000; 0: never). */
  timeout?: number;
  /** Runs a reverse CMD sent by the server; its result is sent back (default: empty output). */
  onReverseCommand?: (command: string) => Promise<string | null> | string | null;
  /** Largest data payload accepted before the extensions are enabled (at least 4096). */
  maxData?: number;
  /** Whether the connection is TLS (a TLS answer to plain bytes is then not named as such). */
  tls?: boolean;
}

interface Pending {
  expect: ReplyType;
  resolve: (reply: RapReply) => void;
  reject: (error: Error) => void;
  /** Where a READ reply's payload goes. */
  into?: Uint8Array;
}

/**
 * One RAP client connection's requests and replies, matched in order. A request is
 * registered with {@linkcode RapTransport.expect} and its bytes queued right after (with
 * {@linkcode RapTransport.write} or {@linkcode RapTransport.reserve}, nothing else in
 * between), or both at once with {@linkcode RapTransport.send}. Once the connection failed,
 * every waiting and later request rejects with the same error and writes are dropped.
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { RapTransport } from "./transport.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const transport = new RapTransport(conn, { peer: `127.0.0.1:${server.addr.port}` });
 * const request = { type: "open", flags: 4, name: "hex://00112233" } as const; // flags: R
 * const open = await transport.request(request, "open_reply");
 * assert.ok(open.fd >= 0);
 * // Two requests in flight; their replies come back in order.
 * const seek = transport.send("seek_reply", new Uint8Array([0x04, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
 * const read = transport.request({ type: "read", length: 2 }, "read_reply");
 * assert.equal((await seek).offset, 1n);
 * assert.deepEqual([...(await read).data], [0x11, 0x22]);
 * await transport.close();
 * ```
 */
export class RapTransport {
  /** `host:port` of the server, for messages. */
  readonly peer: string;
  readonly #conn: Deno.Conn;
  readonly #reader: PacketReader;
  readonly #writer: QueuedWriter;
  readonly #options: RapTransportOptions;
  readonly #pending = new Fifo<Pending>();
  readonly #receiving: Promise<void>;
  readonly #target: PayloadTarget;
  #failure: Error | undefined;
  /** Stops the reply timer while it runs. */
  #stopTimer: (() => void) | undefined;
  /** Replies received so far: the reply timer looks for progress without reading a clock. */
  #progress = 0;
  /** Settles when the request running alone has its reply. */
  #alone: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;

  /**
   * Start receiving on a connection.
   *
   * @param conn The connection (TCP or TLS, connected).
   * @param options See {@linkcode RapTransportOptions}.
   */
  constructor(conn: Deno.Conn, options: RapTransportOptions) {
    this.#conn = conn;
    this.#options = options;
    this.peer = options.peer;
    this.#reader = new PacketReader(conn, {
      role: "client",
      maxData: Math.max(RAP_PACKET_MAX, options.maxData ?? RAP_PACKET_MAX),
    });
    this.#writer = new QueuedWriter(conn, {
      highWaterMark: 4 * 1024 * 1024,
      onError: (error) =>
        this.fail(
          new RapConnectionError(`Cannot send to ${this.peer}: ${error.message}`, { cause: error }),
        ),
    });
    this.#target = () => this.#pending.peek()?.into;
    this.#receiving = this.#receive();
  }

  /** Why the connection is no longer usable, or `undefined` while it is. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Whether an exchange runs alone (see {@linkcode RapTransport.runAlone}): others wait. */
  get alone(): boolean {
    return this.#alone !== undefined;
  }

  /**
   * Accept extended packets from here on (after a successful negotiation).
   *
   * @param maxData The largest extended payload.
   */
  enableExtensions(maxData: number): void {
    this.#reader.decoder.enableExtensions(maxData);
  }

  /**
   * Register a request about to be written; the promise settles with its reply. The
   * caller queues the request's bytes right after (nothing else in between).
   *
   * @param type The reply expected (an error reply rejects with a `RapRemoteError`).
   * @param into Where a READ reply's payload goes, when it fits.
   * @returns The reply.
   */
  expect<T extends ReplyType>(type: T, into?: Uint8Array): Promise<ReplyOf<T>> {
    if (this.#failure) return Promise.reject(this.#failure);
    const reply = new Promise<RapReply>((resolve, reject) => {
      this.#pending.push({ expect: type, resolve, reject, into });
    });
    if (this.#stopTimer === undefined) this.#armTimer();
    return reply as Promise<ReplyOf<T>>;
  }

  /**
   * Queue bytes (dropped once the connection failed). Large chunks are sent without a
   * copy: do not change them until their reply came.
   *
   * @param bytes The bytes.
   */
  write(bytes: Uint8Array): void {
    if (!this.#failure) this.#writer.write(bytes);
  }

  /**
   * Queue `length` bytes that the caller encodes in place at once (see `QueuedWriter.reserve`).
   *
   * @param length How many bytes (less than 16 KiB).
   * @returns The bytes to fill (scratch once the connection failed).
   */
  reserve(length: number): Uint8Array {
    return this.#failure ? new Uint8Array(length) : this.#writer.reserve(length);
  }

  /**
   * Queue one request's bytes; the promise settles with its reply.
   *
   * @param type The reply expected.
   * @param bytes The encoded request.
   * @returns The reply.
   */
  send<T extends ReplyType>(type: T, bytes: Uint8Array): Promise<ReplyOf<T>> {
    const reply = this.expect(type);
    this.write(bytes);
    return reply;
  }

  /**
   * Send one request when no request runs alone.
   *
   * @param request The request.
   * @param type The reply expected.
   * @returns The reply.
   */
  async request<T extends ReplyType>(request: RapRequest, type: T): Promise<ReplyOf<T>> {
    await this.turn();
    return await this.send(type, encodePacket(request));
  }

  /** Wait until no request runs alone, so that nothing follows it on the wire. */
  async turn(): Promise<void> {
    while (this.#alone) await this.#alone;
  }

  /**
   * Run `exchange` alone on the wire: once every request before it has its reply, and with
   * no other request put on the wire until it settles (others wait in
   * {@linkcode RapTransport.turn}).
   *
   * @param exchange What to send and wait for (a CMD; a lock-step SEEK and READ).
   * @returns What `exchange` returns.
   */
  async runAlone<T>(exchange: () => Promise<T>): Promise<T> {
    // Check and take the turn in one step, so that two callers never both go.
    while (this.#alone) await this.#alone;
    const done = Promise.withResolvers<void>();
    this.#alone = done.promise;
    try {
      if (this.#pending.length > 0) {
        this.#drained = Promise.withResolvers<void>();
        await this.#drained.promise;
        this.#drained = undefined;
      }
      return await exchange();
    } finally {
      this.#alone = undefined;
      done.resolve();
    }
  }

  /**
   * Send one request alone on the wire (see {@linkcode RapTransport.runAlone}); `onReply`
   * runs before another request may be sent. With `timeout`, stop waiting after that long
   * (the reply, if it comes, is still matched to this request and `onReply` still runs).
   *
   * @param request The request (a CMD).
   * @param type The reply expected.
   * @param onReply Called with the reply.
   * @param timeout Milliseconds to wait for the reply (default: until it comes, or the
   *   connection's reply timer gives the connection up).
   */
  sendAlone<T extends ReplyType>(
    request: RapRequest,
    type: T,
    onReply: (reply: ReplyOf<T>) => void,
    timeout?: number,
  ): Promise<void> {
    return this.runAlone(async () => {
      const reply = this.send(type, encodePacket(request)).then(onReply);
      if (timeout === undefined) return await reply;
      let stop: (() => void) | undefined;
      const expired = new Promise<void>((resolve) => stop = startTimer(timeout, resolve));
      try {
        await Promise.race([handled(reply), expired]);
      } finally {
        stop?.();
      }
    });
  }

  /**
   * Give the connection up: close it and reject every waiting request with `error` (the
   * first failure stays the one reported).
   *
   * @param error Why.
   */
  fail(error: Error): void {
    if (this.#failure === undefined) this.#failure = error;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    for (const p of this.#pending.drain()) p.reject(this.#failure);
    this.#drained?.resolve();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Close the connection; requests still waiting fail.
   *
   * @returns When receiving and sending have stopped.
   */
  async close(): Promise<void> {
    this.fail(new RapConnectionError(`Connection to ${this.peer} was closed by the client`));
    await this.#receiving;
    await this.#writer.settled();
  }

  async #receive(): Promise<void> {
    const reader = this.#reader;
    try {
      for (;;) {
        const packet = reader.buffered(this.#target) ?? await reader.next(this.#target);
        if (packet === null) {
          this.fail(new RapConnectionError(`Connection to ${this.peer} closed by the server`));
          return;
        }
        if (packet.type === "cmd") {
          await this.#answerReverse(packet.command ?? "");
          continue;
        }
        this.#deliver(packet);
      }
    } catch (error) {
      this.fail(receiveFailure(error, this.peer, this.#options.tls ?? false));
    }
  }

  async #answerReverse(command: string): Promise<void> {
    let output: string | null = "";
    try {
      output = (await this.#options.onReverseCommand?.(command)) ?? "";
    } catch (error) {
      output = `${(error as Error).message}\n`;
    }
    this.#writer.write(encodePacket({ type: "cmd_reply", output }));
    await this.#writer.flush();
  }

  #deliver(packet: RapPacket): void {
    const head = this.#pending.shift();
    if (!head) {
      throw new RapProtocolError(`unexpected "${packet.type}" packet with no request waiting`);
    }
    this.#progress++;
    if (packet.type === "error") {
      head.reject(new RapRemoteError(packet.code, packet.message));
    } else if (packet.type !== head.expect) {
      head.reject(
        new RapProtocolError(`"${packet.type}" received while waiting for "${head.expect}"`),
      );
      throw new RapProtocolError(`"${packet.type}" received while waiting for "${head.expect}"`);
    } else {
      head.resolve(packet as RapReply);
    }
    if (this.#pending.length === 0) this.#drained?.resolve();
  }

  /**
   * While requests wait, check four times per timeout that replies keep coming; four
   * checks in a row without one give up the connection.
   */
  #armTimer(): void {
    const timeout = this.#options.timeout ?? 30_000;
    if (timeout <= 0 || this.#stopTimer !== undefined || this.#failure) return;
    let seen = this.#progress;
    let idleChecks = 0;
    const check = () => {
      this.#stopTimer = undefined;
      if (this.#pending.length === 0 || this.#failure) return;
      if (this.#progress !== seen) {
        seen = this.#progress;
        idleChecks = 0;
      } else if (++idleChecks >= 4) {
        this.fail(
          new RapConnectionError(
            `No reply from ${this.peer} within ${timeout} ms; connection closed`,
          ),
        );
        return;
      }
      this.#stopTimer = startTimer(timeout / 4, check);
    };
    this.#stopTimer = startTimer(timeout / 4, check);
  }
}

/** What a failure while receiving is to the caller: the peer is out of protocol, or gone. */
function receiveFailure(error: unknown, peer: string, tls: boolean): Error {
  if (!(error instanceof RapProtocolError)) {
    return new RapConnectionError(`Connection to ${peer} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // A TLS record (alert 0x15, handshake 0x16) in answer to plain bytes.
  const hint = (error.opcode === 0x15 || error.opcode === 0x16) && !tls
    ? " (the server speaks TLS: use raps://)"
    : "";
  return new RapProtocolError(
    `${peer} answered out of protocol: ${error.message}${hint}`,
    error.opcode,
    { cause: error },
  );
}
