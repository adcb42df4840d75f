/**
 * Slots that cannot be squatted: a deadline from accept to the first request, a cap per
 * address, and a pool for connections that have not proven themselves whose oldest member
 * makes room. Against outside peers (python3 raw sockets) holding 300 connections and
 * reconnecting at once whenever the server closes one, while a checker reads and compares
 * bytes the whole time and 60 real clients come in.
 */

import { addressKey, ConnectionSlots, RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { CLI_PATH, startServe } from "./_serve_process.ts";
import { rawExchange, startTestServer } from "../testing.ts";
import { HAS_PYTHON, startChecker, startPeer } from "./_peer.ts";

const TOKEN = "slots-test-token-5f1c2a9e";

async function sampleFile(size: number): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  await Deno.writeFile(path, Uint8Array.from({ length: size }, (_, i) => (i * 29 + 7) & 0xff));
  return path;
}

Deno.test("ConnectionSlots closes the oldest silent pending connection of the busiest address", () => {
  const slots = new ConnectionSlots({
    maxConnections: 10,
    maxPending: 3,
    maxPerAddress: 5,
    pendingTimeout: 0,
  });
  const closed: string[] = [];
  const admit = (host: string, name: string) => {
    const slot = slots.admit(host, (reason) => closed.push(`${name}: ${reason}`));
    assert.ok(typeof slot !== "string", slot as string);
    return slot;
  };
  const a1 = admit("10.0.0.1", "a1");
  admit("10.0.0.2", "b1");
  admit("10.0.0.2", "b2");
  a1.started(); // its first request is under way
  admit("10.0.0.3", "c1"); // the pool is full: 10.0.0.2 has the most, b1 is its oldest
  assert.deepEqual(closed.map((l) => l.split(":")[0]), ["b1"]);
  assert.match(
    closed[0],
    /oldest of 3 connections that had not completed a request yet \(--max-pending\)/,
  );
  admit("10.0.0.1", "a2"); // one each now: the oldest silent one (b2), not a1 which has started
  admit("10.0.0.1", "a3"); // 10.0.0.1 has two: its oldest silent one is a2
  assert.deepEqual(closed.map((l) => l.split(":")[0]), ["b1", "b2", "a2"]);
  assert.equal(slots.pending, 3);
  assert.equal(a1.promote(), undefined);
  assert.equal(slots.pending, 2);
  assert.equal(slots.size, 3);
});

Deno.test("ConnectionSlots caps the connections in use per address, outward ones included", () => {
  const slots = new ConnectionSlots({ maxConnections: 10, maxPerAddress: 2, pendingTimeout: 0 });
  const one = slots.admit("::ffff:192.0.2.7", () => {});
  const two = slots.admit("192.0.2.7", () => {});
  const three = slots.admit("192.0.2.7", () => {});
  assert.ok(typeof one !== "string" && typeof two !== "string" && typeof three !== "string");
  assert.equal(one.promote(), undefined);
  const release = slots.reserveOutbound("192.0.2.7"); // a rap:// file of its session
  assert.match(
    two.promote()!,
    /2 connections from 192\.0\.2\.7 already in use \(--max-per-address\)/,
  );
  assert.match(slots.admit("192.0.2.7", () => {}) as string, /--max-per-address/);
  assert.throws(() => slots.reserveOutbound("192.0.2.7"), /counting the files its sessions opened/);
  release();
  assert.equal(two.promote(), undefined);
  two.release();
  three.release();
  one.release();
  assert.equal(slots.size, 0);
  // IPv6 clients count per /64.
  assert.equal(addressKey("2001:db8::1"), addressKey("2001:db8::ffff:1"));
  assert.notEqual(addressKey("2001:db8::1"), addressKey("2001:db8:0:1::1"));
});

Deno.test("ConnectionSlots: outward connections count against --max-connections; pending ones make room", () => {
  const slots = new ConnectionSlots({ maxConnections: 3, maxPending: 3, pendingTimeout: 0 });
  const closed: string[] = [];
  const client = slots.admit("127.0.0.1", () => {});
  assert.ok(typeof client !== "string" && client.promote() === undefined);
  slots.admit("10.0.0.9", () => closed.push("idle"));
  slots.reserveOutbound("127.0.0.1");
  slots.reserveOutbound("127.0.0.1"); // the idle connection makes room
  assert.deepEqual(closed, ["idle"]);
  assert.throws(() => slots.reserveOutbound("127.0.0.1"), /3 connections open.*--max-connections/);
  assert.match(slots.admit("10.0.0.9", () => {}) as string, /3 connections already open/);
  assert.equal(slots.outbound, 2);
});

