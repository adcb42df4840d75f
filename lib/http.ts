/**
 * The HTTP command endpoint of radare2's `=h`: `GET /cmd/<percent-encoded command>` and
 * `POST /cmd` (the body is the command) run the command in a shell and answer
 * `text/plain` with its output, so radare2's `r2web://host:port/cmd` IO plugin,
 * `r2 -C http://host:port/cmd/` and r2pipe's HTTP transport work against it.
 *
 * As radare2: only `%XX` escapes are decoded (`+` stays a plus), and there is no query
 * string (`/cmd/?V` runs `?V`). The commands share one shell, with a seek and block size
 * of its own, under a command policy (the restricted one by default).
 *
 * @module
 */

import type { IoSession } from "./io/session.ts";
import { CommandPolicy } from "./shell/policy.ts";
import { Shell } from "./shell/shell.ts";

/**
 * Options of {@linkcode serveHttp}.
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
export interface HttpOptions {
  /** Address to bind (default `127.0.0.1`, as radare2 unless `http.bind=public`). */
  hostname?: string;
  /** Port (default 9090; 0 picks a free one). */
  port?: number;
  /** The session commands run on (not closed by the endpoint). */
  session?: IoSession;
  /**
   * Makes the session at the first request, when no `session` is given (closed at
   * shutdown). Without either, an empty session is used.
   */
  sessionFactory?: () => Promise<IoSession>;
  /** What requests may run (default {@linkcode CommandPolicy.RESTRICTED}). */
  policy?: CommandPolicy;
  /** Called once listening. */
  onListen?: (addr: Deno.NetAddr) => void;
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
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stop the server (and close the session it made). */
  shutdown(): Promise<void>;
}

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
    if (raw[i] === 0x25 && i + 2 < raw.length + 0 && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
      out[n++] = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
      i += 2;
    } else {
      out[n++] = raw[i];
    }
  }
  return decoder.decode(out.subarray(0, n));
}

function text(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "connection": "close" },
  });
}

/**
 * Serve the `=h` command endpoint with `Deno.serve`.
 *
 * | Request | Answer |
 * |---|---|
 * | `GET /cmd/<cmd>` | 200 `text/plain`, the output of `cmd` (`%XX` decoded) |
 * | `POST /cmd` (body = command) | the same |
 * | `OPTIONS *` | 200, empty |
 * | any other `GET` | 404 `File not found` |
 * | any other `POST` | 403 `403 Forbidden` |
 * | other methods | 404 `Invalid protocol` |
 *
 * @param options See {@linkcode HttpOptions}.
 * @returns The running endpoint, once it listens.
 *
 * @example
 * ```ts
 * import { serveHttp } from "@rap/cli/shell";
 * import { IoSession } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * await session.open("hex://68656c6c6f");
 * await using http = await serveHttp({ port: 0, session });
 * const base = `http://127.0.0.1:${http.addr.port}`;
 * const res = await fetch(`${base}/cmd/p8%205`);
 * assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
 * assert.equal(await res.text(), "68656c6c6f\n");
 * ```
 */
export async function serveHttp(options: HttpOptions = {}): Promise<HttpEndpoint> {
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  let shell: Promise<Shell> | undefined;
  let ownedSession: IoSession | undefined;
  const getShell = () =>
    shell ??= (async () => {
      let session = options.session;
      if (!session) {
        session = ownedSession = options.sessionFactory
          ? await options.sessionFactory()
          : new (await import("./io/session.ts")).IoSession();
      }
      return new Shell({ session, policy, peer: true, ownSeek: true, log: () => {} });
    })();

  const run = async (command: string): Promise<Response> => {
    const output = await (await getShell()).run(command, { policy, peer: true });
    return text(output);
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname + url.search;
    if (req.method === "OPTIONS") return new Response(null, { status: 200 });
    if (req.method === "GET") {
      if (path.startsWith("/cmd/")) return await run(percentDecode(path.slice(5)));
      if (path === "/cmd") return await run("");
      await req.body?.cancel();
      return text("File not found\n", 404);
    }
    if (req.method === "POST") {
      if (path.startsWith("/cmd")) return await run(await req.text());
      await req.body?.cancel();
      return text("403 Forbidden\n", 403);
    }
    await req.body?.cancel();
    return text("Invalid protocol", 404);
  };

  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 9090,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (error) => text(`ERROR: ${(error as Error).message}\n`, 500),
  }, handler);
  const addr = await listening.promise;
  options.onListen?.(addr);
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await server.shutdown();
      if (shell) await (await shell).close();
      await ownedSession?.closeAll();
    })();
  return {
    addr,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
