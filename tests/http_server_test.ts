/**
 * The HTTP/1.x server of lib/http/ over real sockets: what radare2's clients send and
 * expect, the limits, deadlines, token, address filter and the request log.
 */

import { AddressFilter, ListenError } from "../mod.ts";
import assert from "node:assert/strict";
import {
  type CommandEndpointOptions,
  type CommandRunner,
  HttpServer,
  parseRequestHead,
  serveCommands,
} from "../lib/http/mod.ts";
import { withCertificates } from "./_certificates.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Endpoint extends AsyncDisposable {
  port: number;
  url: string;
  /** The commands run, in order. */
  commands: string[];
  /** The log lines. */
  log: string[];
}

/** A command endpoint whose runner echoes `ran: COMMAND`. */
function endpoint(
  options: Partial<CommandEndpointOptions> = {},
  run?: CommandRunner,
): Endpoint {
  const commands: string[] = [];
  const log: string[] = [];
  const http = serveCommands({
    port: 0,
    log: (line) => log.push(line),
    run: run ?? ((command) => {
      commands.push(command);
      return Promise.resolve(`ran: ${command}\n`);
    }),
    ...options,
  });
  return {
    port: http.addr.port,
    url: http.url,
    commands,
    log,
    [Symbol.asyncDispose]: () => http.shutdown(),
  };
}

/** Send raw bytes on a new connection and read until the server closes it. */
async function exchange(port: number, request: string | Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = typeof request === "string" ? encoder.encode(request) : request;
  await conn.write(bytes);
  return await new Response(conn.readable).text(); // ends at EOF, and closes the conn
}

Deno.test("an r2-style GET with raw spaces and no Host gets radare2's reply, then EOF", async () => {
  await using http = endpoint();
  const reply = await exchange(http.port, "GET /cmd/p8 4 @ 0x10 HTTP/1.1\r\n\r\n");
  assert.equal(
    reply,
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n" +
      "Content-Length: 17\r\n\r\nran: p8 4 @ 0x10\n",
  );
  const old = await exchange(http.port, "GET /cmd/?e%20a+b HTTP/1.0\r\nUser-Agent: r2\r\n\r\n");
  assert.match(old, /^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\nran: \?e a\+b\n$/);
  assert.deepEqual(http.commands, ["p8 4 @ 0x10", "?e a+b"]);
});

Deno.test("raw UTF-8 and bare-LF heads are read as radare2 reads them", async () => {
  await using http = endpoint();
  const reply = await exchange(http.port, "GET /cmd/?e é %C3%A9 HTTP/1.1\n\n");
  assert.ok(reply.endsWith("ran: ?e é é\n"), reply);
});

Deno.test("a client that asks for keep-alive keeps its connection until it idles out", async () => {
  await using http = endpoint({ keepAliveTimeout: 200 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: http.port });
  const ask = "GET /cmd/a HTTP/1.1\r\nConnection: keep-alive\r\n\r\n" +
    "GET /cmd/b HTTP/1.1\r\nConnection: keep-alive\r\n\r\n";
  await conn.write(encoder.encode(ask));
  const text = await new Response(conn.readable).text(); // EOF after the idle timeout
  const replies = text.split("HTTP/1.1 200 OK\r\n").slice(1);
  assert.equal(replies.length, 2, text);
  assert.match(replies[0], /Connection: keep-alive\r\nKeep-Alive: timeout=1\r\n/);
  assert.ok(replies[1].endsWith("ran: b\n"));
  assert.deepEqual(http.commands, ["a", "b"]);
});

Deno.test("POST /cmd reads the body by length or chunked, after a 100 Continue", async () => {
  await using http = endpoint();
  const chunked = await exchange(
    http.port,
    "POST /cmd HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\np8 \r\n1;x=y\r\n4\r\n0\r\n\r\n",
  );
  assert.ok(chunked.endsWith("ran: p8 4\n"), chunked);
  const expect = await exchange(
    http.port,
    "POST /cmd HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\npx",
  );
  assert.match(expect, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.0 200 OK\r\n/);
  assert.deepEqual(http.commands, ["p8 4", "px"]);
});

