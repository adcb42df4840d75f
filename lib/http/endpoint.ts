/**
 * The command routes of radare2's `=h`: `GET /cmd/<command>` and `POST /cmd` (the body is
 * the command) run the command with a runner the caller gives (a shell, in `serve` and
 * `=h`) and answer `text/plain` with its output, so radare2's `r2web://host:port/cmd`,
 * `=+ http://host:port/cmd/`, `r2 -C http://host:port/cmd/` and r2pipe work against it.
 *
 * As radare2: only `%XX` escapes are decoded (`+` stays a plus), raw spaces are accepted,
 * and there is no query string (`/cmd/?V` runs `?V`). `GET /` is a page for browsers (a hex
 * view and a console over the same routes, `page/`).
 *
 * @module
 */

import type { HttpServerOptions } from "./options.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "./exchange.ts";
import { HttpServer } from "./server.ts";
import { pageFile, pageResponse } from "./page/mod.ts";
import { requestPath } from "./_support.ts";

/**
 * What a {@linkcode CommandRunner} knows about the request whose command it runs.
 *
 * @example
 * ```ts
 * import type { CommandRequest } from "@rap/cli/http";
 * const who = (r: CommandRequest) => `${r.peer.hostname}:${r.peer.port}`;
 * console.assert(typeof who === "function");
 * ```
 */
export interface CommandRequest {
  /** The client's address. */
  peer: Deno.NetAddr;
  /** `GET` (command in the path) or `POST` (command in the body). */
  method: string;
  /** Whether the request came over TLS. */
  secure: boolean;
  /** Aborted when the command ran out of time (`commandTimeout`): stop, nobody waits. */
  signal: AbortSignal;
  /** The most output bytes that will be sent (more is cut); a runner may stop there. */
  maxOutput: number;
}

/**
 * Runs one command of an HTTP request and returns its output.
 *
 * @example
 * ```ts
 * import type { CommandRunner } from "@rap/cli/http";
 * const echo: CommandRunner = (command) => Promise.resolve(`${command}\n`);
 * console.assert(typeof echo === "function");
 * ```
 */
export type CommandRunner = (
  command: string,
  request: CommandRequest,
) => Promise<string | Uint8Array>;

/**
 * Options of {@linkcode serveCommands}: the server's (address, TLS, token, limits) and
 * the command runner's.
 *
 * @example
 * ```ts
 * import type { CommandEndpointOptions } from "@rap/cli/http";
 * const options: CommandEndpointOptions = { port: 0, run: (c) => Promise.resolve(c) };
 * console.assert(options.port === 0);
 * ```
 */
export interface CommandEndpointOptions extends HttpServerOptions {
  /** Runs the commands. */
  run: CommandRunner;
  /**
   * Milliseconds a command may run before it is answered with 503 and its signal aborted
   * (default 5000; 0 = no limit).
   */
  commandTimeout?: number;
  /** Most output bytes sent for one command; more is cut with a note (default 4 MiB). */
  maxOutput?: number;
  /** Called at shutdown, after the last request (to close what the runner holds). */
  onClose?: () => Promise<void>;
}

/**
 * A running HTTP endpoint.
 *
 * @example
 * ```ts
 * import type { HttpEndpoint } from "@rap/cli/shell";
 * const url = (e: HttpEndpoint) => `http://${e.addr.hostname}:${e.addr.port}/cmd/`;
 * console.assert(typeof url === "function");
 * ```
 */
export interface HttpEndpoint extends AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** The base URL, `http://H:P/` or `https://H:P/`. */
  readonly url: string;
  /** Resolves when the server has stopped; rejects if it stopped accepting on its own. */
  readonly finished: Promise<void>;
  /** Stop the server (and close what it holds). */
  shutdown(): Promise<void>;
}

/** The default {@linkcode CommandEndpointOptions.maxOutput}: 4 MiB. */
export const HTTP_MAX_OUTPUT = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Decode `%XX` escapes only, as radare2's HTTP server does (`+` is not a space). Bytes
 * are decoded as UTF-8.
 *
 * @param text The raw text.
 * @returns The decoded text.
 *
 * @example
 * ```ts
 * import { percentDecode } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(percentDecode("px%2016+1"), "px 16+1");
 * assert.equal(percentDecode("%3fe%20%C3%A9"), "?e é");
 * assert.equal(percentDecode("100%"), "100%");
 * ```
 */
