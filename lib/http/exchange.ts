/**
 * What an HTTP handler is given and answers: the exchange between the server and the
 * routes on it.
 *
 * @module
 */

import type { HttpRequestHead } from "./request.ts";

/**
 * A request as a handler sees it: the head, the whole body, and who sent it.
 *
 * @example
 * ```ts
 * import type { HttpRequest } from "@rap/cli/http";
 * const describe = (r: HttpRequest) => `${r.peer.hostname} ${r.method} ${r.target}`;
 * console.assert(typeof describe === "function");
 * ```
 */
export interface HttpRequest extends HttpRequestHead {
  /** The body (empty when none was sent). */
  body: Uint8Array;
  /** The client's address. */
  peer: Deno.NetAddr;
  /** Whether it came over TLS. */
  secure: boolean;
  /**
   * `false` when the server requires a token that this request did not carry (or carried
   * wrong): only requests the server lets through without one (`publicRequest`, the page's
   * files) reach a handler so. Absent or `true` otherwise.
   */
  authorized?: boolean;
}

/**
 * What a handler answers.
 *
 * @example
 * ```ts
 * import type { HttpResponse } from "@rap/cli/http";
 * const ok: HttpResponse = { status: 200, body: "hello\n" };
 * console.assert(ok.status === 200);
 * ```
 */
export interface HttpResponse {
  /** The status code. */
  status: number;
  /** The body (default empty). */
  body?: string | Uint8Array;
  /** `Content-Type` (default `text/plain`, as radare2; none for an empty body). */
  contentType?: string;
  /** More header fields. */
  headers?: Record<string, string>;
}

/**
 * Answers one request.
 *
 * @example
 * ```ts
 * import type { HttpHandler } from "@rap/cli/http";
 * const hello: HttpHandler = () => ({ status: 200, body: "hi\n" });
 * console.assert(typeof hello === "function");
 * ```
 */
export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;
