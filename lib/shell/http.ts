/**
 * radare2's `=h` endpoint with a shell behind it: {@linkcode serveHttp} serves the command
 * routes of `lib/http/` (its own HTTP/1.x server: TLS, token, address filter, limits,
 * request log) and runs each command in a shell over the given session.
 *
 * @module
 */

import { type CommandEndpointOptions, type HttpEndpoint, serveCommands } from "../http/endpoint.ts";
import { createHttpCommandRunner } from "./handler.ts";
import type { HttpCommandRunnerOptions } from "./peer.ts";

export { type HttpEndpoint, percentDecode } from "../http/endpoint.ts";

/**
 * Options of {@linkcode serveHttp}: the HTTP server's (address, TLS, token, limits, log)
 * and the shell's (session, policy).
 *
 * @example
 * ```ts
 * import type { HttpOptions } from "@rap/cli/shell";
 * const options: HttpOptions = { port: 0, sessionFactory: async () => {
 *   const { IoSession } = await import("@rap/cli/io");
 *   return new IoSession();
 * } };
 * console.assert(options.port === 0);
 * ```
 */
export interface HttpOptions
  extends Omit<CommandEndpointOptions, "run" | "onClose">, HttpCommandRunnerOptions {
  /** Called once listening. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * Serve the `=h` command endpoint, commands running in a shell over `options.session`.
 *
 * | Request | Answer |
 * |---|---|
 * | `GET /cmd/<cmd>` | 200 `text/plain`, the output of `cmd` (`%XX` decoded, raw spaces kept) |
 * | `POST /cmd` (body = command) | the same |
 * | `GET /`, `/index.html` | the page: a hex view at the seek and a console (`/page.js`, `/page.css`) |
 * | `OPTIONS *` | 200, empty |
 * | any other `GET` | 404 `File not found` |
 * | any other `POST` | 403 `403 Forbidden` |
 * | other methods | 404 `Invalid protocol` |
 *
 * Replies are radare2's: `HTTP/1.0`, `Content-Type: text/plain`, `Content-Length`,
 * `Connection: close`, then the connection closes (kept open only for a client that asks
 * with `Connection: keep-alive`).
 *
 * @param options See {@linkcode HttpOptions}.
 * @returns The running endpoint, once it listens.
 * @throws {ListenError} If the address cannot be bound.
 *
 * @example
 * ```ts
 * import { serveHttp } from "@rap/cli/shell";
 * import { IoSession } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * await session.open("hex://68656c6c6f");
 * await using http = await serveHttp({ port: 0, session, log: () => {} });
 * const base = `http://127.0.0.1:${http.addr.port}`;
 * const res = await fetch(`${base}/cmd/p8%205`);
 * assert.equal(res.headers.get("content-type"), "text/plain");
 * assert.equal(await res.text(), "68656c6c6f\n");
 * ```
 */
export function serveHttp(options: HttpOptions = {}): Promise<HttpEndpoint> {
  try {
    const runner = createHttpCommandRunner(options);
    const endpoint = serveCommands({ ...options, run: runner.run, onClose: runner.close });
    options.onListen?.(endpoint.addr);
    return Promise.resolve(endpoint);
  } catch (error) {
    return Promise.reject(error);
  }
}