export function percentDecode(text: string): string {
  const raw = encoder.encode(text);
  const out = new Uint8Array(raw.length);
  let n = 0;
  const hex = (c: number) =>
    c >= 0x30 && c <= 0x39
      ? c - 0x30
      : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66
      ? (c | 0x20) - 87
      : -1;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 && i + 2 < raw.length && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
      out[n++] = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
      i += 2;
    } else {
      out[n++] = raw[i];
    }
  }
  return decoder.decode(out.subarray(0, n));
}

/**
 * Cut output to at most `max` bytes, ending with a note line that says so.
 *
 * @param output The output.
 * @param max The most bytes.
 * @returns The output as bytes, cut when too long.
 *
 * @example
 * ```ts
 * import { capHttpOutput } from "@rap/cli/http";
 * import assert from "node:assert/strict";
 *
 * const cut = capHttpOutput("x".repeat(5000), 1000);
 * assert.equal(cut.length <= 1000, true);
 * assert.match(new TextDecoder().decode(cut), /truncated: 5000 bytes/);
 * assert.equal(capHttpOutput("short\n", 1000).length, 6);
 * ```
 */
export function capHttpOutput(output: string | Uint8Array, max: number): Uint8Array {
  const bytes = typeof output === "string" ? encoder.encode(output) : output;
  if (bytes.length <= max) return bytes;
  const note = encoder.encode(
    `\n[output truncated: ${bytes.length} bytes, the HTTP endpoint sends at most ${max}; ` +
      `use @ and a smaller size]\n`,
  );
  let cut = Math.max(0, max - note.length);
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--; // stay on a character boundary
  const out = new Uint8Array(cut + Math.min(note.length, max));
  out.set(bytes.subarray(0, cut));
  out.set(note.subarray(0, out.length - cut), cut);
  return out;
}

/** `Sec-Fetch-Site` values of a request another site's page made. */
const CROSS_SITE = new Set(["cross-site", "same-site"]);

/** The command a request carries, or a response for a request that carries none. */
function route(request: HttpRequest): { command: string } | HttpResponse {
  const path = requestPath(request.target);
  switch (request.method) {
    case "OPTIONS":
      return { status: 200 };
    case "GET":
      if (path.startsWith("/cmd/")) return { command: percentDecode(path.slice(5)) };
      if (path === "/cmd") return { command: "" };
      return { status: 404, body: "File not found\n" };
    case "POST":
      if (path.startsWith("/cmd")) return { command: decoder.decode(request.body) };
      return { status: 403, body: "403 Forbidden\n" };
    default:
      return { status: 404, body: "Invalid protocol" };
  }
}

/**
 * The request handler of the command endpoint (for an {@linkcode HttpServer}).
 *
 * | Request | Answer |
 * |---|---|
 * | `GET /cmd/<cmd>` | 200 `text/plain`, the output of `cmd` (`%XX` decoded) |
 * | `POST /cmd` (body = command) | the same |
 * | `GET /`, `/index.html` | the page: a hex view at the seek (`s`, `px`) and a console |
 * | `GET /page.js`, `/page.css` | the page's script and style sheet |
 * | `OPTIONS *` | 200, empty |
 * | any other `GET` | 404 `File not found` |
 * | any other `POST` | 403 `403 Forbidden` |
 * | `/cmd` with `Sec-Fetch-Site: cross-site` or `same-site` | 403 (another site's page sent it) |
 * | other methods | 404 `Invalid protocol` |
 * | a command still running after `commandTimeout` | 503, one line |
 *
 * @param options The runner and its limits.
 * @param log Where a timed-out command is logged.
 * @returns The handler.
 *
 * @example
 * ```ts
 * import { commandRoutes } from "@rap/cli/http";
 * import assert from "node:assert/strict";
 *
 * const handler = commandRoutes({ run: (command) => Promise.resolve(`ran ${command}\n`) });
 * const request = {
 *   method: "GET", target: "/cmd/p8%204 @ 0", version: "HTTP/1.0" as const,
 *   headers: new Map(), body: new Uint8Array(0), secure: false,
 *   peer: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 },
 * };
 * const response = await handler(request);
 * assert.equal(new TextDecoder().decode(response.body as Uint8Array), "ran p8 4 @ 0\n");
 * ```
 */
