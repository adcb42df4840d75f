import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";
import http, { HTTP_BLOCK_SIZE, HttpDescriptor } from "../plugins/http.ts";
import { BlockCache } from "../lib/client/block_cache.ts";

const DATA = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

interface TestServer extends AsyncDisposable {
  url: string;
  /** Requests seen, as "METHOD range-or-dash". */
  requests: string[];
}

/** A file server on 127.0.0.1:0 serving DATA at /data.bin, optionally with Range support. */
function serve(options: { ranges: boolean; body?: Uint8Array }): TestServer {
  const body = options.body ?? DATA;
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const range = request.headers.get("range");
      requests.push(`${request.method} ${range ?? "-"}`);
      const url = new URL(request.url);
      if (url.pathname === "/moved") return Response.redirect(new URL("/data.bin", url), 302);
      if (url.pathname !== "/data.bin") return new Response("not found\n", { status: 404 });
      const m = options.ranges ? /^bytes=(\d+)-(\d*)$/.exec(range ?? "") : null;
      if (m) {
        const start = Number(m[1]);
        const end = Math.min(body.length - 1, m[2] === "" ? body.length - 1 : Number(m[2]));
        if (start >= body.length) {
          return new Response(null, {
            status: 416,
            headers: { "content-range": `bytes */${body.length}` },
          });
        }
        return new Response(body.slice(start, end + 1), {
          status: 206,
          headers: {
            "content-range": `bytes ${start}-${end}/${body.length}`,
            "accept-ranges": "bytes",
          },
        });
      }
      return new Response(body.slice());
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("http:// learns the size from the first Range request and caches blocks", async () => {
  await using server = serve({ ranges: true });
  await using desc = await http.open(`${server.url}/data.bin`, {});
  assert.equal(await desc.size(), DATA.length);
  assert.deepEqual(server.requests, [`GET bytes=0-${HTTP_BLOCK_SIZE - 1}`]);
  // The first block came with the probe.
  assert.deepEqual(await desc.read(100, 50), DATA.slice(100, 150));
  assert.equal(server.requests.length, 1);
  // A read in the third block fetches only that block, once.
  const at = 2 * HTTP_BLOCK_SIZE + 10;
  assert.deepEqual(await desc.read(at, 1000), DATA.slice(at, at + 1000));
  assert.deepEqual(await desc.read(at + 5, 10), DATA.slice(at + 5, at + 15));
  assert.deepEqual(server.requests.slice(1), [
    `GET bytes=${2 * HTTP_BLOCK_SIZE}-${3 * HTTP_BLOCK_SIZE - 1}`,
  ]);
});

Deno.test("http:// fetches a run of missing blocks with one request and reads short at the end", async () => {
  await using server = serve({ ranges: true });
  await using desc = await http.open(`${server.url}/data.bin`, {});
  const tail = await desc.read(HTTP_BLOCK_SIZE - 4, DATA.length);
  assert.equal(tail.length, DATA.length - HTTP_BLOCK_SIZE + 4);
  assert.deepEqual(tail, DATA.slice(HTTP_BLOCK_SIZE - 4));
  assert.deepEqual(server.requests.slice(1), [`GET bytes=${HTTP_BLOCK_SIZE}-${DATA.length - 1}`]);
  assert.deepEqual(await desc.read(DATA.length, 10), new Uint8Array(0));
  assert.equal(server.requests.length, 2);
});

Deno.test("http:// works with a server without Range support: one GET, then RAM", async () => {
  await using server = serve({ ranges: false });
  await using desc = await http.open(`${server.url}/data.bin`, {});
  assert.equal(await desc.size(), DATA.length);
  assert.ok(desc instanceof HttpDescriptor && !desc.ranges);
  for (const at of [0, 70_000, 299_990]) {
    assert.deepEqual(await desc.read(at, 100), DATA.slice(at, at + 100));
  }
  assert.equal(server.requests.length, 1);
});

Deno.test("http:// follows redirects", async () => {
  await using server = serve({ ranges: true });
  await using desc = await http.open(`${server.url}/moved`, {});
  assert.equal(await desc.size(), DATA.length);
  assert.deepEqual(await desc.read(0, 4), DATA.slice(0, 4));
});

Deno.test("http:// is read-only", async () => {
  await using server = serve({ ranges: true });
  await using desc = await http.open(`${server.url}/data.bin`, { write: true });
  assert.equal(desc.writable, false);
  await assert.rejects(desc.write(0, Uint8Array.of(1)), (e) => e instanceof IoError);
});

Deno.test("http:// 404 gives a clear IoError", async () => {
  await using server = serve({ ranges: true });
  await assert.rejects(
    http.open(`${server.url}/missing`, {}),
    (e) => e instanceof IoError && /Cannot open ".*\/missing": HTTP 404/.test(e.message),
  );
});

Deno.test("http:// an empty body gives a clear IoError", async () => {
  for (const ranges of [true, false]) {
    await using server = serve({ ranges, body: new Uint8Array(0) });
    await assert.rejects(http.open(`${server.url}/data.bin`, {}), /empty body/);
  }
});

Deno.test("http:// connection refused gives a clear IoError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    http.open(`http://127.0.0.1:${port}/x`, {}),
    (e) => e instanceof IoError && /connection refused by 127\.0\.0\.1:\d+/.test(e.message),
  );
});

