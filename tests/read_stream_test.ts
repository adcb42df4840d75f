// Streamed reads (RapClient.readStream, the rap:// descriptor's readStream, rap cat): READ_ATs
// run ahead of the consumer through one buffer; the bytes arrive whole and in order, the end
// of the file stops the stream, a refused read fails it without losing the connection, a
// slow consumer is not taken for a silent server, and plain RAP falls back to piece reads.

import {
  concatBytes,
  DescriptorBase,
  type IoDescriptor,
  type IoPlugin,
  IoRegistry,
  openUri,
  RapRemoteError,
} from "../mod.ts";
import assert from "node:assert/strict";
import { memoryPlugin, startTestServer } from "../testing.ts";

const MiB = 1 << 20;
const DATA = Uint8Array.from({ length: 40 * MiB + 12345 }, (_, i) => (i * 131 + (i >> 20)) & 0xff);

/** Collects what a stream hands over, copying each piece (views are valid only meanwhile). */
function collector() {
  const pieces: Uint8Array[] = [];
  return { pieces, write: (bytes: Uint8Array) => void pieces.push(bytes.slice()) };
}

Deno.test("readStream hands a 40 MiB range over whole and in order, through one buffer", async () => {
  await using server = startTestServer({ registry: new IoRegistry([memoryPlugin("big", DATA)]) });
  await using client = await server.connect({ extensions: true });
  const fd = await client.open("big://");
  const { pieces, write } = collector();
  const n = await client.readStream(7, DATA.length - 7, write, fd);
  assert.equal(n, DATA.length - 7);
  assert.ok(pieces.length >= 40, `${pieces.length} pieces`);
  assert.ok(pieces.every((p) => p.length <= MiB), "no piece is larger than the buffer");
  assert.deepEqual(concatBytes(pieces), DATA.subarray(7));
  // The connection goes on: an ordinary read after the stream.
  assert.deepEqual(await client.read(100, 4, fd), DATA.subarray(100, 104));
});

Deno.test("readStream stops at the end of the file; later requests are dropped, not written", async () => {
  await using server = startTestServer({ registry: new IoRegistry([memoryPlugin("big", DATA)]) });
  await using client = await server.connect({ extensions: true });
  const fd = await client.open("big://");
  const { pieces, write } = collector();
  const from = DATA.length - 3 * MiB - 5;
  const n = await client.readStream(from, 64 * MiB, write, fd);
  assert.equal(n, 3 * MiB + 5);
  assert.deepEqual(concatBytes(pieces), DATA.subarray(from));
});

/** A file whose reads fail from `badFrom` on. */
class FailingDescriptor extends DescriptorBase implements IoDescriptor {
  constructor(uri: string, readonly badFrom: number) {
    super(uri, "bad", false);
  }
  size(): Promise<number> {
    return Promise.resolve(DATA.length);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    if (offset + length > this.badFrom) return Promise.reject(new Error("medium error"));
    return Promise.resolve(DATA.slice(offset, offset + length));
  }
}

const failing: IoPlugin = {
  name: "bad",
  description: "reads fail past 8 MiB",
  schemes: ["bad"],
  uriForms: ["bad://"],
  capabilities: { read: true, write: false, resize: false, system: false },
  permissions: () => [],
  open: (uri) => Promise.resolve(new FailingDescriptor(uri, 8 * MiB)),
};

Deno.test("a read the server refuses fails the stream; what came before it is intact, the connection stays", async () => {
  await using server = startTestServer({ registry: new IoRegistry([failing]) });
  await using client = await server.connect({ extensions: true });
  const fd = await client.open("bad://");
  const { pieces, write } = collector();
  await assert.rejects(client.readStream(0, 20 * MiB, write, fd), RapRemoteError);
  // The READ_AT at 8 MiB fails on its first piece, so its reply is an error (a piece that
  // fails after a reply's header went out is padded instead, as docs/protocol.md says).
  assert.deepEqual(concatBytes(pieces), DATA.subarray(0, 8 * MiB));
  assert.ok(client.connected);
  assert.deepEqual(await client.read(10, 3, fd), DATA.subarray(10, 13));
});

Deno.test("a consumer slower than the reply timeout is not taken for a silent server", async () => {
  await using server = startTestServer({ registry: new IoRegistry([memoryPlugin("big", DATA)]) });
  await using client = await server.connect({ extensions: true, timeout: 200 });
  const fd = await client.open("big://");
  let total = 0;
  const n = await client.readStream(0, 3 * MiB, async (bytes) => {
    total += bytes.length;
    await new Promise((resolve) => setTimeout(resolve, 150)); // each piece: 3/4 of the timeout
  }, fd);
  assert.equal(n, 3 * MiB);
  assert.equal(total, 3 * MiB);
  assert.ok(client.connected);
});

Deno.test("on plain RAP readStream reads piece by piece (radare2's server has no READ_AT)", async () => {
  await using server = startTestServer({ registry: new IoRegistry([memoryPlugin("big", DATA)]) });
  await using client = await server.connect(); // no extensions
  await client.open("big://");
  const { pieces, write } = collector();
  assert.equal(await client.readStream(MiB - 3, 2 * MiB, write), 2 * MiB);
  assert.deepEqual(concatBytes(pieces), DATA.subarray(MiB - 3, 3 * MiB - 3));
});

Deno.test("the rap:// descriptor streams up to the end of the file", async () => {
  await using server = startTestServer({ registry: new IoRegistry([memoryPlugin("big", DATA)]) });
  await using desc = await openUri(`rap://127.0.0.1:${server.port}/big://`);
  assert.ok(desc.readStream !== undefined);
  const { pieces, write } = collector();
  const from = DATA.length - 2 * MiB;
  assert.equal(await desc.readStream(from, 10 * MiB, write), 2 * MiB);
  assert.deepEqual(concatBytes(pieces), DATA.subarray(from));
});
