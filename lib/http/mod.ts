/**
 * The HTTP side of the server: a small HTTP/1.x server of its own ({@linkcode HttpServer}:
 * TLS, bearer token, address filter, connection and size limits, deadlines, a log line
 * per request) and radare2's `=h` command routes on it ({@linkcode serveCommands}), given
 * a command runner. Nothing here knows the shell: `serveHttp` in `@rap/cli/shell` passes
 * one built on it.
 *
 * @example Serve commands to radare2-style clients
 * ```ts
 * import { serveCommands } from "@rap/cli/http";
 * import assert from "node:assert/strict";
 *
 * await using http = serveCommands({ port: 0, log: () => {}, run: (c) => Promise.resolve(`${c}\n`) });
 * // radare2's clients send the command unencoded, raw spaces and all.
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: http.addr.port });
 * await conn.write(new TextEncoder().encode("GET /cmd/p8 4 HTTP/1.1\r\n\r\n"));
 * const reply = await new Response(conn.readable).text(); // read until the server closes
 * assert.match(reply, /^HTTP\/1\.0 200 OK\r\n/);
 * assert.ok(reply.endsWith("\r\n\r\np8 4\n"));
 * ```
 *
 * @module
 */

export * from "./request.ts";
export * from "./exchange.ts";
export * from "./options.ts";
export * from "./server.ts";
export * from "./endpoint.ts";
