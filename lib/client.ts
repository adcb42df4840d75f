/**
 * RapClient: a RAP client on `Deno.connect` that works against radare2 servers and ours.
 * Reads and writes larger than the peer's limit are split and the pieces pipelined.
 *
 * @module
 */

import { PacketReader } from "./packet_reader.ts";
import { Perm, RAP_CMD_MAX, RAP_PACKET_MAX, Whence } from "./protocol/constants.ts";
import { encodePacket } from "./protocol/encode.ts";
import { RapConnectionError, RapProtocolError } from "./protocol/errors.ts";
import type { RapPacket, RapReply, RapRequest } from "./protocol/packets.ts";
import { writeAll } from "./write_all.ts";

/**
 * Options of {@linkcode RapClient.connect}.
 *
 * @example
 * ```ts
 * import type { RapClientOptions } from "@rap/cli";
 * const options: RapClientOptions = { hostname: "127.0.0.1", port: 9999, timeout: 5000 };
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
  /** Largest READ/WRITE payload the peer accepts (default 4096, radare2's limit). */
  maxPayload?: number;
  /** How many split requests may be in flight at once (default 64). */
  window?: number;
}

type ReplyType = RapReply["type"];

interface Pending {
  expect: ReplyType;
  resolve: (reply: RapReply) => void;
  reject: (error: Error) => void;
}

/**
 * A RAP client. Requests may be issued concurrently: they are written in call order and
 * the replies, which a RAP server sends in order, are matched to their callers. Each read
 * or write carries its own SEEK, so concurrent callers never disturb each other.
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
 */
export class RapClient implements AsyncDisposable {
  /** `host:port` of the server, for messages. */
  readonly peer: string;
  readonly #conn: Deno.Conn;
  readonly #reader: PacketReader;
  readonly #options: RapClientOptions;
  readonly #maxPayload: number;
  readonly #window: number;
  readonly #pending: Pending[] = [];
  readonly #readLoop: Promise<void>;
  #writeChain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cmdGate: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;

  private constructor(conn: Deno.Conn, options: RapClientOptions) {
    this.#conn = conn;
    this.#options = options;
    this.peer = `${options.hostname}:${options.port}`;
    this.#maxPayload = options.maxPayload ?? RAP_PACKET_MAX;
    this.#window = Math.max(1, options.window ?? 64);
    this.#reader = new PacketReader(conn, { role: "client", maxData: this.#maxPayload });
    this.#readLoop = this.#receive();
  }

  /**
   * Connect to a RAP server.
   *
   * @param options See {@linkcode RapClientOptions}.
   * @returns The connected client.
   * @throws {RapConnectionError} If the connection cannot be made.
   */
  static async connect(options: RapClientOptions): Promise<RapClient> {
    let conn: Deno.TcpConn;
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
    return new RapClient(conn, options);
  }

