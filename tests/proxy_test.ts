import assert from "node:assert/strict";
import { IoRegistry, IoSession, RapClient, RapServer } from "../mod.ts";
import { createRapPlugin } from "../plugins/rap.ts";
import { Perm } from "../lib/protocol/constants.ts";
import { DelayRelay } from "../bench/delay_relay.ts";
import { type Certificates, HAS_OPENSSL, withCertificates } from "./_certificates.ts";
import { HAS_PYTHON, sampleFile, startChecker, startPeer } from "./_peer.ts";
import { freePort, type ServeProcess, startServe } from "./_serve_process.ts";

const NET = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"];

/** An upstream `serve` subprocess (files readable and writable). */
function upstream(args: string[] = []): Promise<ServeProcess> {
  return startServe({ flags: NET, args: ["-w", ...args] });
}

/** A `proxy` subprocess in front of `rap://127.0.0.1:PORT` (or the scheme given). */
function proxy(port: number, args: string[] = [], scheme = "rap"): Promise<ServeProcess> {
  return startServe({
    command: "proxy",
    flags: ["--allow-net=127.0.0.1", "--allow-read"],
    args: [`${scheme}://127.0.0.1:${port}`, ...args],
  });
}

/** A radare2-style client: plain RAP, lock-step (SEEK, wait, READ, wait), 4 KiB pieces. */
function r2Style(port: number): Promise<RapClient> {
  return RapClient.connect({ hostname: "127.0.0.1", port, window: 1, timeout: 60_000 });
}

/** Run `fn` with a sample file of `size` bytes, an upstream and a proxy (`args`) in front. */
async function withProxy(
  size: number,
  args: string[],
  fn: (path: string, file: Uint8Array, px: ServeProcess) => Promise<void>,
): Promise<void> {
  const path = await sampleFile(size);
  try {
    await using up = await upstream();
    await using px = await proxy(up.port, args);
    await fn(path, await Deno.readFile(path), px);
  } finally {
    await Deno.remove(path);
  }
}

/** What {@linkcode withTlsUpstream} gives its function. */
interface TlsSetup {
  up: ServeProcess;
  /** A proxy that verifies the upstream with its CA and sends the token. */
  px: ServeProcess;
  certs: Certificates;
  tokenFile: string;
  path: string;
  file: Uint8Array;
}

/**
 * Run `fn` with a raps:// upstream that wants a token, a proxy that verifies it against
 * the private CA (a leaf for 127.0.0.1) and sends the token, and a sample file.
 */
async function withTlsUpstream(size: number, fn: (setup: TlsSetup) => Promise<void>) {
  await withCertificates(async (certs) => {
    const tokenFile = `${certs.dir}/token`;
    await Deno.writeTextFile(tokenFile, "proxy-s3cret\n");
    const path = await sampleFile(size);
    try {
      await using up = await upstream([
        "--cert",
        certs.certFile,
        "--key",
        certs.keyFile,
        "--token-file",
        tokenFile,
      ]);
      const verified = ["--ca", certs.caFile, "--token-file", tokenFile];
      await using px = await proxy(up.port, verified, "raps");
      await fn({ up, px, certs, tokenFile, path, file: await Deno.readFile(path) });
    } finally {
      await Deno.remove(path);
    }
  });
}

/** Wait until the process's log has a line matching `pattern` (the log is polled on events). */
async function logLine(p: ServeProcess, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const line = p.logTail.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 50)); // bounded: 30 s
  }
  throw new Error(`no log line ${pattern}:\n${p.log}`);
}

