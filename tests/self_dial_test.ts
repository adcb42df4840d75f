/**
 * No self-dialing: what a client asks the server to open never connects back to one of the
 * process's own listening addresses (judged before connecting, and again on the connection
 * a plugin made), `rap://` chains are bounded, and the files sessions open over the
 * network count against the server's connection limit. The end-to-end case runs the
 * server under `--allow-net=127.0.0.1:PORT` (which allows its own port) against an outside
 * peer sending nested `rap://` OPENs, with a checker reading bytes the whole time.
 */

import {
  IoError,
  type IoPlugin,
  IoRegistry,
  ownConnection,
  ownListeningAddress,
  RapClient,
  registerListening,
  RemoteRegistry,
} from "../mod.ts";
import assert from "node:assert/strict";
import { freePort, startServe } from "./_serve_process.ts";
import { createShellCommandHandler } from "../lib/shell/handler.ts";
import { parseCommandPolicy } from "../lib/shell/policy.ts";
import rap from "../plugins/rap.ts";
import { startTestServer } from "../testing.ts";
import { HAS_PYTHON, runPeer, startChecker, startPeer } from "./_peer.ts";

const tcp = (hostname: string, port: number): Deno.NetAddr => ({
  transport: "tcp",
  hostname,
  port,
});

Deno.test("ownListeningAddress: which targets reach a listener on 127.0.0.1, 0.0.0.0 or ::", () => {
  const port = 1; // no listener of this process is on port 1; nothing is dialled here
  const loopback = registerListening(tcp("127.0.0.1", port));
  try {
    for (
      const host of [
        "127.0.0.1",
        "localhost",
        "LocalHost.",
        "x.localhost",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
      ]
    ) {
      assert.equal(ownListeningAddress(host, port), "127.0.0.1:1", host);
    }
    for (const host of ["127.0.0.2", "::1", "192.0.2.1", "example.org"]) {
      assert.equal(ownListeningAddress(host, port), undefined, host);
    }
    assert.equal(ownListeningAddress("127.0.0.1", 2), undefined);
  } finally {
    loopback();
  }
  const v4 = registerListening(tcp("0.0.0.0", port));
  try {
    for (const host of ["127.0.0.2", "127.255.0.9", "0.0.0.0", "localhost"]) {
      assert.equal(ownListeningAddress(host, port), "0.0.0.0:1", host);
    }
    assert.equal(ownListeningAddress("::1", port), undefined); // 0.0.0.0 takes IPv4 only
    assert.equal(ownListeningAddress("192.0.2.1", port), undefined);
  } finally {
    v4();
  }
  const v6 = registerListening(tcp("::", port));
  try {
    for (const host of ["::1", "[::1]", "::", "127.0.0.2", "localhost"]) {
      assert.equal(ownListeningAddress(host, port), "[::]:1", host);
    }
  } finally {
    v6();
  }
  assert.equal(ownListeningAddress("localhost", port), undefined);
});

Deno.test("ownConnection recognises a connection to a listener of this process", async () => {
  await using test = startTestServer();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  assert.equal(ownConnection(conn), `127.0.0.1:${test.port}`);
});