Deno.test("bad requests get 400, 431, 501 or 505 and nothing runs", async () => {
  await using http = endpoint();
  const status = async (request: string) => (await exchange(http.port, request)).split("\r\n")[0];
  assert.equal(await status("GET /cmd/x\r\n\r\n"), "HTTP/1.0 400 Bad Request");
  assert.equal(
    await status("GET /cmd/x HTTP/2.0\r\n\r\n"),
    "HTTP/1.0 505 HTTP Version Not Supported",
  );
  assert.equal(
    await status(`GET /cmd/x HTTP/1.1\r\nX-Big: ${"a".repeat(9000)}\r\n\r\n`),
    "HTTP/1.0 431 Request Header Fields Too Large",
  );
  assert.equal(
    await status("POST /cmd HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
    "HTTP/1.0 501 Not Implemented",
  );
  assert.equal(
    await status("POST /cmd HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "HTTP/1.0 400 Bad Request",
  );
  assert.equal(await status("GET /cmd/x HTTP/1.1\r\n folded\r\n\r\n"), "HTTP/1.0 400 Bad Request");
  assert.deepEqual(http.commands, []);
});

Deno.test("a body over the limit is refused with 413 before it is read", async () => {
  await using http = endpoint({ maxBodyBytes: 1024 });
  const reply = await exchange(
    http.port,
    "POST /cmd HTTP/1.1\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(reply, /^HTTP\/1\.0 413 Payload Too Large\r\n/);
  const chunked = await exchange(
    http.port,
    "POST /cmd HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + "x".repeat(2048) + "\r\n",
  );
  assert.match(chunked, /^HTTP\/1\.0 413 /);
  assert.deepEqual(http.commands, []);
});

Deno.test("a request that does not arrive in time gets 408 and the connection closes", async () => {
  await using http = endpoint({ requestTimeout: 150 });
  assert.match(await exchange(http.port, "GET /cmd/x HTTP/1.1\r\n"), /^HTTP\/1\.0 408 /);
  assert.match(await exchange(http.port, ""), /^HTTP\/1\.0 408 /); // never a byte
  assert.ok(http.log.some((l) => /no complete request within 150 ms \(--packet-timeout\)/.test(l)));
  assert.deepEqual(http.commands, []);
});

Deno.test("with a token, requests need Authorization: Bearer; 401 otherwise, nothing run", async () => {
  const token = "s3cret-http-token";
  await using http = endpoint({ token });
  const missing = await exchange(http.port, "GET /cmd/p8 4 HTTP/1.1\r\n\r\n");
  assert.match(missing, /^HTTP\/1\.0 401 Unauthorized\r\n/);
  assert.match(missing, /\r\nWWW-Authenticate: Bearer realm="rap"\r\n/);
  const wrong = await exchange(
    http.port,
    "GET /cmd/p8 4 HTTP/1.1\r\nAuthorization: Bearer s3cret-http-tokeN\r\n\r\n",
  );
  assert.match(wrong, /^HTTP\/1\.0 401 /);
  const post = await exchange(http.port, "POST /cmd HTTP/1.1\r\nContent-Length: 4\r\n\r\np8 4");
  assert.match(post, /^HTTP\/1\.0 401 /);
  assert.deepEqual(http.commands, []);
  const ok = await fetch(`${http.url}cmd/p8%204`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(await ok.text(), "ran: p8 4\n");
  assert.match(await exchange(http.port, "OPTIONS * HTTP/1.1\r\n\r\n"), /^HTTP\/1\.0 200 OK/);
  assert.ok(http.log.some((l) => /refused, no Authorization: Bearer token/.test(l)));
  assert.ok(http.log.some((l) => /refused, wrong token/.test(l)));
  assert.ok(!http.log.some((l) => l.includes(token) || l.includes("tokeN")), http.log.join("\n"));
});

Deno.test("--allow-from closes other addresses without an answer, and logs it", async () => {
  await using http = endpoint({ allowFrom: AddressFilter.parse("10.0.0.0/8") });
  assert.equal(await exchange(http.port, "GET /cmd/p8 4 HTTP/1.1\r\n\r\n"), "");
  assert.deepEqual(http.commands, []);
  assert.match(http.log.join("\n"), /refused, address not in --allow-from 10\.0\.0\.0\/8/);
});

Deno.test("connections over the limit get 503 while the others are served", async () => {
  await using http = endpoint({ maxConnections: 2 });
  const held = [
    await Deno.connect({ hostname: "127.0.0.1", port: http.port }),
    await Deno.connect({ hostname: "127.0.0.1", port: http.port }),
  ];
  try {
    // The server counts a connection once it has accepted it: wait for the refusal.
    let reply = "";
    for (let i = 0; i < 50 && !reply.includes(" 503 "); i++) {
      reply = await exchange(http.port, "GET /cmd/x HTTP/1.1\r\n\r\n");
    }
    assert.match(reply, /^HTTP\/1\.0 503 Service Unavailable\r\n[\s\S]*Too many connections\n$/);
    assert.match(http.log.join("\n"), /2 connections already open \(--http-max-connections\)/);
  } finally {
    for (const c of held) c.close();
  }
});

Deno.test("each request is logged: peer, method, path cut short, status, bytes, time", async () => {
  await using http = endpoint();
  await exchange(http.port, `GET /cmd/?e ${"x".repeat(200)}\x1b HTTP/1.1\r\n\r\n`);
  await exchange(http.port, "GET /nothing HTTP/1.1\r\n\r\n");
  const [first, second] = http.log;
  assert.match(first, /^\[http\] 127\.0\.0\.1:\d+ GET \/cmd\/\?e x+\.\.\. 200 210 B \d+\.\d ms$/);
  assert.ok(first.length < 140);
  assert.match(second, /^\[http\] 127\.0\.0\.1:\d+ GET \/nothing 404 15 B \d+\.\d ms$/);
});

Deno.test("a command still running after commandTimeout gets 503 and its signal aborts", async () => {
  let aborted: Promise<void> | undefined;
  await using http = endpoint({ commandTimeout: 100 }, (_command, request) => {
    aborted = new Promise((resolve) => request.signal.addEventListener("abort", () => resolve()));
    return aborted.then(() => "late\n");
  });
  const reply = await exchange(http.port, "GET /cmd/slow HTTP/1.1\r\n\r\n");
  assert.match(reply, /^HTTP\/1\.0 503 [\s\S]*Command timed out after 100 ms \(--cmd-timeout\)\n$/);
  await aborted;
});

Deno.test("output over maxOutput is cut, with a note", async () => {
  await using http = endpoint({ maxOutput: 4096 }, () => Promise.resolve("y".repeat(100_000)));
  const reply = await exchange(http.port, "GET /cmd/big HTTP/1.1\r\n\r\n");
  const body = reply.slice(reply.indexOf("\r\n\r\n") + 4);
  assert.equal(encoder.encode(body).length, 4096);
  assert.match(body, /\[output truncated: 100000 bytes, the HTTP endpoint sends at most 4096/);
});

Deno.test("shutdown closes waiting connections at once and lets a request under way finish", async () => {
  const started = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const http = endpoint({}, async () => {
    started.resolve();
    await release.promise;
    return "done\n";
  });
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: http.port });
  const busy = exchange(http.port, "GET /cmd/x HTTP/1.1\r\n\r\n");
  await started.promise;
  const stopping = http[Symbol.asyncDispose]();
  assert.equal(await new Response(idle.readable).text(), "");
  release.resolve();
  assert.ok((await busy).endsWith("\r\n\r\ndone\n"));
  await stopping;
});

Deno.test("HTTPS with a certificate: TLS clients are served, plain ones are refused", async () => {
  await withCertificates(async (certs) => {
    await using http = endpoint({ tls: { cert: certs.cert, key: certs.key } });
    assert.match(http.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    using client = Deno.createHttpClient({ caCerts: [certs.ca] });
    const res = await fetch(`${http.url}cmd/p8%202`, { client });
    assert.equal(await res.text(), "ran: p8 2\n");
    const plain = await exchange(http.port, "GET /cmd/plain HTTP/1.1\r\n\r\n");
    assert.ok(!plain.startsWith("HTTP/"), plain); // a TLS alert at most
    assert.deepEqual(http.commands, ["p8 2"]);
    assert.ok(http.log.some((l) => /TLS handshake failed/.test(l)), http.log.join("\n"));
  });
});

Deno.test("a busy port is a ListenError naming the address and the flag", () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = busy.addr.port;
  assert.throws(
    () =>
      HttpServer.listen({ port, portFlag: "--http-port", log: () => {} }, () => ({ status: 200 })),
    (e) =>
      e instanceof ListenError &&
      e.message ===
        `Cannot listen on 127.0.0.1:${port} (--http-port): the address is already in use: ` +
          `pick another --http-port`,
  );
});

Deno.test("parseRequestHead keeps the target between the method and the last HTTP/1.x", () => {
  const head = parseRequestHead(encoder.encode("\r\nGET /cmd/?e HTTP/1.1 x HTTP/1.0\r\n\r\n"));
  assert.equal(head.target, "/cmd/?e HTTP/1.1 x");
  assert.equal(head.version, "HTTP/1.0");
  assert.equal(decoder.decode(encoder.encode(head.method)), "GET");
});