export function commandRoutes(
  options: Pick<CommandEndpointOptions, "run" | "commandTimeout" | "maxOutput" | "label">,
  log: (line: string) => void = () => {},
): HttpHandler {
  const limit = options.commandTimeout ?? 5000;
  const maxOutput = options.maxOutput ?? HTTP_MAX_OUTPUT;
  /** Run one command of `request`; `undefined` when it ran out of time (then logged). */
  const runOne = async (command: string, request: HttpRequest) => {
    const controller = new AbortController();
    const running = options.run(command, {
      peer: request.peer,
      method: request.method,
      secure: request.secure,
      signal: controller.signal,
      maxOutput,
    });
    running.catch(() => {}); // the late failure of a command given up
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<undefined>((resolve) => {
      if (limit > 0) timer = setTimeout(() => resolve(undefined), limit);
    });
    let output: string | Uint8Array | undefined;
    try {
      output = await Promise.race([running, expired]);
    } finally {
      clearTimeout(timer);
    }
    if (output !== undefined) return capHttpOutput(output, maxOutput);
    controller.abort(new Error(`The command timed out (--cmd-timeout)`));
    const peer = `${request.peer.hostname}:${request.peer.port}`;
    log(
      `${options.label ?? "[http]"} ${peer}: command timed out after ${limit} ms (--cmd-timeout)`,
    );
    return undefined;
  };
  return async (request) => {
    const file = pageFile(request);
    if (file !== undefined) {
      return await pageResponse(file, request, async (command) => {
        const output = await runOne(command, request);
        return output === undefined ? undefined : decoder.decode(output);
      });
    }
    const routed = route(request);
    if (!("command" in routed)) return routed;
    if (CROSS_SITE.has(request.headers.get("sec-fetch-site") ?? "")) {
      // A browser says another site's page sent it (a blind <img src> or form POST): no
      // radare2 client sends the header, and the page's own requests are same-origin.
      const peer = `${request.peer.hostname}:${request.peer.port}`;
      log(`${options.label ?? "[http]"} ${peer}: refused, a cross-site browser request`);
      return { status: 403, body: "403 Forbidden: a cross-site request\n" };
    }
    const output = await runOne(routed.command, request);
    if (output === undefined) {
      return { status: 503, body: `Command timed out after ${limit} ms (--cmd-timeout)\n` };
    }
    return { status: 200, body: output, contentType: "text/plain" };
  };
}

/**
 * Serve the command endpoint on its own HTTP server ({@linkcode HttpServer}: TLS, token,
 * address filter, limits and request log as in {@linkcode HttpServerOptions}).
 *
 * @param options The server's options and the command runner.
 * @returns The running endpoint, once bound.
 * @throws {ListenError} If the address cannot be bound.
 *
 * @example
 * ```ts
 * import { serveCommands } from "@rap/cli/http";
 * import assert from "node:assert/strict";
 *
 * await using http = serveCommands({
 *   port: 0,
 *   log: () => {},
 *   run: (command) => Promise.resolve(command.toUpperCase() + "\n"),
 * });
 * const res = await fetch(`${http.url}cmd/p8%204`);
 * assert.equal(res.headers.get("content-type"), "text/plain");
 * assert.equal(await res.text(), "P8 4\n");
 * ```
 */
export function serveCommands(options: CommandEndpointOptions): HttpEndpoint {
  const log = options.log ?? ((line: string) => console.error(line));
  const server = HttpServer.listen(
    { ...options, log, publicRequest: (head) => pageFile(head) !== undefined },
    commandRoutes(options, log),
  );
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await server.close();
      await options.onClose?.();
    })();
  const finished = server.finished.then(async () => {
    await stopping;
  });
  return {
    addr: server.addr,
    url: server.url,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
