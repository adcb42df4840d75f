/**
 * One client of an `HttpServer`: it reads requests with bounded buffers and deadlines,
 * hands each whole (head and body) to the handler, sends and logs the reply, and closes
 * the connection unless the client asked to keep it.
 *
 * @module
 */

import type { TokenVerifier } from "../net/auth.ts";
import { writeAll } from "../net/write_queue.ts";
import { ClientClosed, ConnReader } from "./_reader.ts";
import { awhile, logPath, REASONS, replyHead, type Timer, timer } from "./_support.ts";
import type { HttpHandler, HttpResponse } from "./exchange.ts";
import { HTTP_DEFAULTS, type HttpServerOptions } from "./options.ts";
import {
  bodyFraming,
  HttpRequestError,
  type HttpRequestHead,
  parseRequestHead,
  wantsKeepAlive,
} from "./request.ts";

/** What a connection needs of its server. */
export interface HttpServerContext {
  /** The server's options. */
  readonly options: HttpServerOptions;
  /** Answers each request. */
  readonly handler: HttpHandler;
  /** Checks tokens, on a server that requires one. */
  readonly tokens: TokenVerifier | undefined;
  /** What starts each log line. */
  readonly label: string;
  /** Whether the server is shutting down. */
  readonly closing: boolean;
  /** Log a line. */
  log(line: string): void;
}

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

/** One client connection of an HTTP server: create it, then {@linkcode HttpConnection.serve} it. */
export class HttpConnection {
  /** The socket. */
  readonly conn: Deno.Conn;
  /** `host:port` of the client. */
  readonly peer: string;
  /** Waiting for the first byte of a request (a shutdown closes it at once). */
  waiting = true;
  /** Our side is ended (the reply is out and the client sees EOF). */
  ended = false;
  readonly #server: HttpServerContext;
  /** Ends the current wait (at shutdown). */
  #stop: ((error: Error) => void) | undefined;

  /**
   * Take an accepted connection.
   *
   * @param conn The socket.
   * @param peer `host:port` of the client.
   * @param server Its server.
   */
  constructor(conn: Deno.Conn, peer: string, server: HttpServerContext) {
    this.conn = conn;
    this.peer = peer;
    this.#server = server;
  }

  /** The server is shutting down: a connection waiting for a request ends at once. */
  interrupt(): void {
    if (this.waiting) this.#stop?.(new Stopping());
  }

  /** Wait for `task`, but no longer than the deadline or a shutdown. */
  async #within<T>(task: Promise<T>, deadline: Promise<never>): Promise<T> {
    task.catch(() => {}); // settles after the connection is closed when the deadline wins
    const stopped = new Promise<never>((_, reject) => this.#stop = reject);
    try {
      return await Promise.race([task, deadline, stopped]);
    } finally {
      this.#stop = undefined;
    }
  }

