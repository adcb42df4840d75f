/**
 * RapClient: a RAP client on `Deno.connect` that works against radare2 servers and ours.
 * Reads and writes larger than the peer's limit are split and the pieces pipelined; with
 * a server that offers the rap extensions (`docs/protocol.md`), requests carry their own
 * fd and offset and payloads of several MiB.
 *
 * @module
 */

import { PacketReader, type PayloadTarget } from "../net/packet_reader.ts";
import {
  CURRENT_FD,
  EXT_VERSION,
  ExtOpcode,
  Opcode,
  Perm,
  RAP_CMD_MAX,
  RAP_PACKET_MAX,
  Whence,
} from "../protocol/constants.ts";
import { putU32, putU64 } from "../protocol/_bytes.ts";
import { encodePacket } from "../protocol/encode.ts";
import { RapConnectionError, RapProtocolError, RapRemoteError } from "../protocol/errors.ts";
import { type ExtensionOffer, formatProbe, parseOffer } from "../protocol/extensions.ts";
import type { RapPacket, RapReply, RapRequest } from "../protocol/packets.ts";
import { connectTls, type TlsClientOptions } from "../net/tls.ts";
import { QueuedWriter } from "../net/write_queue.ts";

/**
 * Options of {@linkcode RapClient.connect}.
 *
 * @example
 * ```ts
 * import type { RapClientOptions } from "@rap/cli";
 * const options: RapClientOptions = { hostname: "127.0.0.1", port: 9999, extensions: true };
 * console.assert(options.port === 9999);
 * ```
 */
export interface RapClientOptions {
  /** Server host name or address. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Milliseconds to wait for a reply before the connection is given up (default 30000, 0 = never). */
  timeout?: number;
  /** Runs a reverse CMD sent by the server; its result is sent back (default: empty output). */
  onReverseCommand?: (command: string) => Promise<string | null> | string | null;
  /**
   * Largest READ/WRITE payload per request. Plain RAP: default 4096 (radare2's limit).
   * With extensions: at most the server's `maxdata`; default 1 MiB.
   */
  maxPayload?: number;
  /**
   * How many requests of one read or write may be in flight at once. On plain RAP each
   * piece takes two (its SEEK and its READ or WRITE), and a window of 1 is radare2's
   * lock-step: SEEK, wait, READ, wait. Default: 256 on plain RAP (128 pieces of 4 KiB),
   * enough for 8 MiB with the extensions.
   */
  window?: number;
  /**
   * Probe the server for the rap extensions right after connecting (default false: the
   * client speaks plain RAP, byte for byte as radare2's). A server that does not offer
   * them (radare2 answers the probe with an empty string) is used with plain RAP.
   * See {@linkcode RapClient.negotiate}.
   */
  extensions?: boolean | RapClientExtensionOptions;
  /**
   * Connect with TLS (`raps://`). The server's certificate is always verified: against the
   * system's roots plus `caCerts` (Deno cannot skip verification per connection; see
   * `lib/net/tls.ts`).
   */
  tls?: boolean | TlsClientOptions;
  /**
   * The token of a server started with `--token-file`: sent in the extension probe, which
   * is then the first request (the extensions are negotiated too).
   */
  token?: string;
  /**
   * Called with the new connection before anything is sent on it (before the TLS handshake
   * for `raps://`); an exception closes it and fails {@linkcode RapClient.connect}.
   */
  onConnect?: (conn: Deno.Conn) => void;
}

/**
 * What a client asks for when it probes for the extensions.
 *
 * @example
 * ```ts
 * import type { RapClientExtensionOptions } from "@rap/cli";
 * const ext: RapClientExtensionOptions = { maxData: 1 << 20, probeTimeout: 2000 };
 * console.assert(ext.maxData === 1048576);
 * ```
 */
export interface RapClientExtensionOptions {
  /** The largest payload this client wants (sent as `maxdata=`; the server may offer less). */
  maxData?: number;
  /** More `key=value` words for the probe (e.g. `token`, for servers that want one). */
  params?: Record<string, string>;
  /** Milliseconds to wait for the answer before the peer is taken as plain (default 5000). */
  probeTimeout?: number;
}

