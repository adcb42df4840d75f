import {
  encodePacket,
  formatOffer,
  PacketDecoder,
  PacketReader,
  parseProbe,
  QueuedWriter,
  RapClient,
  type RapPacket,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startTestServer } from "../testing.ts";

/**
 * A fake server that answers no data request until `hold` READ/READ_AT requests have
 * arrived, so a test can see how many requests a client puts in flight (a client that
 * sends fewer fails on its reply timeout). It speaks plain RAP, and the extensions when
 * `maxData` is given.
 */
function holdingServer(options: { hold: number; maxData?: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: RapPacket[] = [];
  let before = 0; // data requests received before the first data reply
  const done = (async () => {
    const conn = await listener.accept();
    const decoder = new PacketDecoder({ role: "server" });
    const buf = new Uint8Array(65536);
    const held: RapPacket[] = [];
    let holding = true;
    const reply = async (packet: RapPacket) => {
      let out: Uint8Array;
      switch (packet.type) {
        case "cmd": {
          const probe = parseProbe(packet.command ?? "");
          const text = probe && options.maxData !== undefined
            ? formatOffer({ version: 1, maxData: options.maxData, ops: ["readat"], params: {} })
            : "";
          out = encodePacket({ type: "cmd_reply", output: text });
          if (text) decoder.enableExtensions(options.maxData);
          break;
        }
        case "open":
          out = encodePacket({ type: "open_reply", fd: 3 });
          break;
        case "seek":
          out = encodePacket({ type: "seek_reply", offset: packet.offset });
          break;
        case "read":
          out = encodePacket({ type: "read_reply", data: new Uint8Array(packet.length) });
          break;
        case "read_at":
          out = encodePacket({ type: "read_at_reply", data: new Uint8Array(packet.length) });
          break;
        default:
          throw new Error(`unexpected ${packet.type}`);
      }
      for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at));
    };
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        for (const packet of decoder.decode(buf.slice(0, n))) {
          seen.push(packet);
          const data = packet.type === "read" || packet.type === "read_at";
          if (!data) {
            if (holding) held.push(packet);
            else await reply(packet);
            continue;
          }
          if (holding) {
            held.push(packet);
            before++;
            if (before >= options.hold) {
              holding = false;
              for (const p of held.splice(0)) await reply(p);
            }
          } else {
            await reply(packet);
          }
        }
        // Before any data request, answer control packets (probe, OPEN) at once.
        if (holding && before === 0) { for (const p of held.splice(0)) await reply(p); }
      }
    } finally {
      conn.close();
      listener.close();
    }
  })();
  return { port: listener.addr.port, seen, done, before: () => before };
}

Deno.test("a sequential plain read keeps a window of 128 SEEK+READ pairs in flight", async () => {
  const peer = holdingServer({ hold: 128 });
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: peer.port,
    timeout: 10_000,
  });
  await client.open("/x");
  const data = await client.read(0, 4 << 20);
  assert.equal(data.length, 4 << 20);
  await client.close();
  await peer.done;
  assert.ok(peer.before() >= 128);
  const reads = peer.seen.filter((p) => p.type === "read");
  assert.equal(reads.length, 1024);
  assert.ok(reads.every((p) => p.type === "read" && p.length === 4096));
});

Deno.test("with the extensions, requests follow the peer's maxdata and 8 MiB stay in flight", async () => {
  const peer = holdingServer({ hold: 128, maxData: 65536 });
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: peer.port,
    extensions: true,
    timeout: 10_000,
  });
  assert.equal(client.extensions?.maxData, 65536);
  await client.open("/x");
  assert.equal((await client.read(0, 16 << 20)).length, 16 << 20);
  await client.close();
  await peer.done;
  const reads = peer.seen.filter((p) => p.type === "read_at");
  assert.equal(reads.length, 256);
  assert.ok(reads.every((p) => p.type === "read_at" && p.length === 65536));
  assert.ok(!peer.seen.some((p) => p.type === "seek"), "no SEEK round trips");
  assert.ok(peer.before() >= 128); // 128 × 64 KiB = 8 MiB
});

Deno.test("32 callers' random reads all go out before any reply comes back", async () => {
  const peer = holdingServer({ hold: 32, maxData: 1 << 20 });
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: peer.port,
    extensions: true,
    timeout: 10_000,
  });
  await client.open("/x");
  const results = await Promise.all(
    Array.from({ length: 32 }, (_, i) => client.read(i * 100_003, 4096)),
  );
  assert.ok(results.every((r) => r.length === 4096));
  await client.close();
  await peer.done;
  assert.equal(peer.before(), 32);
  const offsets = peer.seen.flatMap((p) => p.type === "read_at" ? [Number(p.offset)] : []);
  assert.deepEqual(offsets, Array.from({ length: 32 }, (_, i) => i * 100_003));
});

Deno.test("a reply's header and payload leave in one write", async () => {
  const writes: number[] = [];
  const writer = new QueuedWriter({
    write: (p) => {
      writes.push(p.length);
      return Promise.resolve(p.length);
    },
  });
  const data = new Uint8Array(4096);
  const reply = encodePacket({ type: "read_reply", data });
  writer.write(reply.subarray(0, 5));
  writer.write(data);
  await writer.flush();
  assert.deepEqual(writes, [4101]);
});

