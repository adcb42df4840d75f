import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import tcp, { parseTcpUri, slurpTcp } from "../plugins/tcp.ts";

const PAYLOAD = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 13) & 0xff);

/** A peer on 127.0.0.1:0 that sends `data` to the first client, then closes. */
function sender(data: Uint8Array): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    try {
      using conn = await listener.accept();
      let at = 0;
      while (at < data.length) at += await conn.write(data.subarray(at));
    } finally {
      listener.close();
    }
  })();
  return { port: listener.addr.port, done };
}

async function sendTo(port: number, data: Uint8Array): Promise<void> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

Deno.test("tcp://HOST:PORT connects and keeps what the peer sends until it closes", async () => {
  const peer = sender(PAYLOAD);
  const desc = await tcp.open(`tcp://127.0.0.1:${peer.port}`, {});
  await peer.done;
  assert.equal(desc.plugin, "tcp");
  assert.equal(await desc.size(), PAYLOAD.length);
  assert.deepEqual(await desc.read(0, PAYLOAD.length), PAYLOAD);
  assert.equal(desc.writable, false);
  await assert.rejects(desc.write(0, Uint8Array.of(1)), IoError);
  await desc.close();
});

Deno.test("tcp-slurp://HOST:PORT is the same plugin, writable in RAM when opened for writing", async () => {
  const peer = sender(new TextEncoder().encode("hello world"));
  const desc = await tcp.open(`tcp-slurp://127.0.0.1:${peer.port}`, { write: true });
  await peer.done;
  assert.equal(await desc.write(0, new TextEncoder().encode("HELLO")), 5);
  assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "HELLO world");
  await desc.close();
});

Deno.test("tcp-slurp://:PORT listens on 127.0.0.1, takes one peer and reads until it closes", async () => {
  let sent: Promise<void> | undefined;
  let address: Deno.NetAddr | undefined;
  const desc = await slurpTcp("tcp-slurp://:0", {
    onListen: (addr) => {
      address = addr;
      sent = sendTo(addr.port, PAYLOAD);
    },
  });
  await sent;
  assert.equal(address?.hostname, "127.0.0.1");
  assert.ok(address.port > 0);
  assert.deepEqual(await desc.read(0, PAYLOAD.length + 10), PAYLOAD);
  await desc.close();
});

Deno.test("tcp://:PORT listens on the port given in the URI", async () => {
  // Learn a free port, then let the plugin listen on it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  let sent: Promise<void> | undefined;
  const desc = await slurpTcp(`tcp://:${port}`, {
    onListen: (addr) => {
      assert.equal(addr.port, port);
      sent = sendTo(port, Uint8Array.of(1, 2, 3));
    },
  });
  await sent;
  assert.deepEqual([...await desc.read(0, 3)], [1, 2, 3]);
  await desc.close();
});

Deno.test("tcp:// fails clearly when the peer sends nothing", async () => {
  const peer = sender(new Uint8Array(0));
  await assert.rejects(
    tcp.open(`tcp://127.0.0.1:${peer.port}`, {}),
    (e) => e instanceof IoError && /the peer sent no data/.test(e.message),
  );
  await peer.done;
});

Deno.test("tcp:// fails clearly when the connection is refused", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await assert.rejects(
    tcp.open(`tcp://127.0.0.1:${port}`, {}),
    (e) => e instanceof IoError && /connection refused by 127\.0\.0\.1:\d+/.test(e.message),
  );
});

Deno.test("tcp:// listen form can be aborted while waiting for a peer", async () => {
  const controller = new AbortController();
  await assert.rejects(
    slurpTcp("tcp://:0", { onListen: () => controller.abort(), signal: controller.signal }),
    IoError,
  );
});

Deno.test("tcp:// URIs: forms, usage and permissions", () => {
  assert.deepEqual(parseTcpUri("tcp://[::1]:9"), { mode: "connect", hostname: "::1", port: 9 });
  assert.deepEqual(parseTcpUri("tcp-slurp://:9999"), {
    mode: "listen",
    hostname: "127.0.0.1",
    port: 9999,
  });
  assert.throws(() => parseTcpUri("tcp-slurp://?"), /tcp-slurp:\/\/HOST:PORT/);
  assert.throws(() => parseTcpUri("tcp://localhost"), /missing or invalid port/);
  assert.throws(() => parseTcpUri("tcp://localhost:0"), /invalid port/);
  assert.throws(() => parseTcpUri("tcp://localhost:70000"), /invalid port/);
  assert.deepEqual(tcp.permissions("tcp://example.com:7", {}), [
    { name: "net", host: "example.com:7" },
  ]);
});