Deno.test("a server's clients cannot open its own address through any network plugin", async () => {
  await using test = startTestServer();
  await using client = await test.connect({ extensions: true });
  for (
    const uri of [
      `rap://127.0.0.1:${test.port}//malloc://16`,
      `rap://localhost:${test.port}/rap://127.0.0.1:${test.port}//malloc://16`,
      `tcp://localhost:${test.port}`,
      `http://127.0.0.1:${test.port}/x`,
    ]
  ) {
    await assert.rejects(client.open(uri), /is this server's own listening address/, uri);
  }
  assert.equal(await client.cmd(""), ""); // the connection goes on
  assert.equal(test.server.connectionCount, 1);
});

Deno.test("a client's =+ cannot make the server connect to itself, even with --allow-cmd remote", async () => {
  await using test = startTestServer({
    commandHandler: createShellCommandHandler({ policy: parseCommandPolicy(["remote"]) }),
  });
  await using client = await test.connect();
  for (const target of [`rap://127.0.0.1:${test.port}/`, `tcp://localhost:${test.port}`]) {
    assert.match(
      await client.cmd(`=+ ${target}`),
      /^ERROR: .*is this server's own listening address/,
      target,
    );
  }
  assert.equal(test.server.connectionCount, 1);
});

Deno.test("a plugin's connection that leads back to the process is refused before it sends", async () => {
  await using test = startTestServer();
  let sent = false;
  // A plugin that does not declare where it connects: only the connection tells.
  const sneaky: IoPlugin = {
    name: "sneaky",
    description: "connects to a port it does not declare",
    schemes: ["sneaky"],
    uriForms: ["sneaky://PORT"],
    capabilities: { read: true, write: false, resize: false, system: false },
    permissions: () => [],
    async open(uri, options) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(uri.slice(9)) });
      try {
        options.checkConnection?.(conn);
        sent = true;
        throw new IoError(uri, "not reached");
      } finally {
        conn.close();
      }
    },
  };
  const registry = new RemoteRegistry(new IoRegistry([sneaky]));
  await assert.rejects(
    registry.open(`sneaky://${test.port}`),
    new RegExp(`127\\.0\\.0\\.1:${test.port} is this server's own listening address`),
  );
  assert.ok(!sent);
});

Deno.test("a rap:// chain of more than 3 servers is refused before connecting", async () => {
  const chain = [1, 2, 3, 4].map((p) => `rap://127.0.0.1:${p}/`).join("") + "malloc://16";
  await assert.rejects(rap.open(chain, {}), /chains 4 servers; at most 3/);
});

Deno.test({
  name: "files a session opens over the network count against --max-connections",
  ignore: !HAS_PYTHON,
  async fn() {
    await using peer = startPeer("failing_rap_server.py", []); // another RAP server
    const { port } = await peer.waitFor("listening");
    await using test = startTestServer({ maxConnections: 3 });
    await using client = await test.connect({ extensions: true });
    const a = await client.open(`rap://127.0.0.1:${port}//a`);
    await client.open(`rap://127.0.0.1:${port}//b`);
    // This client and its two rap:// files: 3 connections.
    await assert.rejects(
      client.open(`rap://127.0.0.1:${port}//c`),
      /3 connections open, counting the files sessions opened over the network \(--max-connections\)/,
    );
    await client.closeFile(a);
    await client.open(`rap://127.0.0.1:${port}//c`);
  },
});

Deno.test({
  name: "nested rap:// OPENs to the server itself under --allow-net=127.0.0.1:PORT take no slot",
  ignore: !HAS_PYTHON,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/sample.bin`;
      await Deno.writeFile(path, Uint8Array.from({ length: 64 * 1024 }, (_, i) => (i * 7) & 0xff));
      const port = freePort();
      let connections = 0;
      await using server = await startServe({
        flags: [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}`],
        args: ["--port", String(port)],
        onLog: (line) => {
          if (/: connected$/.test(line)) connections++;
        },
      });
      await using checker = startChecker(port, path, 2);
      const self = `rap://127.0.0.1:${port}/`;
      const names = [
        self.repeat(10) + "malloc://16", // 10 levels deep within OPEN's 255 bytes
        `${self}/malloc://16`,
        `rap://localhost:${port}//malloc://16`,
      ];
      for (const name of names) {
        const nest = await runPeer("rap_peer.py", [
          "nest",
          "127.0.0.1",
          port,
          "--name",
          name,
          "--count",
          40,
        ]);
        assert.equal(nest.opened, 0, JSON.stringify(nest));
        assert.equal(nest.refused, 40);
        assert.equal(nest.closed, false);
        assert.match(String(nest.messages), /is this server's own listening address/);
      }
      const checked = await checker.result;
      assert.deepEqual(checked.errors, [], server.log);
      assert.equal(checked.wrong, 0);
      // A new client still gets in, and the server never connected to itself.
      await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
      await client.open(path);
      assert.deepEqual([...await client.read(1, 2)], [7, 14]);
      assert.ok(connections <= 1 + names.length + 1, `${connections} connections:\n${server.log}`);
      await client.close();
      const { status } = await server.stop();
      assert.equal(status.code, 0);
      assert.match(
        server.log,
        /OPEN failed: Cannot open "rap:\/\/127\.0\.0\.1:\d+\/.*own listening address/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
