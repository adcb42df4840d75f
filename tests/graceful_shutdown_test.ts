/**
 * Graceful shutdown of `cli.ts serve` on SIGINT/SIGTERM: stop accepting, finish replies in
 * flight, close (and so save) open files, exit 0 within a bounded time.
 */

import { encodePacket, PacketDecoder, RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { gzipFile } from "./_fixtures.ts";
import { startServe } from "./_serve_process.ts";
import { decodeCompressed } from "../plugins/_gzip_format.ts";
import { generation, generationOf } from "./_crash_saver.ts";

/** The bounded time: the server must exit on its own within this after the signal. */
const GRACE_MS = 5000;

/** `pairs` SEEK + READ 4096 requests in one buffer: a large pipelined read of 4 KiB pieces. */
function pipelinedRead(pairs: number): Uint8Array {
  const seek = (i: number) => encodePacket({ type: "seek", whence: 0, offset: BigInt(i * 4096) });
  const read = encodePacket({ type: "read", length: 4096 });
  const one = seek(0).length + read.length;
  const out = new Uint8Array(pairs * one);
  for (let i = 0; i < pairs; i++) {
    out.set(seek(i), i * one);
    out.set(read, i * one + seek(0).length);
  }
  return out;
}

/**
 * Send a pipelined read of `pairs` pieces, signal the server once `signalAfter` reply bytes
 * have arrived (`Infinity`: never read, signal at once), read to the end.
 */
async function signalMidRead(pairs: number, signal: Deno.Signal, signalAfter: number) {
  const server = await startServe({ flags: ["--allow-net=127.0.0.1"], args: ["malloc://128M"] });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // The requests are small (14 bytes a pair): all of them reach the server at once; the
    // replies (4 KiB each) are what stays in flight.
    await conn.write(pipelinedRead(pairs));
    const decoder = new PacketDecoder({ role: "client" });
    let replies = 0;
    let received = 0;
    let ending = "end of stream";
    let stopping: ReturnType<typeof server.stop> | undefined;
    if (signalAfter === Infinity) stopping = server.stop(signal, GRACE_MS);
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        ending = (error as Error).message;
        break;
      }
      if (n === null) break;
      received += n;
      decoder.push(buf.slice(0, n));
      while (decoder.next() !== undefined) replies++; // every reply decodes
      if (stopping === undefined && received >= signalAfter) {
        stopping = server.stop(signal, GRACE_MS);
      }
    }
    const stopped = await (stopping ?? server.stop(signal, GRACE_MS));
    return { ...stopped, replies, requests: 2 * pairs, ending, log: server.log };
  } finally {
    conn.close();
  }
}

Deno.test("SIGTERM during a large pipelined read: serve exits 0 on its own within 5 s and logs the shutdown", async () => {
  const result = await signalMidRead(20_000, "SIGTERM", 256 * 1024);
  assert.equal(result.killed, false, `still running ${GRACE_MS} ms after SIGTERM`);
  assert.equal(result.status.code, 0);
  assert.match(result.log, /\[rap\] shutting down/);
  assert.match(result.log, /closed: server shutting down|disconnected/);
  assert.ok(result.replies > 0 && result.replies <= result.requests);
});

Deno.test("SIGINT does the same as SIGTERM", async () => {
  const result = await signalMidRead(20_000, "SIGINT", 256 * 1024);
  assert.equal(result.killed, false);
  assert.equal(result.status.code, 0);
  assert.match(result.log, /\[rap\] shutting down/);
});

Deno.test("a client that never reads its replies does not hold the shutdown past the bound", async () => {
  const result = await signalMidRead(20_000, "SIGTERM", Infinity);
  assert.equal(result.killed, false, `still running ${GRACE_MS} ms after SIGTERM`);
  assert.equal(result.status.code, 0);
});

// On SIGTERM the server stops accepting, answers what the client had already sent (all of
// it here: the requests were written before the signal), flushes, then closes (bounded by a
// deadline for clients that do not read, see the test above).
Deno.test("SIGTERM answers every request the server had received before it closes the connection", async () => {
  const result = await signalMidRead(20_000, "SIGTERM", 256 * 1024);
  assert.equal(result.status.code, 0);
  assert.equal(result.replies, result.requests, `${result.replies} of ${result.requests}`);
  assert.match(result.log, /closed: server shutting down/);
});

Deno.test("SIGTERM closes the files clients left open: a gzip:// written over RAP is saved", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_shutdown_" });
  try {
    const path = `${dir}/image.gz`;
    const size = 256 * 1024;
    await Deno.writeFile(path, await gzipFile(generation(1, size)));
    const server = await startServe({
      flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
      args: ["-w"],
    });
    const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await client.open(`gzip://${path}`, 6);
      assert.equal(await client.write(0, generation(2, size)), size);
      // The connection stays open: the server must close the session itself.
      const { status, killed } = await server.stop("SIGTERM", GRACE_MS);
      assert.equal(killed, false);
      assert.equal(status.code, 0, server.log);
    } finally {
      await client.close();
    }
    const saved = decodeCompressed(await Deno.readFile(path), 50_000_000).data;
    assert.equal(generationOf(saved), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
