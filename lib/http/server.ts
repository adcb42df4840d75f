/**
 * A small HTTP/1.x server on `Deno.listen` / `Deno.listenTls` and the one accept loop,
 * inside the same security model as the RAP server: TLS, a bearer token, `--allow-from`,
 * a connection limit, bounded request heads and bodies, deadlines for slow clients, and
 * one log line per request.
 *
 * It answers as radare2's `=h` does (`HTTP/1.0`, `Connection: close`, `Content-Length`,
 * then closes), which is what radare2's own clients need: they read the reply until the
 * connection closes. A client that asks with `Connection: keep-alive` keeps its
 * connection, with an idle timeout.
 *
 * @module
 */

import { TokenVerifier } from "../net/auth.ts";
import { listenWarning } from "../net/listen_warning.ts";
import { AcceptLoop } from "../net/accept_loop.ts";
import { bindListener } from "../net/listen_error.ts";
import { writeAll } from "../net/write_queue.ts";
import { ClientClosed, ConnReader } from "./_reader.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "./exchange.ts";
import { HTTP_DEFAULTS, type HttpServerOptions } from "./options.ts";
import {
  awhile,
  closeConn,
  formatAddr,
  logPath,
  RateLimitedLog,
  REASONS,
  replyHead,
  type Timer,
  timer,
} from "./_support.ts";
import {
  bodyFraming,
  HttpRequestError,
  type HttpRequestHead,
  parseRequestHead,
  wantsKeepAlive,
} from "./request.ts";

const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
/** Most bytes read and dropped after the reply before a connection is closed. */
const LINGER_BYTES = 256 * 1024;
/** Most milliseconds spent so after the reply. */
const LINGER_MS = 1000;

/** A deadline passed: the reason is logged and, where one is given, a status answered. */
class Deadline extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** The server is shutting down and the connection was waiting for a request. */
class Stopping extends Error {}

/** One connection's state. */
interface Connection {
  conn: Deno.Conn;
  peer: string;
  /** Waiting for the first byte of a request (a shutdown closes it at once). */
  waiting: boolean;
  /** Ends the current wait (at shutdown). */
  stop: ((error: Error) => void) | undefined;
  /** Our side is ended (the reply is out and the client sees EOF). */
  ended: boolean;
}

/**
 * An HTTP/1.x server: each connection is read with bounded buffers and deadlines, each
 * request is handed to a handler whole (head and body) and logged, and replies close the
 * connection unless the client asked to keep it.
 *
 * @example Answer a request, then stop
 * ```ts
 * import { HttpServer } from "@rap/cli/http";
 * import assert from "node:assert/strict";
 *
 * await using server = HttpServer.listen({ port: 0, log: () => {} }, (request) => ({
 *   status: 200,
 *   body: `you asked for ${request.target}\n`,
 * }));
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/a b`);
 * assert.equal(res.headers.get("connection"), "close");
 * assert.equal(await res.text(), "you asked for /a%20b\n");
 * ```
 */
