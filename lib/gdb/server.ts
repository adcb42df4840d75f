/**
 * A GDB remote-protocol server over any file's bytes (`=g PORT [URI]`, `serve --gdb-port`),
 * so that a real `gdb` can `target remote HOST:PORT` and `x/16xb ADDR` a firmware image, a
 * `zip://` member or a remote file; over a `gdb://` or `dbg://` process it passes
 * registers, execution and breakpoints through to the stub, so gdb debugs the process
 * through rap (see `server_session.ts`). Connections are accepted by the
 * {@linkcode AcceptLoop}, filtered by `allowFrom`, capped by `maxConnections` (the extra
 * one is closed with a logged reason) and must send a packet within `firstPacketTimeout`;
 * packets are capped at `maxPacket` bytes, `monitor` commands run under the caller's
 * policy and time limit.
 *
 * @example Read a file's bytes as gdb would
 * ```ts
 * import { GdbServer } from "./server.ts";
 * import { encodeGdbPacket, GdbPacketDecoder, latin1Text } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("hello, gdb");
 * await using server = GdbServer.listen({
 *   port: 0,
 *   file: () => ({ read: (o, n) => Promise.resolve(bytes.slice(o, o + n)) }),
 *   log: () => {},
 * });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * await conn.write(encodeGdbPacket("m7,3"));
 * const decoder = new GdbPacketDecoder();
 * const buf = new Uint8Array(256);
 * let reply: string | undefined;
 * while (reply === undefined) {
 *   const n = await conn.read(buf);
 *   for (const e of decoder.push(buf.subarray(0, n!))) {
 *     if (e.type === "packet") reply = latin1Text(e.payload);
 *   }
 * }
 * assert.equal(reply, "676462"); // "gdb"
 * ```
 *
 * @module
 */

import { AcceptLoop } from "../net/accept_loop.ts";
import type { AddressFilter } from "../net/address_filter.ts";
import { type GdbMonitor, type GdbServedFile, GdbServerSession } from "./server_session.ts";

export type { GdbMonitor, GdbServedFile } from "./server_session.ts";

/**
 * Options of {@linkcode GdbServer.listen}.
 *
 * @example
 * ```ts
 * import type { GdbServerOptions } from "./server.ts";
 * const options: GdbServerOptions = { port: 0, file: () => undefined };
 * console.assert(options.port === 0);
 * ```
 */
export interface GdbServerOptions {
  /** Address to bind (default 127.0.0.1). */
  hostname?: string;
  /** Port (0: any free one). */
  port: number;
  /** The file served, asked at each packet (`undefined`: none, memory packets fail). */
  file: () => GdbServedFile | undefined;
  /** Runs `monitor` commands under the caller's policy; without it `monitor` is unsupported. */
  monitor?: GdbMonitor;
  /** Only these client addresses are served (others are closed at once, logged). */
  allowFrom?: AddressFilter;
  /** Most clients at once (default {@linkcode GDB_SERVER_DEFAULTS}.maxConnections). */
  maxConnections?: number;
  /** Largest packet accepted, advertised as `PacketSize` (default 16 KiB). */
  maxPacket?: number;
  /** Milliseconds a new client has to send its first packet (default 10000; 0: no limit). */
  firstPacketTimeout?: number;
  /** Milliseconds a `monitor` command may run (default 5000; 0: no limit). */
  commandTimeout?: number;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
}

/**
 * The defaults of {@linkcode GdbServerOptions}.
 *
 * @example
 * ```ts
 * import { GDB_SERVER_DEFAULTS } from "./server.ts";
 * console.assert(GDB_SERVER_DEFAULTS.maxPacket === 16384);
 * ```
 */
export const GDB_SERVER_DEFAULTS = {
  maxConnections: 16,
  maxPacket: 16384,
  firstPacketTimeout: 10_000,
  commandTimeout: 5000,
} as const;

/**
 * A listening GDB server.
 *
 * @example
 * ```ts
 * import { GdbServer } from "./server.ts";
 * await using server = GdbServer.listen({ port: 0, file: () => undefined, log: () => {} });
 * console.assert(server.addr.port > 0);
 * ```
 */
export class GdbServer implements AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Resolves once closed; rejects if accepting stopped on its own. */
  readonly finished: Promise<void>;
  readonly #loop: AcceptLoop;
  readonly #options: GdbServerOptions;
  readonly #log: (line: string) => void;
  readonly #sessions = new Map<GdbServerSession, Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(listener: Deno.Listener, options: GdbServerOptions) {
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#loop = new AcceptLoop(listener, {
      label: "[gdb]",
      log: this.#log,
      onConnection: (conn) => this.#admit(conn),
    });
    this.finished = this.#loop.finished;
  }

  /**
   * Bind and start accepting.
   *
   * @param options See {@linkcode GdbServerOptions}.
   * @returns The server.
   * @throws {Deno.errors.AddrInUse} And the other errors of `Deno.listen`.
   */
  static listen(options: GdbServerOptions): GdbServer {
    const listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    return new GdbServer(listener, options);
  }

  /** Clients connected now. */
  get connections(): number {
    return this.#sessions.size;
  }

  #admit(conn: Deno.Conn): void {
    const peer = conn.remoteAddr as Deno.NetAddr;
    const refuse = (reason: string) => {
      this.#log(`[gdb] ${peer.hostname}:${peer.port}: ${reason}`);
      try {
        conn.close();
      } catch { /* closed already */ }
    };
    if (this.#closing) return refuse("server shutting down");
    if (this.#options.allowFrom && !this.#options.allowFrom.allows(peer.hostname)) {
      return refuse(`refused: address not allowed (--allow-from ${this.#options.allowFrom})`);
    }
    const max = this.#options.maxConnections ?? GDB_SERVER_DEFAULTS.maxConnections;
    if (this.#sessions.size >= max) {
      return refuse(`refused: ${max} clients already connected (the limit)`);
    }
    (conn as Deno.TcpConn).setNoDelay(true);
    const session = new GdbServerSession(conn, {
      file: this.#options.file,
      maxPacket: this.#options.maxPacket ?? GDB_SERVER_DEFAULTS.maxPacket,
      monitor: this.#options.monitor,
      firstPacketTimeout: this.#options.firstPacketTimeout ??
        GDB_SERVER_DEFAULTS.firstPacketTimeout,
      commandTimeout: this.#options.commandTimeout ?? GDB_SERVER_DEFAULTS.commandTimeout,
      log: this.#log,
    });
    const served = session.serve().finally(() => this.#sessions.delete(session));
    this.#sessions.set(session, served);
  }

  /**
   * Stop accepting, end every connection (a running `c` is interrupted) and wait for them.
   *
   * @returns When every connection is closed.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#loop.close();
      await this.#loop.finished.catch(() => {});
      for (const session of this.#sessions.keys()) session.close();
      await Promise.all(this.#sessions.values());
    })();
    return this.#closing;
  }

  /** {@linkcode GdbServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