const HAS_R2 = await new Deno.Command("r2", { args: ["-v"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);

/** Run r2 with `args`; its stdout. */
async function r2(...args: string[]): Promise<string> {
  const out = await new Deno.Command("r2", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`r2 failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** The bytes r2's `p8` lines print. */
function hexBytes(text: string): Uint8Array {
  const hex = text.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: hex.length / 2 },
    (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  );
}

Deno.test("proxy: sequential, random and past-the-end reads equal the file", async () => {
  await withProxy((1 << 20) + 1234, [], async (path, file, px) => {
    await using client = await r2Style(px.port);
    await client.open(path);
    assert.equal(await client.size(), BigInt(file.length));
    for (let at = 0; at < 512 * 1024; at += 4096) {
      assert.deepEqual(await client.read(at, 4096), file.subarray(at, at + 4096), `at ${at}`);
    }
    let seed = 7;
    for (let i = 0; i < 100; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const at = seed % file.length;
      const n = Math.min(4096, file.length - at);
      assert.deepEqual(await client.read(at, n), file.subarray(at, at + n), `at ${at}`);
    }
    const tail = await client.read(file.length - 100, 4096);
    assert.deepEqual(tail.subarray(0, 100), file.subarray(file.length - 100));
    assert.ok(tail.subarray(100).every((b) => b === 0xff), "padded with 0xff, as radare2");
    assert.ok((await client.read(file.length + 10_000, 16)).every((b) => b === 0xff));
  });
});

Deno.test("proxy: offsets above 4 GiB read and write through (a sparse 6 GiB file, null://)", async () => {
  const path = await Deno.makeTempFile({ suffix: ".sparse" });
  try {
    const at = 5 * 2 ** 30 + 4000; // crosses a block boundary above 4 GiB
    const mark = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 13 + 1) & 0xff);
    {
      using f = await Deno.open(path, { write: true });
      await f.truncate(6 * 2 ** 30);
      await f.seek(at, Deno.SeekMode.Start);
      await f.write(mark);
    }
    await using up = await upstream();
    await using px = await proxy(up.port);
    await using client = await r2Style(px.port);
    await client.open(path, Perm.R | Perm.W);
    assert.equal(await client.size(), 6n << 30n);
    assert.deepEqual(await client.read(at, 4096), mark.subarray(0, 4096));
    assert.deepEqual(await client.read(at + 8000, 2000), mark.subarray(8000));
    assert.ok((await client.read(2 ** 32, 4096)).every((b) => b === 0));
    const data = new TextEncoder().encode("above four GiB");
    assert.equal(await client.write(at + 100, data), data.length);
    assert.deepEqual(await client.read(at + 100, data.length), data);
    using f = await Deno.open(path);
    await f.seek(at + 100, Deno.SeekMode.Start);
    const onDisk = new Uint8Array(data.length);
    assert.equal(await f.read(onDisk), data.length);
    assert.deepEqual(onDisk, data);
    // null:// has no end below 2^53: zeros far above 4 GiB.
    await using other = await r2Style(px.port);
    await other.open("null://9007199254740991");
    assert.ok((await other.read(2 ** 40 + 12_345, 4096)).every((b) => b === 0));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("proxy: writes land upstream, are read back at once, and read through a new client", async () => {
  await withProxy(300_000, [], async (path, _file, px) => {
    await using writer = await r2Style(px.port);
    await writer.open(path, Perm.R | Perm.W);
    const before = await writer.read(8192, 4096); // now cached
    const data = new TextEncoder().encode("written through the proxy");
    assert.equal(await writer.write(8200, data), data.length);
    const after = await writer.read(8192, 4096);
    assert.deepEqual(after.subarray(8, 8 + data.length), data);
    assert.deepEqual(after.subarray(8 + data.length), before.subarray(8 + data.length));
    const onDisk = await Deno.readFile(path);
    assert.deepEqual(onDisk.subarray(8200, 8200 + data.length), data);
    await using reader = await r2Style(px.port);
    await reader.open(path);
    assert.deepEqual(await reader.read(8200, data.length), data);
  });
});

Deno.test("proxy: another client's write is seen once the reader reopens (its cache held the block)", async () => {
  await withProxy(200_000, [], async (path, file, px) => {
    await using reader = await r2Style(px.port);
    await reader.open(path);
    assert.deepEqual(await reader.read(4096, 16), file.subarray(4096, 4112)); // now cached
    await using writer = await r2Style(px.port);
    await writer.open(path, Perm.R | Perm.W);
    const data = new Uint8Array(16).fill(0xab);
    assert.equal(await writer.write(4096, data), 16);
    // As docs/proxy.md says: the reader's cache still holds the block it fetched ...
    assert.deepEqual(await reader.read(4096, 16), file.subarray(4096, 4112));
    // ... and a reopen fetches it again.
    await reader.open(path);
    assert.deepEqual(await reader.read(4096, 16), data);
  });
});

Deno.test("proxy: --read-only refuses writes (0 written) and leaves the file alone", async () => {
  await withProxy(10_000, ["--read-only"], async (path, file, px) => {
    await using client = await r2Style(px.port);
    await client.open(path, Perm.R | Perm.W);
    await assert.rejects(client.write(0, new Uint8Array([1, 2, 3])));
    assert.deepEqual(await client.read(0, 3), file.subarray(0, 3));
    assert.deepEqual((await Deno.readFile(path)).subarray(0, 3), file.subarray(0, 3));
  });
});

Deno.test({
  name: "proxy: two byte-checking clients at once (python outside peers), reads and writes",
  ignore: !HAS_PYTHON,
  async fn() {
    const paths = [await sampleFile(2 << 20), await sampleFile(1 << 20)];
    try {
      await using up = await upstream();
      await using px = await proxy(up.port, ["--cache-size", "256K"]);
      const a = startChecker(px.port, paths[0], 2);
      // The second writes too, to its own file: it expects to read its own writes.
      const b = startPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        px.port,
        paths[1],
        "--seconds",
        2,
        "--write",
      ]);
      const [ra, rb] = await Promise.all([a.result, b.result]);
      for (const r of [ra, rb]) {
        assert.deepEqual(r.errors, []);
        assert.equal(r.wrong, 0);
        assert.ok((r.ops as number) > 0);
      }
    } finally {
      for (const path of paths) await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "proxy: a raps:// upstream with a token, verified against --ca",
  ignore: !HAS_OPENSSL,
  async fn() {
    await withTlsUpstream(200_000, async ({ up, px, certs, tokenFile, path, file }) => {
      await using client = await r2Style(px.port);
      await client.open(path);
      assert.deepEqual(await client.read(100_000, 4096), file.subarray(100_000, 104_096));
      // Not trusting the upstream's CA: the OPEN fails, as radare2 sees it (closed).
      await using wrongCa = await proxy(up.port, [
        "--ca",
        certs.otherCaFile,
        "--token-file",
        tokenFile,
      ], "raps");
      await using refused = await r2Style(wrongCa.port);
      await assert.rejects(refused.open(path), /closed the connection/);
      assert.match(
        await logLine(wrongCa, /closed: OPEN failed/),
        /certificate|UnknownIssuer|invalid peer/i,
      );
      // Without the token: refused too.
      await using noToken = await proxy(up.port, ["--ca", certs.caFile], "raps");
      await using refused2 = await r2Style(noToken.port);
      await assert.rejects(refused2.open(path), /closed the connection/);
      assert.match(await logLine(noToken, /closed: OPEN failed/), /token/);
    });
  },
});

Deno.test("proxy: an upstream that refuses connections fails the OPEN, with a logged reason", async () => {
  await using px = await proxy(freePort());
  await using client = await r2Style(px.port);
  await assert.rejects(client.open("/etc/hostname"), /closed the connection/);
  assert.match(await logLine(px, /closed: OPEN failed/), /refused|connect/i);
  // The proxy still serves: the next client gets the same answer.
  await using again = await r2Style(px.port);
  await assert.rejects(again.open("/etc/hostname"), /closed the connection/);
});

Deno.test("proxy: an upstream killed mid-read closes its client's connection, logged", async () => {
  const path = await sampleFile(32 << 20);
  try {
    const up = await upstream();
    await using px = await proxy(up.port, ["--cache-size", "1M", "--read-ahead", "0"]);
    await using client = await r2Style(px.port);
    await client.open(path);
    await client.read(0, 4096);
    await up.stop("SIGKILL");
    // Far from what was cached: the proxy must ask the upstream, which is gone.
    await assert.rejects(client.read(20 << 20, 4096));
    assert.match(await logLine(px, /closed: Cannot read/), /rap:\/\/127\.0\.0\.1:\d+\/\//);
    assert.equal(client.connected, false);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("proxy: a slow upstream (20 ms each way) still gives the file's bytes", async () => {
  const path = await sampleFile(600_000);
  try {
    const file = await Deno.readFile(path);
    await using up = await upstream();
    await using relay = DelayRelay.start({ port: up.port, delayMs: 20 });
    await using px = await proxy(relay.port);
    await using client = await r2Style(px.port);
    await client.open(path);
    for (let at = 0; at < file.length; at += 4096) {
      const n = Math.min(4096, file.length - at);
      assert.deepEqual(await client.read(at, n), file.subarray(at, at + n), `at ${at}`);
    }
    assert.deepEqual(await client.read(123_457, 1000), file.subarray(123_457, 124_457));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("proxy: caches draw from --max-memory; a file without room reads uncached; RSS bounded", async () => {
  const path = await sampleFile(24 << 20);
  try {
    const file = await Deno.readFile(path);
    await using up = await upstream();
    await using px = await proxy(up.port, ["--cache-size", "4M", "--max-memory", "6M"]);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await RapClient.connect({ hostname: "127.0.0.1", port: px.port, window: 128 });
      clients.push(c);
      await c.open(path); // 4M, then the 2M left, then none
    }
    try {
      // Every client reads the whole file in 4 KiB requests, 64 in flight (through the cache).
      await Promise.all(clients.map(async (c, k) => {
        for (let at = k << 20; at < file.length; at += 256 << 10) {
          const got = await c.read(at, 256 << 10);
          assert.deepEqual(got, file.subarray(at, at + (256 << 10)), `client ${k} at ${at}`);
        }
      }));
      const peak = (await px.peakRss())!;
      // 6 MiB of caches plus a Deno process: far below holding 3 × 24 MiB.
      assert.ok(peak < 400 * 2 ** 20, `peak RSS ${peak}`);
    } finally {
      for (const c of clients) await c.close();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("proxy: usage errors exit 2 with a line naming the problem", async () => {
  for (
    const [args, pattern] of [
      [[], /expected one UPSTREAM/],
      [["http://127.0.0.1:1"], /expected rap:\/\/HOST:PORT/],
      [["rap://127.0.0.1:1", "--block-size", "1M", "--cache-size", "64K"], /--block-size/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "-A",
        new URL("../cli.ts", import.meta.url).pathname,
        "proxy",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, `${args}`);
    assert.match(new TextDecoder().decode(out.stderr), pattern);
  }
});

Deno.test({
  name: "proxy: a real r2 reads the same bytes through a 10 ms relay and the proxy, and writes",
  ignore: !HAS_R2,
  async fn() {
    const path = await sampleFile(300_000);
    try {
      const file = await Deno.readFile(path);
      await using up = await upstream();
      await using relay = DelayRelay.start({ port: up.port, delayMs: 5 });
      await using px = await proxy(relay.port);
      const script = "b 4096;p8 4096 @@s:0 65536 4096";
      const through = hexBytes(await r2("-n", "-qc", script, `rap://127.0.0.1:${px.port}/${path}`));
      assert.deepEqual(through, file.subarray(0, 69632));
      await r2("-n", "-w", "-qc", "wx 5241505052 @ 0x100", `rap://127.0.0.1:${px.port}/${path}`);
      assert.deepEqual([...(await Deno.readFile(path)).subarray(0x100, 0x105)], [
        0x52,
        0x41,
        0x50,
        0x50,
        0x52,
      ]);
      const back = hexBytes(
        await r2("-n", "-qc", "p8 5 @ 0x100", `rap://127.0.0.1:${px.port}/${path}`),
      );
      assert.deepEqual([...back], [0x52, 0x41, 0x50, 0x50, 0x52]);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "proxy: a real r2 reads from a raps:// upstream with a token through the proxy",
  ignore: !HAS_R2 || !HAS_OPENSSL,
  async fn() {
    await withTlsUpstream(100_000, async ({ px, path, file }) => {
      const got = hexBytes(
        await r2("-n", "-qc", "p8 4096 @ 8192", `rap://127.0.0.1:${px.port}/${path}`),
      );
      assert.deepEqual(got, file.subarray(8192, 12288));
    });
  },
});

Deno.test("rap:// plugin: each file's cache is claimed from the session's memory, smaller when less is left", async () => {
  await using server = RapServer.listen({ port: 0, log: () => {} });
  const registry = new IoRegistry([createRapPlugin({ cache: { maxBytes: 4 << 20 } })]);
  await using session = new IoSession({ registry, maxMemory: 6 << 20 });
  const uri = `rap://127.0.0.1:${server.addr.port}/malloc://64K`;
  for (const expected of [4 << 20, 6 << 20, 6 << 20]) {
    const fd = await session.open(uri);
    assert.equal(session.memoryUsage(), expected);
    assert.equal((await session.read(fd, 0n, 16)).length, 16); // uncached when no room was left
  }
});