Deno.test("corked replies to a batch of pipelined requests leave together", async () => {
  const writes: number[] = [];
  const writer = new QueuedWriter({
    write: (p) => {
      writes.push(p.length);
      return Promise.resolve(p.length);
    },
  });
  writer.cork();
  for (let i = 0; i < 10; i++) writer.write(new Uint8Array(9));
  await Promise.resolve();
  assert.deepEqual(writes, []);
  writer.uncork();
  await writer.flush();
  assert.deepEqual(writes, [90]);
});

Deno.test("large payloads are written as they are, not copied into a joined buffer", async () => {
  const seen: Uint8Array[] = [];
  const writer = new QueuedWriter({
    write: (p) => {
      seen.push(p);
      return Promise.resolve(p.length);
    },
  });
  const big = new Uint8Array(1 << 20);
  writer.write(new Uint8Array(5));
  writer.write(big);
  await writer.flush();
  assert.equal(seen.length, 2);
  assert.equal(seen[1].buffer, big.buffer);
});

Deno.test("a data packet's payload is received straight into the caller's buffer", async () => {
  const payload = Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff);
  const wire = encodePacket({ type: "read_reply", data: payload });
  let at = 0;
  const source = {
    read: (p: Uint8Array) => {
      if (at === wire.length) return Promise.resolve(null);
      const n = Math.min(p.length, 7000, wire.length - at);
      p.set(wire.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
  const reader = new PacketReader(source, { role: "client", maxData: 1 << 20 });
  const into = new Uint8Array(300_000);
  const packet = await reader.next(() => into);
  assert.equal(packet?.type, "read_reply");
  const data = (packet as { data: Uint8Array }).data;
  assert.equal(data.buffer, into.buffer);
  assert.deepEqual(data, payload);
});

Deno.test("pipelined reads through our server match the data, plain and extended", async () => {
  const data = Uint8Array.from({ length: 5 << 20 }, (_, i) => (i ^ (i >> 9)) & 0xff);
  await using test = startTestServer();
  for (const extensions of [false, true]) {
    await using client = await test.connect({ extensions });
    await client.open(`malloc://${data.length}`, 6);
    await client.write(0, data);
    const reads = await Promise.all([
      client.read(0, data.length),
      client.read(12345, 100_000),
      client.read(data.length - 10, 20),
    ]);
    assert.deepEqual(reads[0], data);
    assert.deepEqual(reads[1], data.subarray(12345, 112345));
    assert.deepEqual(reads[2].subarray(0, 10), data.subarray(data.length - 10));
    assert.deepEqual([...reads[2].subarray(10)], new Array(10).fill(0xff));
  }
});

Deno.test("in-memory files are sent without copies, yet a write pipelined after a read does not change what the read returns", async () => {
  await using test = startTestServer();
  for (const extensions of [true, false]) {
    await using client = await test.connect({ extensions });
    // Small enough for every request of the three calls to go out at once, in call order.
    const size = extensions ? 3 << 20 : 256 << 10;
    await client.open(`malloc://${size}`, 6);
    const before = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
    const after = new Uint8Array(size).fill(0xee);
    await client.write(0, before);
    const [read, written, again] = await Promise.all([
      client.read(0, size),
      client.write(0, after),
      client.read(size - 4, 4),
    ]);
    assert.deepEqual(read, before, `extensions ${extensions}`);
    assert.equal(written, size);
    assert.deepEqual([...again], [0xee, 0xee, 0xee, 0xee]);
  }
});

Deno.test("a write queued behind a large read of an in-memory file waits until the read's bytes are sent", async () => {
  await using test = startTestServer();
  const size = 8 << 20;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  try {
    const packets = [
      encodePacket({ type: "cmd", command: "#rap-ext? 1" }),
      encodePacket({ type: "open", flags: 6, name: `malloc://${size}` }),
      encodePacket({
        type: "write_at",
        fd: 3,
        offset: BigInt(size - 4),
        data: new Uint8Array([1, 2, 3, 4]),
      }),
      encodePacket({ type: "read_at", fd: 3, offset: 0n, length: size }),
      encodePacket({
        type: "write_at",
        fd: 3,
        offset: BigInt(size - 4),
        data: new Uint8Array([9, 9, 9, 9]),
      }),
      encodePacket({ type: "read_at", fd: 3, offset: BigInt(size - 4), length: 4 }),
    ];
    const request = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
    packets.reduce((at, p) => (request.set(p, at), at + p.length), 0);
    const sending = (async () => {
      for (let at = 0; at < request.length;) at += await conn.write(request.subarray(at));
    })();
    const decoder = new PacketDecoder({ role: "client", extensions: size });
    const got: RapPacket[] = [];
    const buf = new Uint8Array(1 << 20);
    while (got.length < 6) {
      const n = await conn.read(buf);
      assert.notEqual(n, null);
      got.push(...decoder.decode(buf.slice(0, n!)));
    }
    await sending;
    const big = got[3] as { type: string; data: Uint8Array };
    assert.equal(big.type, "read_at_reply");
    assert.deepEqual([...big.data.subarray(size - 4)], [1, 2, 3, 4]);
    assert.deepEqual(got[5], { type: "read_at_reply", data: new Uint8Array([9, 9, 9, 9]) });
  } finally {
    conn.close();
  }
});