export class HttpServer implements AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Resolves once closed and every connection has ended; rejects if accepting failed. */
  readonly finished: Promise<void>;
  readonly #options: HttpServerOptions;
  readonly #handler: HttpHandler;
  readonly #log: (line: string) => void;
  readonly #refusals: RateLimitedLog;
  readonly #label: string;
  readonly #tokens: TokenVerifier | undefined;
  readonly #loop: AcceptLoop;
  readonly #connections = new Set<Connection>();
  readonly #tasks = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(listener: Deno.Listener, options: HttpServerOptions, handler: HttpHandler) {
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.#handler = handler;
    this.#label = options.label ?? "[http]";
    this.#log = options.log ?? ((line) => console.error(line));
    this.#refusals = new RateLimitedLog(this.#log);
    this.#tokens = options.token === undefined ? undefined : new TokenVerifier(options.token);
    const warning = listenWarning(formatAddr(this.addr), this.addr.hostname, {
      tls: options.tls !== undefined,
      token: options.token !== undefined,
    });
    if (warning !== undefined) this.#log(warning.replace(/^\[rap\]/, this.#label));
    this.#loop = new AcceptLoop(listener, {
      label: this.#label,
      log: this.#log,
      onConnection: (conn) => this.#admit(conn),
    });
    this.finished = this.#run();
  }

  /**
   * Bind and start serving.
   *
   * @param options See {@linkcode HttpServerOptions}.
   * @param handler Answers each request.
   * @returns The running server.
   * @throws {ListenError} If the address cannot be bound (naming it, and the flag).
   */
  static listen(options: HttpServerOptions, handler: HttpHandler): HttpServer {
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? HTTP_DEFAULTS.port;
    const address = {
      hostname,
      port,
      transport: "tcp" as const,
      ...(options.backlog === undefined ? {} : { tcpBacklog: options.backlog }),
    };
    const listener: Deno.Listener = bindListener(
      hostname,
      port,
      () =>
        options.tls === undefined
          ? Deno.listen(address)
          : Deno.listenTls({ ...address, cert: options.tls.cert, key: options.tls.key }),
      options.portFlag,
    );
    return new HttpServer(listener, options, handler);
  }

  /** The base URL (`http://` or `https://`). */
  get url(): string {
    const host = this.addr.hostname.includes(":") ? `[${this.addr.hostname}]` : this.addr.hostname;
    return `${this.#options.tls === undefined ? "http" : "https"}://${host}:${this.addr.port}/`;
  }

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stop accepting; connections waiting for a request close at once, requests under way
   * get their reply (then the connection closes), and after `shutdownTimeout` every
   * connection is cut.
   *
   * @returns Resolves once every connection has ended.
   */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#loop.close();
      for (const c of this.#connections) if (c.waiting) c.stop?.(new Stopping());
      const limit = this.#options.shutdownTimeout ?? HTTP_DEFAULTS.shutdownTimeout;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const c of this.#connections) closeConn(c.conn);
          resolve();
        }, limit);
      });
      await Promise.race([Promise.allSettled([...this.#tasks]), cut]);
      clearTimeout(timer);
      await this.finished.catch(() => {});
    })();
  }

  /** Same as {@linkcode HttpServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(): Promise<void> {
    let failure: unknown;
    try {
      await this.#loop.finished;
    } catch (error) {
      failure = error;
      this.#log(`${this.#label} ${(error as Error).message}`);
      this.close().catch(() => {});
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    if (failure !== undefined) throw failure;
  }

  #admit(conn: Deno.Conn): void {
    const peer = formatAddr(conn.remoteAddr);
    const allowFrom = this.#options.allowFrom;
    if (allowFrom && !allowFrom.allows((conn.remoteAddr as Deno.NetAddr).hostname)) {
      this.#refusals.line(
        `${this.#label} ${peer}: refused, address not in --allow-from ${allowFrom}`,
      );
      closeConn(conn);
      return;
    }
    const max = this.#options.maxConnections ?? HTTP_DEFAULTS.maxConnections;
    if (this.#connections.size >= max) {
      this.#refusals.line(
        `${this.#label} ${peer}: refused, ${max} connections already open (--http-max-connections)`,
      );
      this.#refuseBusy(conn);
      return;
    }
    const c: Connection = { conn, peer, waiting: true, stop: undefined, ended: false };
    this.#connections.add(c);
    const task = this.#serve(c).catch((error) => {
      this.#log(`${this.#label} ${peer}: internal error: ${(error as Error).message}`);
    }).finally(() => {
      closeConn(conn);
      this.#connections.delete(c);
      this.#tasks.delete(task);
    });
    this.#tasks.add(task);
  }

  /** Answer 503 to a connection over the limit, without waiting on it. */
  #refuseBusy(conn: Deno.Conn): void {
    if (this.#options.tls !== undefined) return closeConn(conn); // no handshake for it
    const body = encoder.encode("Too many connections\n");
    const head = replyHead("HTTP/1.0", { status: 503 }, body.length, false, 0);
    const task = writeAll(conn, [head, body]).catch(() => {}).finally(() => closeConn(conn));
    const timer = setTimeout(() => closeConn(conn), 1000);
    task.finally(() => clearTimeout(timer));
  }

  /** Wait for `task`, but no longer than the deadline or a shutdown. */
  async #within<T>(c: Connection, task: Promise<T>, deadline: Promise<never>): Promise<T> {
    task.catch(() => {}); // settles after the connection is closed when the deadline wins
    const stopped = new Promise<never>((_, reject) => c.stop = reject);
    try {
      return await Promise.race([task, deadline, stopped]);
    } finally {
      c.stop = undefined;
    }
  }

  async #serve(c: Connection): Promise<void> {
    const { conn } = c;
    const o = this.#options;
    const requestTimeout = o.requestTimeout ?? HTTP_DEFAULTS.requestTimeout;
    const keepAliveTimeout = o.keepAliveTimeout ?? HTTP_DEFAULTS.keepAliveTimeout;
    (conn as Deno.TcpConn).setNoDelay?.(true);
    const reader = new ConnReader(conn);
    reader.onData = () => c.waiting = false;
    const requestDeadline = () =>
      timer(requestTimeout, () =>
        new Deadline(
          `closed: no complete request within ${requestTimeout} ms (--packet-timeout)`,
          408,
        ));
    let pending = requestDeadline();
    try {
      if (o.tls !== undefined) await this.#handshake(c, pending.promise);
      for (let served = 0;; served++) {
        if (served > 0) {
          if (reader.buffered === 0) {
            c.waiting = true;
            const idle = timer(keepAliveTimeout, () => new Deadline(""));
            try {
              if (!await this.#within(c, reader.fill(), idle.promise).catch(quietEnd)) return;
            } finally {
              idle.clear();
            }
          }
          pending = requestDeadline();
        }
        c.waiting = reader.buffered === 0;
        const head = await this.#within(
          c,
          reader.head(o.maxHeaderBytes ?? HTTP_DEFAULTS.maxHeaderBytes),
          pending.promise,
        );
        c.waiting = false;
        if (head === null) return;
        const keep = await this.#exchange(c, reader, parseRequestHead(head), {
          started: performance.now(),
          deadline: pending,
          last:
            served + 1 >= (o.maxRequestsPerConnection ?? HTTP_DEFAULTS.maxRequestsPerConnection),
        });
        pending.clear();
        if (!keep) break;
      }
      await this.#linger(c, reader);
    } catch (error) {
      await this.#fail(c, reader, error);
    } finally {
      pending.clear();
    }
  }

  async #handshake(c: Connection, deadline: Promise<never>): Promise<void> {
    try {
      await this.#within(c, (c.conn as Deno.TlsConn).handshake(), deadline);
    } catch (error) {
      if (error instanceof Deadline || error instanceof Stopping) throw error;
      const message = (error as Error).message;
      throw new ClientClosed(
        `TLS handshake failed: ${message}` +
          (/corrupt message|InvalidContentType/i.test(message) ? " (a plain http:// client?)" : ""),
      );
    }
  }

  /**
   * Read the body of one request, run the handler and send the reply.
   *
   * @returns Whether to keep the connection for another request.
   */
  async #exchange(
    c: Connection,
    reader: ConnReader,
    head: HttpRequestHead,
    request: { started: number; deadline: Timer; last: boolean },
  ): Promise<boolean> {
    const o = this.#options;
    const send = async (response: HttpResponse, keepAlive: boolean) => {
      const body = typeof response.body === "string"
        ? encoder.encode(response.body)
        : response.body ?? new Uint8Array(0);
      const version = keepAlive && head.version === "HTTP/1.1" ? "HTTP/1.1" : "HTTP/1.0";
      const bytes = replyHead(
        version,
        response,
        body.length,
        keepAlive,
        o.keepAliveTimeout ?? HTTP_DEFAULTS.keepAliveTimeout,
      );
      const ms = o.responseTimeout ?? HTTP_DEFAULTS.responseTimeout;
      const limit = timer(ms, () => new Deadline(`closed: reply not taken within ${ms} ms`));
      try {
        await this.#within(c, writeAll(c.conn, [bytes, body]), limit.promise);
      } finally {
        limit.clear();
      }
      // End our side at once: radare2's clients read until EOF (then log).
      if (!keepAlive) await endWrite(c);
      this.#log(
        `${this.#label} ${c.peer} ${head.method} ${logPath(head.target)} ${response.status} ` +
          `${body.length} B ${(performance.now() - request.started).toFixed(1)} ms`,
      );
    };
    let framing;
    try {
      framing = bodyFraming(head);
      if (this.#tokens !== undefined && head.method !== "OPTIONS") {
        const refusal = await this.#checkToken(head);
        if (refusal !== undefined) {
          this.#log(`${this.#label} ${c.peer}: refused, ${refusal} (--token-file)`);
          await send({
            status: 401,
            body: "401 Unauthorized\n",
            headers: { "WWW-Authenticate": 'Bearer realm="rap"' },
          }, false);
          return false;
        }
      }
      const expect = head.headers.get("expect")?.toLowerCase();
      if (expect !== undefined && head.version === "HTTP/1.1") {
        if (expect !== "100-continue") {
          throw new HttpRequestError(417, `Expect "${expect}" is not supported`);
        }
        const max = o.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes;
        if (framing.kind === "length" && framing.length > max) {
          throw new HttpRequestError(413, `Request body larger than ${max} bytes`);
        }
        if (framing.kind !== "none") {
          await this.#within(c, writeAll(c.conn, [CONTINUE]), request.deadline.promise);
        }
      }
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      await send({ status: error.status, body: `${error.message}\n` }, false);
      return false;
    }
    let body: Uint8Array;
    try {
      const max = o.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes;
      body = await this.#within(c, reader.body(framing, max), request.deadline.promise);
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      await send({ status: error.status, body: `${error.message}\n` }, false);
      return false;
    }
    request.deadline.clear(); // the request is in: the handler has its own limits
    const keepAlive = wantsKeepAlive(head) && !request.last;
    let response: HttpResponse;
    try {
      response = await this.#handler({
        ...head,
        body,
        peer: c.conn.remoteAddr as Deno.NetAddr,
        secure: o.tls !== undefined,
      });
    } catch (error) {
      this.#log(`${this.#label} ${c.peer}: handler failed: ${(error as Error).message}`);
      response = { status: 500, body: `ERROR: ${(error as Error).message}\n` };
    }
    const keep = keepAlive && this.#closing === undefined;
    await send(response, keep);
    return keep;
  }

  /** Why a request's token is refused (`undefined` when it is accepted). */
  async #checkToken(head: HttpRequestHead): Promise<string | undefined> {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(head.headers.get("authorization") ?? "");
    if (!m) return "no Authorization: Bearer token";
    return await this.#tokens!.verify(m[1]) ? undefined : "wrong token";
  }

  /** Answer what can be answered about a failed connection, log it, and close. */
  async #fail(c: Connection, reader: ConnReader, error: unknown): Promise<void> {
    if (error instanceof Stopping) return;
    if (error instanceof Deadline) {
      if (error.message === "") return; // a kept-alive connection idle too long
      this.#log(`${this.#label} ${c.peer}: ${error.message}`);
      if (error.status !== undefined) {
        const body = encoder.encode(`${REASONS[error.status]}\n`);
        const head = replyHead("HTTP/1.0", { status: error.status }, body.length, false, 0);
        await awhile(writeAll(c.conn, [head, body]), 200);
      }
      return;
    }
    if (error instanceof HttpRequestError) {
      this.#log(`${this.#label} ${c.peer}: ${error.status} ${error.message}`);
      const body = encoder.encode(`${error.message}\n`);
      const head = replyHead("HTTP/1.0", { status: error.status }, body.length, false, 0);
      await awhile(writeAll(c.conn, [head, body]), LINGER_MS);
      await this.#linger(c, reader);
      return;
    }
    if (error instanceof ClientClosed) {
      this.#log(`${this.#label} ${c.peer}: ${error.message}`);
      return;
    }
    if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
      return; // closed by a shutdown
    }
    this.#log(`${this.#label} ${c.peer}: ${(error as Error).message}`);
  }

  /**
   * Close after a reply without losing it: end our side, then read and drop what the
   * client still sends (a body not read, a pipelined request) for a moment, so the close
   * does not reset the connection before the client has read the reply.
   */
  async #linger(c: Connection, reader: ConnReader): Promise<void> {
    if (reader.ended || !await endWrite(c)) return;
    await awhile(reader.drain(LINGER_BYTES), LINGER_MS);
  }
}

/** A kept-alive connection whose client left, or that stayed idle: end it quietly. */
function quietEnd(error: unknown): false {
  if (error instanceof Stopping || error instanceof Deadline) return false;
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
    return false;
  }
  if (error instanceof Deno.errors.ConnectionReset) return false;
  throw error;
}

/** End our side of the connection (once); false if it failed. */
async function endWrite(c: Connection): Promise<boolean> {
  if (c.ended) return true;
  c.ended = true;
  try {
    await c.conn.closeWrite();
    return true;
  } catch {
    return false;
  }
}