/**
 * The extensions a {@linkcode RapClient} negotiated.
 *
 * @example
 * ```ts
 * import type { RapExtensions } from "@rap/cli";
 * const ext: RapExtensions = { version: 1, maxData: 8 << 20, ops: ["readat", "error"] };
 * console.assert(ext.ops.includes("readat"));
 * ```
 */
export interface RapExtensions {
  /** The server's extension version. */
  version: number;
  /** The largest extended payload either side will send. */
  maxData: number;
  /** The operations the server offers. */
  ops: string[];
}

type ReplyType = RapReply["type"];

interface Pending {
  expect: ReplyType;
  resolve: (reply: RapReply) => void;
  reject: (error: Error) => void;
  /** Where a READ reply's payload goes. */
  into?: Uint8Array;
}

/** A first-in first-out queue with O(1) shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/** Preferred extended request size and bytes in flight per call. */
const EXT_CHUNK = 1024 * 1024;
const EXT_INFLIGHT = 8 * 1024 * 1024;
/** Requests in flight for plain RAP (SEEK+READ pairs count two): 128 pieces of 4 KiB. */
const PLAIN_WINDOW = 256;

/**
 * A RAP client. Requests may be issued concurrently: they are written in call order and
 * the replies, which a RAP server sends in order, are matched to their callers, so random
 * reads from many callers share one connection without waiting for each other. Each read
 * or write carries its own offset (a SEEK before it on plain RAP), so concurrent callers
 * never disturb each other. Sequential reads keep a window of requests in flight.
 *
 * @example Read a remote buffer
 * ```ts
 * import { RapClient, RapServer } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * await client.open("hex://0011223344");
 * assert.deepEqual([...await client.read(1, 3)], [0x11, 0x22, 0x33]);
 * assert.equal(await client.size(), 5n);
 * ```
 *
 * @example Negotiate the extensions and use two files on one connection
 * ```ts
 * import { RapClient, RapServer } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * await using client = await RapClient.connect({
 *   hostname: "127.0.0.1", port: server.addr.port, extensions: true,
 * });
 * assert.ok(client.extensions);
 * const a = await client.open("hex://aabb");
 * const b = await client.open("hex://ccddee");
 * assert.deepEqual([...await client.read(0, 2, a)], [0xaa, 0xbb]);
 * assert.equal(await client.size(b), 3n);
 * ```
 */
export class RapClient implements AsyncDisposable {
  /** `host:port` of the server, for messages. */
  readonly peer: string;
  readonly #conn: Deno.Conn;
  readonly #reader: PacketReader;
  readonly #writer: QueuedWriter;
  readonly #options: RapClientOptions;
  readonly #pending = new Fifo<Pending>();
  readonly #readLoop: Promise<void>;
  readonly #target: PayloadTarget;
  #ext: RapExtensions | undefined;
  #failure: Error | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Replies received so far: the reply timer looks for progress without reading a clock. */
  #progress = 0;
  #cmdGate: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;
  #currentFd: number | undefined;