Deno.test("--first-request-timeout closes a connection that sends nothing, with a logged reason", async () => {
  await using test = startTestServer({ firstRequestTimeout: 100, defaultUri: "hex://cafe" });
  const { reply, closed } = await rawExchange(test.port, new Uint8Array(0), Infinity, false);
  assert.ok(closed);
  assert.equal(reply.length, 0);
  // A client that sends its first request in time is served as usual, however long it idles.
  await using client = await test.connect();
  assert.deepEqual([...await client.read(0, 2)], [0xca, 0xfe]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual([...await client.read(0, 2)], [0xca, 0xfe]);
  assert.ok(
    test.logs.some((l) =>
      /closed: no complete request within 100 ms of connecting \(--first-request-timeout\)/.test(l)
    ),
    test.logs.join("\n"),
  );
});

Deno.test("--max-per-address refuses a client's connection over the cap once it sends its first request", async () => {
  await using test = startTestServer({ maxPerAddress: 2, defaultUri: "hex://cafe" });
  await using a = await test.connect();
  await using b = await test.connect();
  await using c = await test.connect(); // pending: not counted yet
  assert.deepEqual([...await a.read(0, 1)], [0xca]);
  assert.deepEqual([...await b.read(0, 1)], [0xca]);
  await assert.rejects(c.read(0, 1), /closed by the server/);
  const { closed } = await rawExchange(test.port, new Uint8Array(0), Infinity, false);
  assert.ok(closed); // refused at accept
  assert.ok(
    test.logs.some((l) =>
      /closed: refused, 2 connections from 127\.0\.0\.1 already in use \(--max-per-address\)/.test(
        l,
      )
    ),
    test.logs.join("\n"),
  );
  assert.ok(test.logs.some((l) => /: refused, 2 connections from 127\.0\.0\.1/.test(l)));
});

/**
 * 300 python connections squat the slots (reconnecting at once whenever one is closed) while
 * a python checker reads and compares bytes; then 60 clients connect, all at once, and each
 * must be served.
 */
async function squatted(token: string | undefined): Promise<void> {
  const path = await sampleFile(128 * 1024);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, TOKEN);
    let evictions = 0;
    await using server = await startServe({
      args: token === undefined ? [] : ["--token-file", `${dir}/token`],
      keepLines: 50,
      onLog: (line) => {
        if (/closed to make room: the oldest of 64 connections/.test(line)) evictions++;
      },
    });
    await using checker = startChecker(server.port, path, 4, token);
    await using squatters = startPeer("rap_peer.py", [
      "hold",
      "127.0.0.1",
      server.port,
      "--count",
      300,
      "--seconds",
      30,
      "--reconnect",
    ]);
    await squatters.waitFor("holding");
    const expected = await Deno.readFile(path);
    const clients: RapClient[] = [];
    const failures: string[] = [];
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      try {
        const client = await RapClient.connect({
          hostname: "127.0.0.1",
          port: server.port,
          token,
          timeout: 10_000,
        });
        clients.push(client);
        await client.open(path);
        const at = i * 1000;
        assert.deepEqual(await client.read(at, 512), expected.subarray(at, at + 512));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }));
    // All 60 are in at once, and still served.
    for (const client of clients) {
      assert.deepEqual([...await client.read(0, 4)], [...expected.subarray(0, 4)]);
    }
    await Promise.all(clients.map((c) => c.close()));
    assert.deepEqual(failures, [], server.log);
    assert.equal(clients.length, 60);
    const checked = await checker.result;
    assert.deepEqual(checked.errors, [], server.log);
    assert.equal(checked.wrong, 0);
    assert.ok((checked.ops as number) > 0);
    await squatters.release();
    const squatting = await squatters.result;
    assert.ok((squatting.reconnects as number) > 0, JSON.stringify(squatting));
    const { status } = await server.stop();
    assert.ok(evictions > 0);
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(path);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "with --token-file, 300 squatting connections that reconnect at once keep none of 60 token holders out",
  ignore: !HAS_PYTHON,
  fn: () => squatted(TOKEN),
});

Deno.test({
  name:
    "without a token, 300 squatting connections that reconnect at once keep none of 60 plain clients out",
  ignore: !HAS_PYTHON,
  fn: () => squatted(undefined),
});

Deno.test("serve takes --max-per-address, --max-pending and --first-request-timeout; 0 slots is a usage error", async () => {
  await using server = await startServe({
    args: ["--max-per-address", "2", "--max-pending", "3", "--first-request-timeout", "200"],
  });
  const { closed } = await rawExchange(server.port, new Uint8Array(0), Infinity, false);
  assert.ok(closed);
  const { status } = await server.stop();
  assert.equal(status.code, 0);
  assert.match(
    server.log,
    /no complete request within 200 ms of connecting \(--first-request-timeout\)/,
  );
  for (const flag of ["--max-per-address", "--max-pending", "--max-connections"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-net=127.0.0.1", CLI_PATH, "serve", flag, "0"],
      stdin: "null",
    }).output();
    assert.equal(out.code, 2, flag);
    assert.match(
      new TextDecoder().decode(out.stderr),
      new RegExp(`^rap serve: ${flag} must be at least 1, got 0 \\(see rap serve --help\\)\\n$`),
    );
  }
});
