/**
 * `serve --http-port` against outside peers: radare2-style raw-socket clients (python3,
 * tests/peers/http_peer.py), curl for HTTPS, tokens and big uploads, idle connections
 * under `ulimit -n`, and the exit of a `serve` whose HTTP port cannot be bound.
 */

import assert from "node:assert/strict";
import { CLI_PATH, freePort, startServe } from "./_serve_process.ts";
import { withCertificates } from "./_certificates.ts";
import { HAS_PYTHON, runPeer, startPeer } from "./_peer.ts";

const HAS_CURL: boolean = (() => {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Permissions of a server that serves `path` writable. */
function flagsFor(path: string): string[] {
  return ["--allow-net=127.0.0.1", "--allow-read", `--allow-write=${path}`];
}

async function sampleFile(size: number): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + (i >> 8)) & 0xff;
  await Deno.writeFile(path, bytes);
  return path;
}

/** The hex of the first bytes of sampleFile's pattern. */
function sampleHex(from: number, count: number): string {
  let hex = "";
  for (let i = from; i < from + count; i++) {
    hex += ((i * 131 + (i >> 8)) & 0xff).toString(16).padStart(2, "0");
  }
  return hex;
}

/** Server log lines as events: `waitFor` resolves with the first line that matches. */
function logWatch() {
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  return {
    onLog(line: string) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    },
    waitFor(pattern: RegExp): Promise<string> {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}

/** Run curl; returns its exit code, stdout and stderr. */
async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-s", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test({
  name: "r2-style clients (one request per connection, raw spaces, no Host) all get EOF",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(4096);
    try {
      await using server = await startServe({
        flags: flagsFor(path),
        args: ["--http-port", "0", path],
      });
      for (const version of ["1.1", "1.0"]) {
        const got = await runPeer("http_peer.py", [
          "get",
          "127.0.0.1",
          server.httpPort,
          "/cmd/p8 8 @ 0x10",
          "--version",
          version,
          "--count",
          25,
        ]);
        assert.deepEqual(got.errors, [], server.log);
        assert.equal(got.eof, 25, JSON.stringify(got)); // the server closed every one
        assert.equal(got.timeouts, 0);
        const first = got.first as { status_line: string; headers: Record<string, string> };
        assert.equal(first.status_line, "HTTP/1.0 200 OK");
        assert.deepEqual(first.headers, {
          "content-type": "text/plain",
          "connection": "close",
          "content-length": "17",
        });
        assert.deepEqual(got.bodies, [sampleHex(0x10, 8) + "\n"]);
      }
      // radare2's own client sends these headers, with a Host.
      const r2 = await runPeer("http_peer.py", [
        "get",
        "127.0.0.1",
        server.httpPort,
        "/cmd/?e hello world",
        "--header",
        "User-Agent: radare2 6.2.1",
        "--header",
        "Accept: */*",
        "--header",
        `Host: 127.0.0.1:${server.httpPort}`,
      ]);
      assert.equal(r2.eof, 1);
      assert.deepEqual(r2.bodies, ["hello world\n"]);
      assert.match(
        server.log,
        /\[http\] 127\.0\.0\.1:\d+ GET \/cmd\/p8 8 @ 0x10 200 17 B [\d.]+ ms/,
      );
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "one HTTP client's o-* or o-3 does not close the served file for the others",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(4096);
    try {
      await using server = await startServe({
        flags: flagsFor(path),
        args: ["--http-port", "0", path],
      });
      const get = async (target: string) =>
        (await runPeer("http_peer.py", ["get", "127.0.0.1", server.httpPort, target]))
          .bodies as string[];
      assert.deepEqual(await get("/cmd/o-*"), [""]);
      assert.match(
        (await get("/cmd/o-3"))[0],
        /^ERROR: File 3 .* stays open: the server serves it/,
      );
      assert.deepEqual(await get("/cmd/p8 4"), [sampleHex(0, 4) + "\n"]);
      assert.match((await get("/cmd/o"))[0], new RegExp(` 3 \\* r.x 0x00001000 ${path}\n`));
      const checked = await runPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        server.port,
        path,
        "--seconds",
        0.3,
      ]);
      assert.deepEqual(checked.errors, []);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "--read-only holds over HTTP: writes answer an error and the file is unchanged",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(64);
    try {
      await using server = await startServe({ args: ["--http-port", "0", "--read-only", path] });
      for (const target of ["/cmd/w PWNED", "/cmd/wx 4142", "/cmd/oo+"]) {
        const got = await runPeer("http_peer.py", ["get", "127.0.0.1", server.httpPort, target]);
        assert.match((got.bodies as string[])[0], /^ERROR: /, target);
      }
      assert.deepEqual([...(await Deno.readFile(path)).subarray(0, 2)], [0, 131]);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "HTTPS with --cert and --token-file: curl needs the token (401 otherwise), nothing runs",
  ignore: !HAS_CURL,
  async fn() {
    await withCertificates(async (certs) => {
      const tokenFile = `${certs.dir}/token`;
      await Deno.writeTextFile(tokenFile, "http-s3cret\n");
      const target = `${certs.dir}/target.bin`;
      await Deno.writeFile(target, new Uint8Array([1, 2, 3, 4]));
      await using server = await startServe({
        flags: flagsFor(target),
        args: [
          "--http-port",
          "0",
          "--cert",
          certs.certFile,
          "--key",
          certs.keyFile,
          "--token-file",
          tokenFile,
          "--allow-cmd",
          "open",
          target,
        ],
      });
      const url = `https://127.0.0.1:${server.httpPort}/cmd/`;
      const tls = ["--cacert", certs.caFile];
      const none = await curl([...tls, "-i", `${url}p8%204`]);
      assert.match(none.stdout, /^HTTP\/1\.0 401 Unauthorized\r\n/);
      assert.match(none.stdout, /\r\nWWW-Authenticate: Bearer realm="rap"\r\n/);
      const write = await curl([...tls, "-w", "%{http_code}", `${url}w%20PWNED`]);
      assert.match(write.stdout, /401$/);
      const wrong = await curl([
        ...tls,
        "-w",
        "%{http_code}",
        "-H",
        "Authorization: Bearer x",
        url,
      ]);
      assert.match(wrong.stdout, /401$/);
      const ok = await curl([...tls, "-H", "Authorization: Bearer http-s3cret", `${url}p8%204`]);
      assert.equal(ok.stdout, "01020304\n");
      assert.deepEqual([...await Deno.readFile(target)], [1, 2, 3, 4]);
      const plain = await curl([
        "-w",
        "%{http_code}",
        `http://127.0.0.1:${server.httpPort}/cmd/p8%204`,
      ]);
      assert.notEqual(plain.code, 0); // no HTTP over the TLS port
      assert.ok(!server.log.includes("http-s3cret"), server.log);
      assert.match(server.log, /refused, no Authorization: Bearer token \(--token-file\)/);
    });
  },
});

