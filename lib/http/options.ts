/**
 * The options of an `HttpServer` and their defaults ({@linkcode HTTP_DEFAULTS}, which
 * `rap serve --help` shows too).
 *
 * @module
 */

import type { AddressFilter } from "../net/address_filter.ts";
import type { HttpRequestHead } from "./request.ts";
import type { TlsCertificate } from "../net/tls.ts";

/**
 * The defaults of the numeric options of {@linkcode HttpServerOptions}.
 *
 * @example
 * ```ts
 * import { HTTP_DEFAULTS } from "@rap/cli/http";
 * console.assert(HTTP_DEFAULTS.maxBodyBytes === 1 << 20);
 * ```
 */
export const HTTP_DEFAULTS = {
  port: 9090,
  maxConnections: 128,
  maxHeaderBytes: 8192,
  maxBodyBytes: 1 << 20,
  requestTimeout: 10_000,
  keepAliveTimeout: 5000,
  responseTimeout: 30_000,
  maxRequestsPerConnection: 1000,
  shutdownTimeout: 3000,
} as const;

/**
 * Options of `HttpServer.listen`.
 *
 * @example
 * ```ts
 * import type { HttpServerOptions } from "@rap/cli/http";
 * const options: HttpServerOptions = { port: 0, maxBodyBytes: 1 << 20 };
 * console.assert(options.port === 0);
 * ```
 */
export interface HttpServerOptions {
  /** Address to bind (default `127.0.0.1`). */
  hostname?: string;
  /** Port (default 9090; 0 picks a free one). */
  port?: number;
  /** Serve HTTPS with this certificate chain and key. */
  tls?: TlsCertificate;
  /**
   * Require `Authorization: Bearer TOKEN` on every request but `OPTIONS`; others get 401
   * with `WWW-Authenticate: Bearer` and nothing runs. Compared in constant time, never logged.
   */
  token?: string;
  /**
   * Requests handed to the handler even without the token, with `authorized: false` (the
   * page and its static files, which show no data then). Default: none.
   */
  publicRequest?: (head: HttpRequestHead) => boolean;
  /** Accept only clients whose address is in this filter (others are closed at accept). */
  allowFrom?: AddressFilter;
  /** Most connections open at once; more get 503 and are closed (default 128). */
  maxConnections?: number;
  /** Largest request head, request line and fields (default 8 KiB; 431 above). */
  maxHeaderBytes?: number;
  /** Largest request body (default 1 MiB; 413 above, refused before it is read). */
  maxBodyBytes?: number;
  /**
   * Milliseconds a request has to arrive whole (head and body), from the connection's
   * accept (TLS handshake included) or, on a kept-alive connection, from its first byte
   * (default 10000; 408 after).
   */
  requestTimeout?: number;
  /** Milliseconds a kept-alive connection may wait for its next request (default 5000). */
  keepAliveTimeout?: number;
  /** Milliseconds the client has to take a reply (default 30000). */
  responseTimeout?: number;
  /** Requests served on one kept-alive connection before it is closed (default 1000). */
  maxRequestsPerConnection?: number;
  /** On close, milliseconds for requests under way before connections are cut (default 3000). */
  shutdownTimeout?: number;
  /** Kernel queue of connections not yet accepted (default 511, Deno's). */
  backlog?: number;
  /** The flag that chose the port, named when it cannot be bound (e.g. `--http-port`). */
  portFlag?: string;
  /** What starts each log line (default `[http]`). */
  label?: string;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
}
