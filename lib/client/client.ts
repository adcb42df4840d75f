/**
 * RapClient: a RAP client on `Deno.connect` that works against radare2 servers and ours.
 * Reads and writes larger than the peer's limit are split and the pieces pipelined; with
 * a server that offers the rap extensions (`docs/protocol.md`), requests carry their own
 * fd and offset and payloads of several MiB.
 *
 * This file holds the operations (connect, negotiate, open, seek, size, read, write, cmd,
 * close); the connection's requests and replies are {@linkcode RapTransport}'s
 * (`transport.ts`), CMDs are sent by `command.ts`, and reads and writes go through
 * `file_transfers.ts` (the block caches, then the one pipelined loop of `pipeline.ts`).
 *
 * @module
 */

import { CURRENT_FD, EXT_VERSION, Perm, Whence } from "../protocol/constants.ts";
import { RapConnectionError, RapRemoteError } from "../protocol/errors.ts";
import { formatProbe, parseOffer } from "../protocol/extensions.ts";
import type { TlsClientOptions } from "../net/tls.ts";
import { sendCommand } from "./command.ts";
import { dial } from "./connect.ts";
import type { RapCacheOptions } from "./file_caches.ts";
import { FileTransfers } from "./file_transfers.ts";
import type { StreamSink } from "../io/types.ts";
import { RapTransport } from "./transport.ts";