  /**
   * Wrap an already connected stream (e.g. a TLS connection).
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

  // ---- transport --------------------------------------------------------------------

  async #receive(): Promise<void> {
    try {
      for (;;) {
        const packet = await this.#reader.next();
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
          `${this.peer} answered out of protocol: ${error.message}`,
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
    this.#writeChain = this.#writeChain.then(() =>
      writeAll(this.#conn, [encodePacket({ type: "cmd_reply", output })])
    );
    await this.#writeChain;
  }

  #deliver(packet: RapPacket): void {
    const head = this.#pending.shift();
    if (!head) {
      throw new RapProtocolError(`unexpected "${packet.type}" packet with no request waiting`);
    }
    if (packet.type !== head.expect) {
      this.#pending.unshift(head);
      throw new RapProtocolError(`"${packet.type}" received while waiting for "${head.expect}"`);
    }
    this.#armTimer();
    head.resolve(packet as RapReply);
    if (this.#pending.length === 0) this.#drained?.resolve();
  }

  #armTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const timeout = this.#options.timeout ?? 30_000;
    if (timeout <= 0 || this.#pending.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#fail(
        new RapConnectionError(
          `No reply from ${this.peer} within ${timeout} ms; connection closed`,
        ),
      );
    }, timeout);
  }

  #fail(error: Error): void {
    if (this.#failure === undefined) this.#failure = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const p of this.#pending.splice(0)) p.reject(this.#failure);
    this.#drained?.resolve();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Send requests as one write; return a promise per reply. */
  #send(requests: RapRequest[]): Promise<RapReply>[] {
    if (this.#failure) return requests.map(() => Promise.reject(this.#failure));
    const replies = requests.map((request) =>
      new Promise<RapReply>((resolve, reject) => {
        this.#pending.push({ expect: replyTypeOf(request), resolve, reject });
      })
    );
    if (this.#timer === undefined) this.#armTimer();
    const bytes = requests.map(encodePacket);
    this.#writeChain = this.#writeChain.then(() => writeAll(this.#conn, bytes)).catch((error) =>
      this.#fail(
        new RapConnectionError(`Cannot send to ${this.peer}: ${error.message}`, { cause: error }),
      )
    );
    return replies;
  }

  /** Wait until no CMD is running, so pipelined requests never follow a CMD on the wire. */
  async #waitForCmd(): Promise<void> {
    while (this.#cmdGate) await this.#cmdGate;
  }

  async #request<T extends RapReply["type"]>(
    request: RapRequest,
    _expect: T,
  ): Promise<Extract<RapReply, { type: T }>> {
    await this.#waitForCmd();
    return await this.#send([request])[0] as Extract<RapReply, { type: T }>;
  }

  // ---- operations -------------------------------------------------------------------

  /**
   * Open a file on the server (OPEN). A radare2 server closes the connection when the open
   * fails; that is reported as an error and the client is then unusable.
   *
   * @param name The path or URI on the server (at most 254 bytes).
   * @param flags radare2 permission bits (default R|X, as `r2 rap://...` sends; add W to write).
   * @returns The server's fd.
   * @throws {RapConnectionError} If the server refused the open.
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
      throw error;
    }
    if (reply.fd === -1) {
      throw new RapConnectionError(
        `Cannot open "${name}" on ${this.peer}: the server answered fd -1`,
      );
    }
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
   * The size of the server's current file (SEEK END).
   *
   * @returns The size; `0xffffffffffffffff` when the server has no file.
   */
  size(): Promise<bigint> {
    return this.seek(0n, Whence.END);
  }

  /**
   * Read `length` bytes at `offset`. The read is split into pieces of the peer's payload
   * limit, each preceded by its SEEK, and up to `window` pieces are in flight at once.
   * Like radare2, the server pads bytes past the end of its data (0xff).
   *
   * @param offset Where to read.
   * @param length How many bytes.
   * @returns The bytes.
   */
  async read(offset: number | bigint, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    if (length === 0) return out;
    await this.#waitForCmd();
    const base = BigInt(offset);
    const step = this.#maxPayload;
    const inflight: Promise<void>[] = [];
    for (let at = 0; at < length; at += step) {
      const n = Math.min(step, length - at);
      const [seek, read] = this.#send([
        { type: "seek", whence: Whence.SET, offset: base + BigInt(at) },
        { type: "read", length: n },
      ]);
      seek.catch(() => {}); // its failure is reported through the READ
      const pos = at;
      inflight.push(handled(read.then((reply) => {
        const data = (reply as Extract<RapReply, { type: "read_reply" }>).data;
        out.set(data.length > n ? data.subarray(0, n) : data, pos);
      })));
      if (inflight.length >= this.#window) await inflight.shift();
    }
    await Promise.all(inflight);
    return out;
  }

  /**
   * Write `data` at `offset`, split and pipelined like {@linkcode RapClient.read}.
   *
   * @param offset Where to write.
   * @param data The bytes.
   * @returns The bytes written.
   * @throws {Error} If the server reports a failed write (reply 0).
   */
  async write(offset: number | bigint, data: Uint8Array): Promise<number> {
    if (data.length === 0) return 0;
    await this.#waitForCmd();
    const base = BigInt(offset);
    const step = this.#maxPayload;
    const inflight: Promise<number>[] = [];
    let total = 0;
    const settle = (result: number, n: number, pos: number) => {
      if (result <= 0) {
        throw new Error(
          `Write of ${n} byte(s) at 0x${(base + BigInt(pos)).toString(16)} failed on ${this.peer}`,
        );
      }
      // radare2's own server answers 1 (a boolean) for a successful write of any size.
      return result === 1 ? n : result;
    };
    for (let at = 0; at < data.length; at += step) {
      const n = Math.min(step, data.length - at);
      const [seek, write] = this.#send([
        { type: "seek", whence: Whence.SET, offset: base + BigInt(at) },
        { type: "write", data: data.subarray(at, at + n) },
      ]);
      seek.catch(() => {}); // its failure is reported through the WRITE
      const pos = at;
      inflight.push(handled(
        write.then((reply) =>
          settle((reply as Extract<RapReply, { type: "write_reply" }>).result, n, pos)
        ),
      ));
      if (inflight.length >= this.#window) total += await inflight.shift()!;
    }
    for (const p of inflight) total += await p;
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
    const size = new TextEncoder().encode(command).length + 1;
    if (size > RAP_CMD_MAX) {
      throw new RangeError(
        `Command is ${size} bytes with its NUL; a RAP server takes at most ${RAP_CMD_MAX}`,
      );
    }
    await this.#waitForCmd();
    const gate = Promise.withResolvers<void>();
    this.#cmdGate = gate.promise;
    try {
      if (this.#pending.length > 0) {
        this.#drained = Promise.withResolvers<void>();
        await this.#drained.promise;
        this.#drained = undefined;
      }
      const [reply] = this.#send([{ type: "cmd", command }]);
      return ((await reply) as Extract<RapReply, { type: "cmd_reply" }>).output ?? "";
    } finally {
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
    return (await this.#request({ type: "close", fd }, "close_reply")).result;
  }

  /** Close the connection; requests still waiting fail. */
  async close(): Promise<void> {
    this.#fail(new RapConnectionError(`Connection to ${this.peer} was closed by the client`));
    await this.#readLoop;
    await this.#writeChain.catch(() => {});
  }

  /** Same as {@linkcode RapClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Mark a promise as handled (its rejection is still seen by whoever awaits it). */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function replyTypeOf(request: RapRequest): ReplyType {
  switch (request.type) {
    case "open":
      return "open_reply";
    case "read":
      return "read_reply";
    case "write":
      return "write_reply";
    case "seek":
      return "seek_reply";
    case "close":
      return "close_reply";
    case "cmd":
      return "cmd_reply";
    case "cmd_reply":
      throw new TypeError("A CMD reply is not a request");
  }
}