Deno.test("http:// needs net access to exactly HOST:PORT", () => {
  assert.deepEqual(http.permissions("http://127.0.0.1:8080/a", {}), [
    { name: "net", host: "127.0.0.1:8080" },
  ]);
  assert.deepEqual(http.permissions("http://example.com/a", {}), [
    { name: "net", host: "example.com:80" },
  ]);
  assert.deepEqual(http.permissions("http://[::1]/a", {}), [{ name: "net", host: "[::1]:80" }]);
  assert.throws(() => http.permissions("http://", {}), IoError);
});

Deno.test("http:// opens through the registry by scheme", async () => {
  await using server = serve({ ranges: true });
  await using desc = await new IoRegistry().open(`${server.url}/data.bin`);
  assert.equal(desc.plugin, "http");
});

Deno.test("BlockCache evicts the least recently used block beyond its bound", async () => {
  const fetched: number[] = [];
  const cache = new BlockCache({
    blockSize: 10,
    maxBlocks: 2,
    size: 100,
    fetch: (start, end) => {
      fetched.push(start);
      return Promise.resolve(DATA.slice(start, end));
    },
  });
  await cache.read(0, 1); // block 0
  await cache.read(10, 1); // block 1
  await cache.read(0, 1); // block 0 again: cached, now the most recent
  await cache.read(20, 1); // block 2 evicts block 1
  await cache.read(0, 1);
  await cache.read(10, 1);
  assert.deepEqual(fetched, [0, 10, 20, 10]);
  assert.equal(cache.cachedBlocks, 2);
});

Deno.test("BlockCache shares one fetch between concurrent reads and forgets failures", async () => {
  let calls = 0;
  let fail = true;
  const cache = new BlockCache({
    blockSize: 10,
    maxBlocks: 8,
    size: 100,
    fetch: (start, end) => {
      calls++;
      if (fail) return Promise.reject(new Error("boom"));
      return Promise.resolve(DATA.slice(start, end));
    },
  });
  await Promise.all([
    assert.rejects(cache.read(0, 5), /boom/),
    assert.rejects(cache.read(2, 5), /boom/),
  ]);
  assert.equal(calls, 1);
  fail = false;
  const [a, b] = await Promise.all([cache.read(0, 5), cache.read(3, 5)]);
  assert.deepEqual(a, DATA.slice(0, 5));
  assert.deepEqual(b, DATA.slice(3, 8));
  assert.equal(calls, 2);
});