  private constructor(conn: Deno.Conn, options: RapClientOptions) {
    this.#conn = conn;
    this.#options = options;
    this.peer = `${options.hostname}:${options.port}`;
    this.#reader = new PacketReader(conn, {
      role: "client",
      maxData: Math.max(RAP_PACKET_MAX, options.maxPayload ?? RAP_PACKET_MAX),
    });
    this.#writer = new QueuedWriter(conn, {
      highWaterMark: 4 * 1024 * 1024,
      onError: (error) =>
        this.#fail(
          new RapConnectionError(`Cannot send to ${this.peer}: ${error.message}`, { cause: error }),
        ),
    });
    this.#target = () => this.#pending.peek()?.into;
    this.#readLoop = this.#receive();
  }

  /**
   * Connect to a RAP server, and negotiate the extensions when `options.extensions` asks.
   *
   * @param options See {@linkcode RapClientOptions}.
   * @returns The connected client.
   * @throws {RapConnectionError} If the connection cannot be made.
   */
  static async connect(options: RapClientOptions): Promise<RapClient> {
    let conn: Deno.TcpConn | Deno.TlsConn;
    if (options.tls) {
      conn = await connectTls(
        options.hostname,
        options.port,
        options.tls === true ? {} : options.tls,
        options.onConnect,
      );
    } else {
      try {
        conn = await Deno.connect({ hostname: options.hostname, port: options.port });
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) throw error;
        throw new RapConnectionError(
          `Cannot connect to ${options.hostname}:${options.port}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      conn.setNoDelay(true);
      try {
        options.onConnect?.(conn);
      } catch (error) {
        conn.close();
        throw error;
      }
    }
    const client = new RapClient(conn, options);
    if (options.extensions || options.token !== undefined) {
      const ext = typeof options.extensions === "object" ? options.extensions : {};
      try {
        await client.negotiate(
          options.token === undefined
            ? ext
            : { ...ext, params: { ...ext.params, token: options.token } },
        );
      } catch (error) {
        await client.close();
        throw error;
      }
    }
    return client;
  }

  /**
   * Wrap an already connected stream (e.g. a TLS connection). Call
   * {@linkcode RapClient.negotiate} to use the extensions.
   *
   * @param conn The connection.
   * @param options Peer name and client options.
   * @returns The client.
   */
  static fromConn(conn: Deno.Conn, options: RapClientOptions): RapClient {
    return new RapClient(conn, options);
  }

  /** Whether the connection is still usable. */
  get connected(): boolean {
    return this.#failure === undefined;
  }

  /** The negotiated extensions, or `undefined` while the client speaks plain RAP. */
  get extensions(): RapExtensions | undefined {
    return this.#ext;
  }

  // ---- transport --------------------------------------------------------------------

  async #receive(): Promise<void> {
    const reader = this.#reader;
    try {
      for (;;) {
        const packet = reader.buffered(this.#target) ?? await reader.next(this.#target);
        if (packet === null) {
          this.#fail(new RapConnectionError(`Connection to ${this.peer} closed by the server`));
          return;
        }
        if (packet.type === "cmd") {
          await this.#answerReverse(packet.command ?? "");
          continue;
        }
        this.#deliver(packet);
      }
    } catch (error) {
      const err = error instanceof RapProtocolError
        ? new RapProtocolError(
          `${this.peer} answered out of protocol: ${error.message}${
            // A TLS record (alert 0x15, handshake 0x16) in answer to plain bytes.
            (error.opcode === 0x15 || error.opcode === 0x16) && !this.#options.tls
              ? " (the server speaks TLS: use raps://)"
              : ""}`,
          error.opcode,
          { cause: error },
        )
        : new RapConnectionError(
          `Connection to ${this.peer} failed: ${(error as Error).message}`,
          { cause: error },
        );
      this.#fail(err);
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
    if (timeout <= 0 || this.#timer !== undefined || this.#failure) return;
    let seen = this.#progress;
    let idleChecks = 0;
    const check = () => {
      this.#timer = undefined;
      if (this.#pending.length === 0 || this.#failure) return;
      if (this.#progress !== seen) {
        seen = this.#progress;
        idleChecks = 0;
      } else if (++idleChecks >= 4) {
        this.#fail(
          new RapConnectionError(
            `No reply from ${this.peer} within ${timeout} ms; connection closed`,
          ),
        );
        return;
      }
      this.#timer = setTimeout(check, timeout / 4);
    };
    this.#timer = setTimeout(check, timeout / 4);
  }

  #fail(error: Error): void {
    if (this.#failure === undefined) this.#failure = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const p of this.#pending.drain()) p.reject(this.#failure);
    this.#drained?.resolve();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Register a request about to be written; the promise settles with its reply. The
   * caller writes the request's bytes right after (nothing else in between).
   */
  #expect(expect: ReplyType, into?: Uint8Array): Promise<RapReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const reply = new Promise<RapReply>((resolve, reject) => {
      this.#pending.push({ expect, resolve, reject, into });
    });
    if (this.#timer === undefined) this.#armTimer();
    return reply;
  }

  /** Queue one request's bytes; the promise settles with its reply. */
  #send(expect: ReplyType, bytes: Uint8Array): Promise<RapReply> {
    const reply = this.#expect(expect);
    if (!this.#failure) this.#writer.write(bytes);
    return reply;
  }

  /** Queue SEEK(SET) and a READ or WRITE header, encoded in place (15 bytes). */
  #seekAnd(op: number, offset: bigint, length: number): void {
    const b = this.#writer.reserve(15);
    b[0] = Opcode.SEEK;
    b[1] = Whence.SET;
    putU64(b, 2, offset);
    b[10] = op;
    putU32(b, 11, length);
  }

  /** Queue an extended READ_AT or WRITE_AT header, encoded in place (17 bytes). */
  #atHeader(op: number, fd: number, offset: bigint, length: number): void {
    const b = this.#writer.reserve(17);
    b[0] = op;
    putU32(b, 1, fd);
    putU64(b, 5, offset);
    putU32(b, 13, length);
  }

  /** Wait until no CMD is running, so pipelined requests never follow a CMD on the wire. */
  async #waitForCmd(): Promise<void> {
    while (this.#cmdGate) await this.#cmdGate;
  }

  async #request<T extends ReplyType>(
    request: RapRequest,
    expect: T,
  ): Promise<Extract<RapReply, { type: T }>> {
    await this.#waitForCmd();
    return await this.#send(expect, encodePacket(request)) as Extract<RapReply, { type: T }>;
  }

  /** The fd to put in an extended request, or a refusal on plain RAP. */
  #fdFor(fd: number | undefined): number {
    if (this.#ext !== undefined) return fd ?? CURRENT_FD;
    if (fd !== undefined && fd !== CURRENT_FD && fd !== this.#currentFd) {
      throw new RangeError(
        `${this.peer} speaks plain RAP, which only reaches the last file opened (fd ${this.#currentFd}), not fd ${fd}`,
      );
    }
    return CURRENT_FD;
  }

  #step(): number {
    const cap = this.#options.maxPayload;
    if (this.#ext === undefined) return cap ?? RAP_PACKET_MAX;
    return Math.max(1, Math.min(this.#ext.maxData, cap ?? EXT_CHUNK));
  }

  /** Requests in flight for one read or write. */
  #window(step: number): number {
    if (this.#options.window !== undefined) return Math.max(1, Math.floor(this.#options.window));
    return this.#ext === undefined ? PLAIN_WINDOW : Math.max(2, Math.ceil(EXT_INFLIGHT / step));
  }

  /** Pieces in flight: on plain RAP each piece is two requests (SEEK, then READ or WRITE). */
  #pieces(window: number): number {
    return this.#ext === undefined ? Math.max(1, Math.floor(window / 2)) : window;
  }

  // ---- operations -------------------------------------------------------------------

  /**
   * Ask the server for the rap extensions (a CMD `#rap-ext? 1 ...`, a comment to radare2).
   * When it offers them, later reads and writes use them; otherwise (radare2 answers an
   * empty string; a peer that does not answer within `probeTimeout` counts as plain too)
   * the client stays on plain RAP.
   *
   * @param options What to ask for.
   * @returns The extensions now in use, or `undefined` for a plain peer.
   */
  async negotiate(options: RapClientExtensionOptions = {}): Promise<RapExtensions | undefined> {
    if (this.#ext) return this.#ext;
    const params: Record<string, string> = { ...options.params };
    if (options.maxData !== undefined) params.maxdata = String(options.maxData);
    const probe = formatProbe({ version: EXT_VERSION, params });
    const timeout = options.probeTimeout ?? 5000;
    let offer: ExtensionOffer | undefined;
    let refused: string | undefined;
    await this.#command(probe, (output) => {
      offer = parseOffer(output);
      if (offer === undefined) return;
      const auth = offer.params.auth;
      if (auth !== undefined && auth !== "ok") {
        refused = auth === "required"
          ? `${this.peer} requires a token (the server was started with --token-file)`
          : `${this.peer} refused the token`;
        return;
      }
      // No other request is in flight: the extensions start exactly here on the wire.
      const maxData = Math.min(offer.maxData, options.maxData ?? offer.maxData);
      this.#reader.decoder.enableExtensions(maxData);
      this.#ext = { version: offer.version, maxData, ops: offer.ops };
    }, params.token === undefined ? timeout : undefined).catch((error) => {
      if (params.token !== undefined && error instanceof RapConnectionError) {
        throw new RapConnectionError(
          `${this.peer} closed the connection on the authenticating probe: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    });
    if (refused !== undefined) {
      this.#fail(new RapConnectionError(refused));
      throw new RapConnectionError(refused);
    }
    return this.#ext;
  }

  /**
   * Open a file on the server (OPEN). A radare2 server closes the connection when the open
   * fails; that is reported as an error and the client is then unusable. With the
   * extensions, a failed open is an error reply and the connection stays usable.
   *
   * @param name The path or URI on the server (at most 254 bytes).
   * @param flags radare2 permission bits (default R|X, as `r2 rap://...` sends; add W to write).
   * @returns The server's fd.
   * @throws {RapConnectionError} If the server refused the open by closing the connection.
   * @throws {RapRemoteError} If it refused with an error reply (extensions).
   */
  async open(name: string, flags: number = Perm.R | Perm.X): Promise<number> {
    let reply;
    try {
      reply = await this.#request({ type: "open", flags, name }, "open_reply");
    } catch (error) {
      if (error instanceof RapConnectionError) {
        throw new RapConnectionError(
          `Cannot open "${name}" on ${this.peer}: the server refused it (closed the connection)`,
          { cause: error },
        );
      }
      if (error instanceof RapRemoteError) {
        throw new RapRemoteError(
          error.code,
          `Cannot open "${name}" on ${this.peer}: the server refused it: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    if (reply.fd === -1) {
      throw new RapConnectionError(
        `Cannot open "${name}" on ${this.peer}: the server answered fd -1`,
      );
    }
    this.#currentFd = reply.fd;
    return reply.fd;
  }

  /**
   * Move the server's seek (SEEK).
   *
   * @param offset The offset (64-bit).
   * @param whence 0 SET, 1 CUR, 2 END.
   * @returns The resulting offset the server reports.
   */
  async seek(offset: bigint, whence: number = Whence.SET): Promise<bigint> {
    return (await this.#request({ type: "seek", whence, offset }, "seek_reply")).offset;
  }

  /**
   * The size of a file on the server: SEEK END on plain RAP (the current file only), an
   * extended SIZE with the extensions.
   *
   * @param fd The file (default: the server's current file).
   * @returns The size; `0xffffffffffffffff` when the server has no file or it is unbounded.
   */
  async size(fd?: number): Promise<bigint> {
    const target = this.#fdFor(fd);
    if (this.#ext === undefined) return await this.seek(0n, Whence.END);
    const reply = await this.#request({ type: "size", fd: target }, "size_reply");
    return reply.size;
  }

  /**
   * Read `length` bytes at `offset`. See {@linkcode RapClient.readInto}.
   *
   * @param offset Where to read.
   * @param length How many bytes.
   * @param fd The file (default: the server's current file; other fds need the extensions).
   * @returns The bytes (0xff past the end of the data, as radare2 pads).
   */
  async read(offset: number | bigint, length: number, fd?: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out, fd);
    return out;
  }

  /**
   * Read `into.length` bytes at `offset` straight into `into`. The read is split into
   * pieces of the peer's payload limit (4096 for plain RAP, each with its SEEK; up to
   * 1 MiB with the extensions, each carrying its offset) and a window of pieces is kept in
   * flight. Payloads are received into `into` without an extra copy where possible. Bytes
   * past the end of the data are 0xff, as radare2 pads.
   *
   * @param offset Where to read.
   * @param into The destination; its length is the read length.
   * @param fd The file (default: the server's current file; other fds need the extensions).
   * @returns `into`.
   */
  async readInto(offset: number | bigint, into: Uint8Array, fd?: number): Promise<Uint8Array> {
    const length = into.length;
    const target = this.#fdFor(fd);
    if (length === 0) return into;
    await this.#waitForCmd();
    const base = BigInt(offset);
    const step = this.#step();
    const window = this.#window(step);
    const pieces = this.#pieces(window);
    const ext = this.#ext !== undefined;
    const inflight = new Fifo<Promise<void>>();
    for (let at = 0; at < length; at += step) {
      const n = Math.min(step, length - at);
      const piece = into.subarray(at, at + n);
      let reply: Promise<RapReply>;
      if (ext) {
        reply = this.#expect("read_at_reply", piece);
        if (!this.#failure) this.#atHeader(ExtOpcode.READ_AT, target, base + BigInt(at), n);
      } else if (window === 1) {
        // Lock-step, as radare2: one request in flight.
        await this.#send(
          "seek_reply",
          encodePacket({ type: "seek", whence: Whence.SET, offset: base + BigInt(at) }),
        );
        reply = this.#expect("read_reply", piece);
        if (!this.#failure) this.#writer.write(encodePacket({ type: "read", length: n }));
      } else {
        this.#expect("seek_reply").catch(() => {}); // its failure is reported by the READ
        reply = this.#expect("read_reply", piece);
        if (!this.#failure) this.#seekAnd(Opcode.READ, base + BigInt(at), n);
      }
      inflight.push(handled(reply.then((r) => {
        const data = (r as Extract<RapReply, { data: Uint8Array }>).data;
        if (data.buffer !== piece.buffer || data.byteOffset !== piece.byteOffset) {
          piece.set(data.length > n ? data.subarray(0, n) : data);
        }
        if (data.length < n) piece.fill(0xff, data.length);
      })));
      // A full window waits for a quarter of it, so requests leave in batches.
      if (inflight.length >= pieces) {
        for (let i = refill(pieces); i > 0 && inflight.length > 0; i--) await inflight.shift();
      }
    }
    for (let p = inflight.shift(); p !== undefined; p = inflight.shift()) await p;
    return into;
  }

  /**
   * Write `data` at `offset`, split and pipelined like {@linkcode RapClient.readInto}.
   * Payload bytes are sent from `data` without a copy; do not change it until this
   * resolves.
   *
   * @param offset Where to write.
   * @param data The bytes.
   * @param fd The file (default: the server's current file; other fds need the extensions).
   * @returns The bytes written.
   * @throws {Error} If the server reports a failed write (reply 0, or an error reply).
   */
  async write(offset: number | bigint, data: Uint8Array, fd?: number): Promise<number> {
    const target = this.#fdFor(fd);
    if (data.length === 0) return 0;
    await this.#waitForCmd();
    const base = BigInt(offset);
    const step = this.#step();
    const window = this.#window(step);
    const pieces = this.#pieces(window);
    const ext = this.#ext !== undefined;
    const inflight = new Fifo<Promise<number>>();
    let total = 0;
    const settle = (result: number, n: number, pos: number) => {
      if (result <= 0) {
        throw new Error(
          `Write of ${n} byte(s) at 0x${(base + BigInt(pos)).toString(16)} failed on ${this.peer}`,
        );
      }
      // radare2's own server answers 1 (a boolean) for a successful write of any size.
      return !ext && result === 1 ? n : result;
    };
    for (let at = 0; at < data.length; at += step) {
      const n = Math.min(step, data.length - at);
      const piece = data.subarray(at, at + n);
      let reply: Promise<RapReply>;
      if (ext) {
        reply = this.#expect("write_at_reply");
        if (!this.#failure) {
          this.#atHeader(ExtOpcode.WRITE_AT, target, base + BigInt(at), n);
          this.#writer.write(piece);
        }
      } else if (window === 1) {
        await this.#send(
          "seek_reply",
          encodePacket({ type: "seek", whence: Whence.SET, offset: base + BigInt(at) }),
        );
        reply = this.#expect("write_reply");
        if (!this.#failure) this.#writer.write(encodePacket({ type: "write", data: piece }));
      } else {
        this.#expect("seek_reply").catch(() => {}); // its failure is reported by the WRITE
        reply = this.#expect("write_reply");
        if (!this.#failure) {
          this.#seekAnd(Opcode.WRITE, base + BigInt(at), n);
          this.#writer.write(piece);
        }
      }
      const pos = at;
      inflight.push(handled(
        reply.then((r) => settle((r as Extract<RapReply, { result: number }>).result, n, pos)),
      ));
      if (inflight.length >= pieces) {
        for (let i = refill(pieces); i > 0 && inflight.length > 0; i--) {
          total += await inflight.shift()!;
        }
      }
    }
    for (let p = inflight.shift(); p !== undefined; p = inflight.shift()) total += await p;
    return total;
  }

  /**
   * Run a command on the server (CMD). Reverse CMDs the server sends meanwhile go to
   * `onReverseCommand`. No other request is put on the wire while a CMD runs.
   *
   * @param command The command (at most 4094 bytes for a radare2 server).
   * @returns The output, without the trailing NUL (`""` when the server sends none).
   * @throws {RangeError} If the command is too long for the peer.
   */
  async cmd(command: string): Promise<string> {
    let output: string | null = null;
    await this.#command(command, (text) => output = text);
    return output ?? "";
  }

  /**
   * Send a CMD alone on the wire; `onReply` runs before any other request may follow it.
   * With `timeout`, stop waiting after that long (the reply, if it comes, is still
   * matched to this CMD and dropped).
   */
  async #command(
    command: string,
    onReply: (output: string | null) => void,
    timeout?: number,
  ): Promise<void> {
    const size = new TextEncoder().encode(command).length + 1;
    if (size > RAP_CMD_MAX) {
      throw new RangeError(
        `Command is ${size} bytes with its NUL; a RAP server takes at most ${RAP_CMD_MAX}`,
      );
    }
    await this.#waitForCmd();
    const gate = Promise.withResolvers<void>();
    this.#cmdGate = gate.promise;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (this.#pending.length > 0) {
        this.#drained = Promise.withResolvers<void>();
        await this.#drained.promise;
        this.#drained = undefined;
      }
      const reply = this.#send("cmd_reply", encodePacket({ type: "cmd", command }))
        .then((r) => onReply((r as Extract<RapReply, { type: "cmd_reply" }>).output));
      if (timeout === undefined) return await reply;
      handled(reply);
      const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, timeout));
      await Promise.race([reply, expired]);
    } finally {
      clearTimeout(timer);
      this.#cmdGate = undefined;
      gate.resolve();
    }
  }

  /**
   * Close a file on the server (CLOSE). radare2 clients never send this, and radare2's
   * server would close an OS descriptor of its own process: use it with rap servers only.
   *
   * @param fd The server fd.
   * @returns The server's result (0 on success).
   */
  async closeFile(fd: number): Promise<number> {
    const result = (await this.#request({ type: "close", fd }, "close_reply")).result;
    if (result === 0 && fd === this.#currentFd) this.#currentFd = undefined;
    return result;
  }

  /** Close the connection; requests still waiting fail. */
  async close(): Promise<void> {
    this.#fail(new RapConnectionError(`Connection to ${this.peer} was closed by the client`));
    await this.#readLoop;
    await this.#writer.settled();
  }

  /** Same as {@linkcode RapClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** How many requests complete before a full window is refilled (a quarter of it). */
function refill(window: number): number {
  return Math.max(1, Math.floor(window / 4));
}

/** Mark a promise as handled (its rejection is still seen by whoever awaits it). */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