export { RAP_CACHE_DEFAULTS, type RapCacheOptions } from "./file_caches.ts";

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
   * With extensions: at most the server's `maxdata`; default 4 MiB.
   */
  maxPayload?: number;
  /**
   * How many requests of one read or write may be in flight at once. On plain RAP each
   * piece takes two (its SEEK and its READ or WRITE), and a window of 1 is radare2's
   * lock-step: SEEK, wait, READ, wait (concurrent callers take turns). Default: 256 on
   * plain RAP (128 pieces of 4 KiB), enough for 8 MiB with the extensions.
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
  /**
   * Keep a block cache with read-ahead per remote file (default: none). Small reads are
   * then served from blocks of `blockSize` fetched with large pipelined requests, ahead of
   * sequential readers; reads of `bypass` bytes or more go straight to the server. The
   * client's own writes are copied into the blocks it holds; writes by other clients are
   * seen only once their blocks left the cache. See `docs/proxy.md`.
   *
   * @example
   * ```ts
   * import { RapClient, RapServer } from "@rap/cli";
   * import assert from "node:assert/strict";
   *
   * await using server = RapServer.listen({ port: 0, log: () => {} });
   * await using client = await RapClient.connect({
   *   hostname: "127.0.0.1", port: server.addr.port, extensions: true,
   *   cache: { blockSize: 4096, maxBytes: 1 << 20 },
   * });
   * const fd = await client.open("malloc://1M");
   * await client.write(5000, new Uint8Array([1, 2, 3]), fd);
   * for (let at = 0; at < 65536; at += 4096) await client.read(at, 4096, fd);
   * assert.deepEqual([...await client.read(5000, 3, fd)], [1, 2, 3]);
   * assert.equal(client.cacheCapacity, 1 << 20);
   * assert.ok(client.cacheStats.hits > 0);
   * ```
   */
  cache?: RapCacheOptions;
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
  readonly #transport: RapTransport;
  readonly #transfers: FileTransfers;
  #ext: RapExtensions | undefined;
  #currentFd: number | undefined;

  private constructor(conn: Deno.Conn, options: RapClientOptions) {
    this.peer = `${options.hostname}:${options.port}`;
    this.#transport = new RapTransport(conn, {
      peer: this.peer,
      timeout: options.timeout,
      onReverseCommand: options.onReverseCommand,
      maxData: options.maxPayload,
      tls: Boolean(options.tls),
    });
    this.#transfers = new FileTransfers(this.#transport, options, () => this.#ext?.maxData);
  }

  /**
   * Connect to a RAP server, and negotiate the extensions when `options.extensions` asks.
   *
   * @param options See {@linkcode RapClientOptions}.
   * @returns The connected client.
   * @throws {RapConnectionError} If the connection cannot be made.
   */
  static async connect(options: RapClientOptions): Promise<RapClient> {
    const client = new RapClient(await dial(options), options);
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

  /** The bytes one file's block cache may hold (`options.cache`), or 0 without a cache. */
  get cacheCapacity(): number {
    return this.#transfers.capacity;
  }

  /** The block caches' counters: blocks found, blocks fetched, fetch requests. */
  get cacheStats(): { hits: number; misses: number; fetches: number } {
    return this.#transfers.stats;
  }

  /** Whether the connection is still usable. */
  get connected(): boolean {
    return this.#transport.failure === undefined;
  }

  /** The negotiated extensions, or `undefined` while the client speaks plain RAP. */
  get extensions(): RapExtensions | undefined {
    return this.#ext;
  }

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
    let refused: string | undefined;
    await sendCommand(this.#transport, probe, (output) => {
      const answer = readOffer(output, options.maxData, this.peer);
      refused = answer.refused;
      if (answer.ext === undefined) return;
      // No other request is in flight: the extensions start exactly here on the wire.
      this.#transport.enableExtensions(answer.ext.maxData);
      this.#ext = answer.ext;
    }, params.token === undefined ? timeout : undefined).catch((error) => {
      throw params.token === undefined ? error : tokenRefusal(error, this.peer);
    });
    if (refused !== undefined) {
      this.#transport.fail(new RapConnectionError(refused));
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
      reply = await this.#transport.request({ type: "open", flags, name }, "open_reply");
    } catch (error) {
      throw openRefusal(error, name, this.peer);
    }
    if (reply.fd === -1) {
      throw new RapConnectionError(
        `Cannot open "${name}" on ${this.peer}: the server answered fd -1`,
      );
    }
    this.#currentFd = reply.fd;
    // Plain RAP reads the current file: another file now.
    this.#transfers.forget(this.#ext === undefined ? CURRENT_FD : reply.fd);
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
    return (await this.#transport.request({ type: "seek", whence, offset }, "seek_reply")).offset;
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
    const reply = await this.#transport.request({ type: "size", fd: target }, "size_reply");
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
   * 4 MiB with the extensions, each carrying its offset) and a window of pieces is kept in
   * flight. Payloads are received into `into` without an extra copy where possible. Bytes
   * past the end of the data are 0xff, as radare2 pads.
   *
   * @param offset Where to read.
   * @param into The destination; its length is the read length.
   * @param fd The file (default: the server's current file; other fds need the extensions).
   * @returns `into`.
   */
  async readInto(offset: number | bigint, into: Uint8Array, fd?: number): Promise<Uint8Array> {
    const target = this.#fdFor(fd);
    if (into.length === 0) return into;
    await this.#transfers.read(target, offset, into);
    return into;
  }

  /**
   * Hand `length` bytes at `offset` to `write` in order as they arrive: with the extensions,
   * READ_ATs run 32 MiB ahead through one 1 MiB buffer (`stream_range.ts`); on plain RAP,
   * 1 MiB pieces are read as {@linkcode RapClient.readInto} does.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @param write Takes each piece (a view valid until it returns or its promise settles).
   * @param fd The file (default: the server's current file; other fds need the extensions).
   * @returns The bytes handed over: fewer only at the end of the file (extensions).
   */
  readStream(
    offset: number | bigint,
    length: number,
    write: StreamSink,
    fd?: number,
  ): Promise<number> {
    return this.#transfers.stream(this.#fdFor(fd), BigInt(offset), length, write);
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
    return await this.#transfers.write(target, offset, data);
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
    await sendCommand(this.#transport, command, (text) => output = text);
    return output ?? "";
  }

  /**
   * Close a file on the server (CLOSE). radare2 clients never send this, and radare2's
   * server would close an OS descriptor of its own process: use it with rap servers only.
   *
   * @param fd The server fd.
   * @returns The server's result (0 on success).
   */
  async closeFile(fd: number): Promise<number> {
    const result = (await this.#transport.request({ type: "close", fd }, "close_reply")).result;
    if (result === 0 && fd === this.#currentFd) this.#currentFd = undefined;
    this.#transfers.forget(this.#ext === undefined ? CURRENT_FD : fd);
    return result;
  }

  /** Close the connection; requests still waiting fail. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  /** Same as {@linkcode RapClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
}

/**
 * What an answer to the extension probe gives: the extensions to use, a refused token (the
 * connection is then given up), or neither (a plain peer, e.g. radare2's empty answer).
 */
function readOffer(
  output: string | null,
  maxData: number | undefined,
  peer: string,
): { ext?: RapExtensions; refused?: string } {
  const offer = parseOffer(output);
  if (offer === undefined) return {};
  const auth = offer.params.auth;
  if (auth !== undefined && auth !== "ok") {
    return {
      refused: auth === "required"
        ? `${peer} requires a token (the server was started with --token-file)`
        : `${peer} refused the token`,
    };
  }
  const agreed = Math.min(offer.maxData, maxData ?? offer.maxData);
  return { ext: { version: offer.version, maxData: agreed, ops: offer.ops } };
}

/** The error for an OPEN the server refused: by closing the connection, or with an error reply. */
function openRefusal(error: unknown, name: string, peer: string): unknown {
  if (error instanceof RapConnectionError) {
    return new RapConnectionError(
      `Cannot open "${name}" on ${peer}: the server refused it (closed the connection)`,
      { cause: error },
    );
  }
  if (error instanceof RapRemoteError) {
    return new RapRemoteError(
      error.code,
      `Cannot open "${name}" on ${peer}: the server refused it: ${error.message}`,
      { cause: error },
    );
  }
  return error;
}

/** The error for a probe with a token that the server answered by closing the connection. */
function tokenRefusal(error: unknown, peer: string): unknown {
  if (!(error instanceof RapConnectionError)) return error;
  return new RapConnectionError(
    `${peer} closed the connection on the authenticating probe: ${error.message}`,
    { cause: error },
  );
}
