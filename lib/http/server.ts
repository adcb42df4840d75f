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
import { HttpConnection, type HttpServerContext } from "./connection.ts";
import type { HttpHandler } from "./exchange.ts";
import { HTTP_DEFAULTS, type HttpServerOptions } from "./options.ts";
import { closeConn, formatAddr, RateLimitedLog, replyHead } from "./_support.ts";

const encoder = new TextEncoder();

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
  readonly #context: HttpServerContext;
  readonly #loop: AcceptLoop;
  readonly #connections = new Set<HttpConnection>();
  readonly #tasks = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(listener: Deno.Listener, options: HttpServerOptions, handler: HttpHandler) {
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.#handler = handler;
    this.#label = options.label ?? "[http]";
    this.#log = options.log ?? ((line) => console.error(line));
    this.#refusals = new RateLimitedLog(this.#log);
    // deno-lint-ignore no-this-alias
    const server = this;
    this.#context = {
      options,
      handler,
      tokens: options.token === undefined ? undefined : new TokenVerifier(options.token),
      label: this.#label,
      get closing() {
        return server.#closing !== undefined;
      },
      log: this.#log,
    };
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
      for (const c of this.#connections) c.interrupt();
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
    const c = new HttpConnection(conn, peer, this.#context);
    this.#connections.add(c);
    const task = c.serve().catch((error) => {
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
}
