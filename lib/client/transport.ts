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
import type { PacketHeader } from "../protocol/decode.ts";
import { QueuedWriter } from "../net/write_queue.ts";
import { ExtOpcode, RAP_PACKET_MAX, REPLY_FLAG } from "../protocol/constants.ts";
import { encodePacket } from "../protocol/encode.ts";
import { RapConnectionError, RapProtocolError, RapRemoteError } from "../protocol/errors.ts";
import type { RapPacket, RapReply, RapRequest } from "../protocol/packets.ts";
import { Fifo, handled } from "./_support.ts";
import { ReplyWatch } from "./_reply_watch.ts";
import { WireTurn } from "./_wire_turn.ts";
import { waitAtMost } from "./_timer.ts";

const READ_AT_REPLY = ExtOpcode.READ_AT | REPLY_FLAG;
const EMPTY = new Uint8Array(0);

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
  /** Where a streamed READ_AT reply's payload goes, piece by piece. */
  stream?: PayloadStream;
}

/**
 * Where the payload of a streamed READ_AT reply goes ({@linkcode RapTransport.expectStream}):
 * it is received through `chunk` and handed to `write` piece by piece as it arrives, so a
 * bulk reader keeps many requests in flight through one buffer.
 *
 * @example
 * ```ts
 * import type { PayloadStream } from "./transport.ts";
 * const stream: PayloadStream = { chunk: new Uint8Array(1 << 20), write: () => {} };
 * console.assert(stream.chunk.length === 1 << 20);
 * ```
 */
export interface PayloadStream {
  /** The buffer the payload is received into (reused from piece to piece). */
  chunk: Uint8Array;
  /** Takes each piece (a view valid until it returns or its promise settles). */
  write(bytes: Uint8Array): void | Promise<void>;
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
  readonly #watch: ReplyWatch;
  #failure: Error | undefined;
  readonly #turn = new WireTurn();

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
    const timeout = options.timeout ?? 30_000;
    this.#watch = new ReplyWatch(
      timeout,
      () => this.#pending.length > 0 && !this.#failure,
      () =>
        this.fail(
          new RapConnectionError(
            `No reply from ${this.peer} within ${timeout} ms; connection closed`,
          ),
        ),
    );
    this.#receiving = this.#receive();
  }

  /** Why the connection is no longer usable, or `undefined` while it is. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Whether an exchange runs alone (see {@linkcode RapTransport.runAlone}): others wait. */
  get alone(): boolean {
    return this.#turn.alone;
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
    return this.#expect(type, into, undefined);
  }

  #expect<T extends ReplyType>(
    type: T,
    into: Uint8Array | undefined,
    stream: PayloadStream | undefined,
  ): Promise<ReplyOf<T>> {
    if (this.#failure) return Promise.reject(this.#failure);
    const reply = new Promise<RapReply>((resolve, reject) => {
      this.#pending.push({ expect: type, resolve, reject, into, stream });
    });
    this.#watch.arm();
    return reply as Promise<ReplyOf<T>>;
  }

  /**
   * Register a READ_AT about to be written whose reply's payload goes to `stream` as it
   * arrives (see {@linkcode PayloadStream}); the promise settles with the payload's length
   * once all of it was handed over. The caller queues the request's bytes right after.
   *
   * @param stream Where the payload goes.
   * @returns The payload's length.
   */
  expectStream(stream: PayloadStream): Promise<number> {
    let length = 0;
    const counted: PayloadStream = {
      chunk: stream.chunk,
      write: (bytes) => {
        length += bytes.length;
        return stream.write(bytes);
      },
    };
    return this.#expect("read_at_reply", undefined, counted).then(() => length);
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
  turn(): Promise<void> {
    return this.#turn.turn();
  }

  /**
   * Run `exchange` alone on the wire: once every request before it has its reply, and with
   * no other request put on the wire until it settles (others wait in
   * {@linkcode RapTransport.turn}).
   *
   * @param exchange What to send and wait for (a CMD; a lock-step SEEK and READ).
   * @returns What `exchange` returns.
   */
  runAlone<T>(exchange: () => Promise<T>): Promise<T> {
    return this.#turn.runAlone(() => this.#pending.length, exchange);
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
      await (timeout === undefined ? reply : waitAtMost(handled(reply), timeout));
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
    this.#watch.stop();
    for (const p of this.#pending.drain()) p.reject(this.#failure);
    this.#turn.drained();
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
        // The header first: what the reply's payload becomes depends on the request at the
        // head when it comes (a streamed READ_AT may have been sent meanwhile).
        const header = reader.bufferedHeader() ?? await reader.header();
        if (header === null) {
          return this.fail(
            new RapConnectionError(`Connection to ${this.peer} closed by the server`),
          );
        }
        if (await this.#streamed(header)) continue;
        // A whole header is buffered: the packet comes, or the stream ends inside it (throws).
        const packet = (reader.buffered(this.#target) ?? await reader.next(this.#target))!;
        if (packet.type === "cmd") await this.#answerReverse(packet.command ?? "");
        else this.#deliver(packet);
      }
    } catch (error) {
      this.fail(receiveFailure(error, this.peer, this.#options.tls ?? false));
    }
  }

  /**
   * Receive a streamed READ_AT reply for the request at the head, when that is what comes
   * (anything else, an error reply too, is left to the ordinary path).
   */
  async #streamed(header: PacketHeader): Promise<boolean> {
    const stream = this.#pending.peek()?.stream;
    if (header.opcode !== READ_AT_REPLY || stream === undefined) return false;
    await this.#reader.streamPayload(header, stream.chunk, async (bytes) => {
      this.#watch.consuming(true);
      try {
        await stream.write(bytes);
      } finally {
        this.#watch.consuming(false);
        this.#watch.replied();
      }
    });
    this.#deliver({ type: "read_at_reply", data: EMPTY });
    return true;
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
    this.#watch.replied();
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
    if (this.#pending.length === 0) this.#turn.drained();
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