  async serve(): Promise<void> {
    const conn = this.conn;
    const o = this.#server.options;
    const requestTimeout = o.requestTimeout ?? HTTP_DEFAULTS.requestTimeout;
    const keepAliveTimeout = o.keepAliveTimeout ?? HTTP_DEFAULTS.keepAliveTimeout;
    (conn as Deno.TcpConn).setNoDelay?.(true);
    const reader = new ConnReader(conn);
    reader.onData = () => this.waiting = false;
    const requestDeadline = () =>
      timer(requestTimeout, () =>
        new Deadline(
          `closed: no complete request within ${requestTimeout} ms (--packet-timeout)`,
          408,
        ));
    let pending = requestDeadline();
    try {
      if (o.tls !== undefined) await this.#handshake(pending.promise);
      for (let served = 0;; served++) {
        if (served > 0) {
          if (reader.buffered === 0) {
            this.waiting = true;
            const idle = timer(keepAliveTimeout, () => new Deadline(""));
            try {
              if (!await this.#within(reader.fill(), idle.promise).catch(quietEnd)) return;
            } finally {
              idle.clear();
            }
          }
          pending = requestDeadline();
        }
        this.waiting = reader.buffered === 0;
        const head = await this.#within(
          reader.head(o.maxHeaderBytes ?? HTTP_DEFAULTS.maxHeaderBytes),
          pending.promise,
        );
        this.waiting = false;
        if (head === null) return;
        const keep = await this.#exchange(reader, parseRequestHead(head), {
          started: performance.now(),
          deadline: pending,
          last:
            served + 1 >= (o.maxRequestsPerConnection ?? HTTP_DEFAULTS.maxRequestsPerConnection),
        });
        pending.clear();
        if (!keep) break;
      }
      await this.#linger(reader);
    } catch (error) {
      await this.#fail(reader, error);
    } finally {
      pending.clear();
    }
  }

  async #handshake(deadline: Promise<never>): Promise<void> {
    try {
      await this.#within((this.conn as Deno.TlsConn).handshake(), deadline);
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
    reader: ConnReader,
    head: HttpRequestHead,
    request: { started: number; deadline: Timer; last: boolean },
  ): Promise<boolean> {
    const o = this.#server.options;
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
        await this.#within(writeAll(this.conn, [bytes, body]), limit.promise);
      } finally {
        limit.clear();
      }
      // End our side at once: radare2's clients read until EOF (then log).
      if (!keepAlive) await endWrite(this);
      this.#server.log(
        `${this.#server.label} ${this.peer} ${head.method} ${
          logPath(head.target)
        } ${response.status} ` +
          `${body.length} B ${(performance.now() - request.started).toFixed(1)} ms`,
      );
    };
    let framing;
    let authorized = true;
    try {
      framing = bodyFraming(head);
      if (this.#server.tokens !== undefined && head.method !== "OPTIONS") {
        const refusal = await this.#checkToken(head);
        authorized = refusal === undefined;
        if (refusal !== undefined && !o.publicRequest?.(head)) {
          this.#server.log(
            `${this.#server.label} ${this.peer}: refused, ${refusal} (--token-file)`,
          );
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
          await this.#within(writeAll(this.conn, [CONTINUE]), request.deadline.promise);
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
      body = await this.#within(reader.body(framing, max), request.deadline.promise);
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      await send({ status: error.status, body: `${error.message}\n` }, false);
      return false;
    }
    request.deadline.clear(); // the request is in: the handler has its own limits
    const keepAlive = wantsKeepAlive(head) && !request.last;
    let response: HttpResponse;
    try {
      response = await this.#server.handler({
        ...head,
        body,
        peer: this.conn.remoteAddr as Deno.NetAddr,
        secure: o.tls !== undefined,
        authorized,
      });
    } catch (error) {
      this.#server.log(
        `${this.#server.label} ${this.peer}: handler failed: ${(error as Error).message}`,
      );
      response = { status: 500, body: `ERROR: ${(error as Error).message}\n` };
    }
    const keep = keepAlive && !this.#server.closing;
    await send(response, keep);
    return keep;
  }

  /** Why a request's token is refused (`undefined` when it is accepted). */
  async #checkToken(head: HttpRequestHead): Promise<string | undefined> {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(head.headers.get("authorization") ?? "");
    if (!m) return "no Authorization: Bearer token";
    return await this.#server.tokens!.verify(m[1]) ? undefined : "wrong token";
  }

  /** Answer what can be answered about a failed connection, log it, and close. */
  async #fail(reader: ConnReader, error: unknown): Promise<void> {
    if (error instanceof Stopping) return;
    if (error instanceof Deadline) {
      if (error.message === "") return; // a kept-alive connection idle too long
      this.#server.log(`${this.#server.label} ${this.peer}: ${error.message}`);
      if (error.status !== undefined) {
        const body = encoder.encode(`${REASONS[error.status]}\n`);
        const head = replyHead("HTTP/1.0", { status: error.status }, body.length, false, 0);
        await awhile(writeAll(this.conn, [head, body]), 200);
      }
      return;
    }
    if (error instanceof HttpRequestError) {
      this.#server.log(`${this.#server.label} ${this.peer}: ${error.status} ${error.message}`);
      const body = encoder.encode(`${error.message}\n`);
      const head = replyHead("HTTP/1.0", { status: error.status }, body.length, false, 0);
      await awhile(writeAll(this.conn, [head, body]), LINGER_MS);
      await this.#linger(reader);
      return;
    }
    if (error instanceof ClientClosed) {
      this.#server.log(`${this.#server.label} ${this.peer}: ${error.message}`);
      return;
    }
    if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
      return; // closed by a shutdown
    }
    this.#server.log(`${this.#server.label} ${this.peer}: ${(error as Error).message}`);
  }

  /**
   * Close after a reply without losing it: end our side, then read and drop what the
   * client still sends (a body not read, a pipelined request) for a moment, so the close
   * does not reset the connection before the client has read the reply.
   */
  async #linger(reader: ConnReader): Promise<void> {
    if (reader.ended || !await endWrite(this)) return;
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
async function endWrite(c: HttpConnection): Promise<boolean> {
  if (c.ended) return true;
  c.ended = true;
  try {
    await c.conn.closeWrite();
    return true;
  } catch {
    return false;
  }
}
