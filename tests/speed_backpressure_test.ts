import {
  encodePacket,
  encodePackets,
  EXT_MAX_DATA,
  EXT_OPS,
  formatOffer,
  type IoPlugin,
  IoRegistry,
  MemoryDescriptor,
  PacketDecoder,
  type RapRequest,
  SERVER_BUFFERS,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startTestServer } from "../testing.ts";

/** The most reply bytes one connection may hold, as documented on SERVER_BUFFERS. */
const BOUND = SERVER_BUFFERS.highWaterMark + SERVER_BUFFERS.piece + 256 * 1024;

const bytesOf = (...packets: RapRequest[]): Uint8Array => encodePackets(packets);

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** A `rec://SIZE` plugin whose descriptors record the lengths the server asks for. */
function recordingPlugin(reads: number[], writes: number[]): IoPlugin {
  return {
    name: "rec",
    description: "records read and write lengths",
    schemes: ["rec"],
    uriForms: ["rec://SIZE"],
    capabilities: { read: true, write: true, resize: false, system: false },
    permissions: () => [],
    open(uri) {
      const desc = new MemoryDescriptor(uri, "rec", new Uint8Array(Number(uri.slice(6))));
      return Promise.resolve(Object.assign(desc, {
        read(offset: number, length: number) {
          reads.push(length);
          return MemoryDescriptor.prototype.read.call(desc, offset, length);
        },
        write(offset: number, data: Uint8Array) {
          writes.push(data.length);
          return MemoryDescriptor.prototype.write.call(desc, offset, data);
        },
      }));
    },
  };
}

Deno.test("a client asking for 128 MiB at once keeps the server's queued replies under the bound", async () => {
  await using test = startTestServer({ defaultUri: "malloc://64M" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  try {
    // 16 extended READs of 8 MiB: 128 MiB of replies asked for at once.
    const requests = Array.from(
      { length: 16 },
      (_, i) =>
        ({ type: "read_at", fd: -1, offset: BigInt(i) << 21n, length: EXT_MAX_DATA }) as const,
    );
    await writeAll(conn, bytesOf({ type: "cmd", command: "#rap-ext? 1" }, ...requests));
    const offer = formatOffer({
      version: 1,
      maxData: EXT_MAX_DATA,
      ops: [...EXT_OPS],
      params: {},
    });
    const total = encodePacket({ type: "cmd_reply", output: offer }).length +
      16 * (5 + EXT_MAX_DATA);
    const buf = new Uint8Array(64 * 1024);
    let got = 0;
    let most = 0;
    while (got < total) {
      const n = await conn.read(buf);
      assert.notEqual(n, null, "the server closed early");
      got += n!;
      most = Math.max(most, test.server.queuedBytes);
    }
    assert.ok(most > 0, "the server had replies queued");
    assert.ok(most <= BOUND, `queued ${most} bytes, bound ${BOUND}`);
  } finally {
    conn.close();
  }
});

Deno.test("plain pipelined READs sent all at once do not make the server buffer their replies", async () => {
  await using test = startTestServer({ defaultUri: "malloc://4096" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  try {
    const count = 20_000; // 100 KB of requests, 82 MB of replies
    const one = encodePacket({ type: "read", length: 4096 });
    const requests = new Uint8Array(count * one.length);
    for (let i = 0; i < count; i++) requests.set(one, i * one.length);
    const sending = writeAll(conn, requests);
    const decoder = new PacketDecoder({ role: "client" });
    const buf = new Uint8Array(64 * 1024);
    let replies = 0;
    let most = 0;
    while (replies < count) {
      const n = await conn.read(buf);
      assert.notEqual(n, null);
      replies += decoder.decode(buf.slice(0, n!)).length;
      most = Math.max(most, test.server.queuedBytes);
    }
    await sending;
    assert.ok(most <= BOUND, `queued ${most} bytes, bound ${BOUND}`);
  } finally {
    conn.close();
  }
});

Deno.test("large extended reads and writes reach the plugin in pieces, never whole", async () => {
  const reads: number[] = [];
  const writes: number[] = [];
  await using test = startTestServer({
    registry: new IoRegistry([recordingPlugin(reads, writes)]),
  });
  const data = Uint8Array.from({ length: 5 << 20 }, (_, i) => (i * 13) & 0xff);
  // One request of 5 MiB each way (the client's pieces are 1 MiB by default: ask for more).
  await using big = await test.connect({ extensions: true, maxPayload: 5 << 20 });
  await big.open(`rec://${8 << 20}`, 6);
  assert.equal(await big.write(100, data), data.length);
  assert.deepEqual(await big.read(100, data.length), data);
  assert.ok(writes.length >= 5 && writes.every((n) => n <= SERVER_BUFFERS.piece), `${writes}`);
  assert.ok(reads.length >= 5 && reads.every((n) => n <= SERVER_BUFFERS.piece), `${reads}`);
  assert.equal(writes.reduce((a, b) => a + b, 0), data.length);
});