Deno.test({
  name: "--allow-from keeps HTTP clients out: no answer, nothing runs, the file is unchanged",
  ignore: !HAS_CURL,
  async fn() {
    const path = await sampleFile(64);
    try {
      await using server = await startServe({
        flags: flagsFor(path),
        args: ["--http-port", "0", "--allow-from", "10.0.0.0/8", path],
      });
      const res = await curl([`http://127.0.0.1:${server.httpPort}/cmd/w%20PWNED`]);
      assert.equal(res.code, 52, res.stderr); // curl: empty reply from server
      assert.equal((await Deno.readFile(path))[0], 0);
      assert.match(server.log, /\[http\] 127\.0\.0\.1:\d+: refused, address not in --allow-from/);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "a 256 MiB POST is refused early with 413 and the server's peak RSS stays small",
  ignore: !HAS_PYTHON || !HAS_CURL,
  async fn() {
    await using server = await startServe({ args: ["--http-port", "0", "hex://00"] });
    const before = (await server.peakRss())!;
    const big = await runPeer("http_peer.py", [
      "post",
      "127.0.0.1",
      server.httpPort,
      "--length",
      256 * 1024 * 1024,
    ]);
    assert.equal(big.status, 413);
    assert.equal(big.replied_early, true);
    assert.ok((big.sent as number) < 64 * 1024 * 1024, `sent ${big.sent}`);
    // curl streams a chunked body of unknown length: cut at the limit too.
    const chunked = await new Deno.Command("bash", {
      args: [
        "-c",
        `head -c 268435456 /dev/zero | curl -s -o /dev/null -w '%{http_code}' ` +
        `--data-binary @- http://127.0.0.1:${server.httpPort}/cmd`,
      ],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(chunked.stdout), "413");
    const peak = (await server.peakRss())!;
    // Generous: the body is never held; the process itself takes ~60 MiB.
    assert.ok(peak - before < 64 * 1024 * 1024, `peak RSS grew from ${before} to ${peak}`);
    assert.ok(peak < 200 * 1024 * 1024, `peak RSS ${peak}`);
  },
});

Deno.test({
  name: "slow headers (a byte at a time) are cut by the deadline with 408",
  ignore: !HAS_PYTHON,
  async fn() {
    await using server = await startServe({
      args: ["--http-port", "0", "--packet-timeout", "1000", "hex://00"],
    });
    const slow = await runPeer("http_peer.py", [
      "slow",
      "127.0.0.1",
      server.httpPort,
      "--interval",
      0.05,
      "--seconds",
      30,
    ]);
    assert.equal(slow.closed, true, JSON.stringify(slow));
    assert.equal(slow.status, 408);
    assert.ok((slow.sent as number) < (slow.total as number));
    assert.match(server.log, /no complete request within 1000 ms \(--packet-timeout\)/);
  },
});

Deno.test({
  name: "2,000 idle HTTP connections under ulimit -n 256: the server backs off, RAP is unaffected",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(64 * 1024);
    try {
      const watch = logWatch();
      await using server = await startServe({
        onLog: watch.onLog,
        fileLimit: 256,
        flags: flagsFor(path),
        args: [
          "--http-port",
          "0",
          "--http-max-connections",
          "4096",
          "--packet-timeout",
          "60000",
          path,
        ],
      });
      assert.equal(await server.fileLimit(), 256);
      await using checker = startPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        server.port,
        path,
        "--seconds",
        4,
      ]);
      // The checker has its connection before the descriptors run out.
      await watch.waitFor(/^\[rap\] 127\.0\.0\.1:\d+: connected$/);
      await using holder = startPeer("rap_peer.py", [
        "hold",
        "127.0.0.1",
        server.httpPort,
        "--count",
        2000,
        "--seconds",
        60,
        "--connect-timeout",
        1,
      ]);
      const holding = await holder.waitFor("holding");
      assert.ok((holding.connected as number) > 256, JSON.stringify(holding));
      await watch.waitFor(/^\[http\] accept failed on 127\.0\.0\.1:\d+: Too many open files/);
      const checked = await checker.result;
      assert.deepEqual(checked.errors, [], server.log);
      assert.equal(checked.wrong, 0);
      assert.ok(!server.exited, server.log);
      await holder.release();
      await holder.result;
      let after: Record<string, unknown> = {};
      for (let attempt = 0; attempt < 20; attempt++) {
        after = await runPeer("http_peer.py", ["get", "127.0.0.1", server.httpPort, "/cmd/p8 4"]);
        if (after.eof === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(after.bodies, [sampleHex(0, 4) + "\n"], server.log);
      await watch.waitFor(/^\[http\] accepting again on 127\.0\.0\.1:\d+ after \d+ failed/);
      const { status } = await server.stop();
      assert.equal(status.code, 0);
    } finally {
      await Deno.remove(path);
    }
  },
});

/** Run `cli.ts serve` to its end (it should fail at start). */
async function serveExit(flags: string[], args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, CLI_PATH, "serve", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("a busy --http-port: serve exits 1 with one line naming it, and no Listening line", async () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = busy.addr.port;
  const out = await serveExit(["--allow-net=127.0.0.1", "--allow-read"], [
    "--port",
    "0",
    "--http-port",
    String(port),
  ]);
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.equal(
    out.stderr,
    `rap serve: Cannot listen on 127.0.0.1:${port} (--http-port): the address is already in use: ` +
      `pick another --http-port\n`,
  );
});

Deno.test("an --http-port outside --allow-net: serve exits 1 naming the address and the flag", async () => {
  const rapPort = freePort();
  const httpPort = freePort();
  const out = await serveExit([`--allow-net=127.0.0.1:${rapPort}`, "--allow-read"], [
    "--port",
    String(rapPort),
    "--http-port",
    String(httpPort),
  ]);
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.equal(
    out.stderr,
    `rap serve: Cannot listen on 127.0.0.1:${httpPort} (--http-port): not allowed by the deno ` +
      `permissions: add --allow-net=127.0.0.1:${httpPort} to the deno command\n`,
  );
});

Deno.test("a busy --port: serve exits 1 naming it", async () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const out = await serveExit(["--allow-net=127.0.0.1"], ["--port", String(busy.addr.port)]);
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.match(
    out.stderr,
    new RegExp(`^rap serve: Cannot listen on 127\\.0\\.0\\.1:${busy.addr.port} \\(--port\\)`),
  );
});
