import { IoSession, RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { startTestServer } from "../testing.ts";

Deno.test("IoSession counts the RAM of its files and refuses an open over maxMemory", async () => {
  await using session = new IoSession({ maxMemory: 3000 });
  await session.open("malloc://1000");
  await session.open("cyclic://1000");
  assert.equal(session.memoryUsage(), 2000);
  await session.open("/etc/hostname"); // a file on disk holds no RAM
  assert.equal(session.memoryUsage(), 2000);
  await assert.rejects(
    session.open("malloc://2000"),
    /would hold 4000 bytes in memory, over its limit of 3000 \(--max-session-memory\)/,
  );
  assert.equal(session.files().length, 3, "the refused file was closed and dropped");
  assert.equal(session.memoryUsage(), 2000);
});

Deno.test("IoSession refuses a write that would take a growing sparse buffer over maxMemory", async () => {
  await using session = new IoSession({ maxMemory: 4096 });
  await session.open("sparse://16", { write: true });
  assert.equal(await session.writeAt(0n, new Uint8Array(3000)), 3000);
  await assert.rejects(
    session.writeAt(10000n, new Uint8Array(3000)), // would go over: refused before it is made
    /would hold 6000 bytes in memory, over its limit of 4096 \(--max-session-memory\)/,
  );
  assert.equal(session.memoryUsage(), 3000, "the refused write allocated nothing");
  assert.equal(await session.writeAt(10000n, new Uint8Array(1000)), 1000); // what fits
  await assert.rejects(session.writeAt(20000n, new Uint8Array(200)), /--max-session-memory/);
  assert.ok(session.memoryUsage() <= 4096);
});

Deno.test("the server bounds each session's RAM (--max-session-memory), plain and extended", async () => {
  await using test = startTestServer({ maxSessionMemory: 1 << 20 });
  const plain = await test.connect();
  await plain.open("malloc://512K", 7);
  await assert.rejects(plain.open("malloc://1M", 7), /refused/); // r2 clients: closed
  await plain.close();
  assert.ok(test.logs.some((l) => /over its limit of 1048576 \(--max-session-memory\)/.test(l)));
  await using ext = await RapClient.connect({
    hostname: "127.0.0.1",
    port: test.port,
    extensions: true,
  });
  const fd = await ext.open("sparse://16", 7);
  // Streamed in 1 MiB pieces: the first fills the budget, the piece that would pass it fails.
  await assert.rejects(ext.write(0, new Uint8Array((1 << 20) + 16), fd), /--max-session-memory/);
  assert.equal(await ext.write(0, new Uint8Array(512 << 10), fd), 512 << 10); // in place
  await assert.rejects(ext.write(4 << 20, new Uint8Array(16), fd), /--max-session-memory/);
  // Another session has its own budget.
  await using other = await test.connect();
  await other.open("malloc://768K", 7);
});
