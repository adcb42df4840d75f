import {
  encodePacket,
  openUri,
  PacketDecoder,
  RapClient,
  RapConnectionError,
  type RapPacket,
  RapProtocolError,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startTestServer } from "../testing.ts";
import { loadRecordings, type RecordedPacket } from "./_recordings.ts";

const DATA = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i ^ (i >> 8) ^ (i >> 16)) & 0xff);

async function withDataFile<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "rap_client_test_" });
  await Deno.writeFile(path, DATA);
  try {
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/**
 * A fake peer that plays one side of a recording: it checks every byte the client sends
 * against the recorded client packets and answers with the recorded server packets.
 */
function scriptedServer(packets: RecordedPacket[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const mismatches: string[] = [];
  const done = (async () => {
    const conn = await listener.accept();
    try {
      for (const [i, packet] of packets.entries()) {
        if (packet.direction === ">") {
          const got = new Uint8Array(packet.bytes.length);
          let at = 0;
          while (at < got.length) {
            const n = await conn.read(got.subarray(at));
            if (n === null) {
              mismatches.push(`packet ${i}: client closed early`);
              return;
            }
            at += n;
          }
          if (got.join() !== packet.bytes.join()) {
            mismatches.push(`packet ${i}: sent ${got.join()} instead of ${packet.bytes.join()}`);
          }
        } else {
          await conn.write(packet.bytes);
        }
      }
    } finally {
      conn.close();
      listener.close();
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, mismatches, done };
}

/**
 * A one-connection fake peer: `script` runs on the accepted connection, then the peer waits
 * for the client to close (unless `script` closed it) and stops. Returns a connected client.
 */
async function fakePeer(
  script: (conn: Deno.Conn) => Promise<void>,
  options: { timeout?: number; waitForClose?: boolean; window?: number } = {},
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    try {
      await script(conn);
      if (options.waitForClose ?? true) await conn.read(new Uint8Array(1)).catch(() => null);
    } finally {
      try {
        conn.close();
      } catch { /* closed by the script */ }
      listener.close();
    }
  })();
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
    timeout: options.timeout,
    window: options.window,
  });
  return { client, done };
}

/**
 * The client's requests as a fake peer reads them: `next()` is the next packet (`null` when
 * the client closed), `decoder.buffered` what arrived after it.
 */
function requestsFrom(conn: Deno.Conn) {
  const decoder = new PacketDecoder({ role: "server" });
  const next = async (): Promise<RapPacket | null> => {
    for (;;) {
      const packet = decoder.next();
      if (packet !== undefined) return packet;
      const buf = new Uint8Array(65536);
      const n = await conn.read(buf);
      if (n === null) return null;
      decoder.push(buf.subarray(0, n));
    }
  };
  return { decoder, next };
}

Deno.test("a pipelined 1 MiB read returns the same bytes as sequential 4096-byte reads", async () => {
  await withDataFile(async (path) => {
    await using test = startTestServer();
    await using client = await test.connect();
    await client.open(path);
    const pipelined = await client.read(0, DATA.length);
    const sequential = new Uint8Array(DATA.length);
    for (let at = 0; at < DATA.length; at += 4096) {
      sequential.set(await client.read(at, 4096), at);
    }
    assert.deepEqual(pipelined, sequential);
    assert.deepEqual(pipelined, DATA);
  });
});

Deno.test("random reads from many callers share one connection and get their own bytes", async () => {
  await withDataFile(async (path) => {
    await using test = startTestServer();
    await using client = await test.connect({ window: 4 });
    await client.open(path);
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const reads = Array.from({ length: 200 }, () => {
      const offset = Math.floor(random() * (DATA.length - 20000));
      const length = 1 + Math.floor(random() * 20000);
      return { offset, length };
    });
    const results = await Promise.all(
      reads.map(({ offset, length }) => client.read(offset, length)),
    );
    for (const [i, { offset, length }] of reads.entries()) {
      assert.deepEqual(results[i], DATA.subarray(offset, offset + length), `read ${i}`);
    }
    assert.equal(test.server.connectionCount, 1);
  });
});

Deno.test("writes larger than the peer's limit are split and all land", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  await client.open("malloc://65536", 7);
  const data = DATA.subarray(0, 10000);
  assert.equal(await client.write(100, data), 10000);
  assert.deepEqual(await client.read(100, 10000), data);
});

Deno.test("commands wait for pipelined requests and reads wait for commands", async () => {
  await using test = startTestServer({ defaultUri: "malloc://65536" });
  await using client = await test.connect();
  const [a, b, c] = await Promise.all([client.read(0, 20000), client.cmd("?V"), client.read(5, 5)]);
  assert.equal(a.length, 20000);
  assert.match(b, /rap/);
  assert.equal(c.length, 5);
});

Deno.test("RapClient talks to a radare2 server byte for byte (recording 05, =+ then =0 cmd)", async () => {
  const recording = (await loadRecordings()).find((r) => r.name.startsWith("05-"))!;
  const peer = scriptedServer(recording.packets);
  const client = await RapClient.connect({ hostname: "127.0.0.1", port: peer.port });
  assert.equal(await client.open("/bin/ls", 0), 4);
  const px = await client.cmd("px 16");
  assert.match(px, /^- offset - {2}7071 7273 .*\n0x00006270 {2}f30f 1efa/);
  assert.equal(await client.cmd("?e hello"), "hello\n");
  await client.close();
  await peer.done;
  assert.deepEqual(peer.mismatches, []);
});

Deno.test("RapClient counts radare2's boolean WRITE reply (1) as the whole chunk", async () => {
  const { client, done } = await fakePeer(async (conn) => {
    const buf = new Uint8Array(10 + 5 + 100);
    let at = 0;
    while (at < buf.length) at += (await conn.read(buf.subarray(at)))!;
    await conn.write(new Uint8Array([0x84, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x83, 0, 0, 0, 1]));
  });
  assert.equal(await client.write(0x10, new Uint8Array(100)), 100);
  await client.close();
  await done;
});

Deno.test("a refused OPEN (the server closes, as radare2 does) is a clear error", async () => {
  const recording = (await loadRecordings()).find((r) => r.name.startsWith("07-"))!;
  const peer = scriptedServer(recording.packets);
  const client = await RapClient.connect({ hostname: "127.0.0.1", port: peer.port });
  await assert.rejects(
    client.open("/nonexistent/file", 5),
    (e: Error) =>
      e instanceof RapConnectionError &&
      /Cannot open "\/nonexistent\/file".*refused/.test(e.message),
  );
  await client.close();
  await peer.done;
  assert.deepEqual(peer.mismatches, []);
});

Deno.test("an OPEN answered with fd -1 (radare2's library server) is a failure here", async () => {
  const { client, done } = await fakePeer(async (conn) => {
    await conn.read(new Uint8Array(64));
    await conn.write(new Uint8Array([0x81, 0xff, 0xff, 0xff, 0xff]));
  });
  await assert.rejects(client.open("/x"), /answered fd -1/);
  await client.close();
  await done;
});

Deno.test("a peer that never answers times out with a typed error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
    timeout: 50,
  });
  const conn = await accepted;
  await assert.rejects(
    client.size(),
    (e: Error) => e instanceof RapConnectionError && /No reply/.test(e.message),
  );
  assert.equal(client.connected, false);
  await client.close();
  conn.close();
  listener.close();
});

Deno.test("a peer that answers out of protocol gives a RapProtocolError", async () => {
  const { client, done } = await fakePeer(async (conn) => {
    await conn.read(new Uint8Array(64));
    await conn.write(new Uint8Array([0x83, 0, 0, 0, 1])); // a WRITE reply to a SEEK
  });
  await assert.rejects(client.seek(0n), RapProtocolError);
  await client.close();
  await done;
});

Deno.test("a connection dropped mid-read rejects every waiting request", async () => {
  const { client, done } = await fakePeer(async (conn) => {
    await conn.read(new Uint8Array(64));
    conn.close();
  }, { waitForClose: false });
  const reads = [client.read(0, 100000), client.read(0, 10)];
  for (const r of reads) await assert.rejects(r, RapConnectionError);
  await client.close();
  await done;
});

Deno.test("a CMD sent in the middle of a pipelined read has nothing after it until its reply", async () => {
  const piece = (offset: number) =>
    Uint8Array.from({ length: 4096 }, (_, i) => (offset + i) & 0xff);
  const firstWindow = Promise.withResolvers<void>();
  const cmdWaiting = Promise.withResolvers<void>();
  let followedCmd = -1;
  const { client, done } = await fakePeer(async (conn) => {
    const { decoder, next: nextOrEnd } = requestsFrom(conn);
    const next = async () => {
      const packet = await nextOrEnd();
      if (packet === null) throw new Error("the client closed early");
      return packet;
    };
    let seek = 0;
    const answer = (packet: RapPacket) => {
      if (packet.type === "seek") {
        seek = Number(packet.offset);
        return conn.write(encodePacket({ type: "seek_reply", offset: packet.offset }));
      }
      assert.equal(packet.type, "read");
      return conn.write(encodePacket({ type: "read_reply", data: piece(seek) }));
    };
    // The first window (window 4: two SEEK+READ pairs) is answered once the CMD waits.
    const held = [await next(), await next(), await next(), await next()];
    firstWindow.resolve();
    await cmdWaiting.promise;
    for (const packet of held) await answer(packet);
    assert.equal((await next()).type, "cmd");
    followedCmd = decoder.buffered;
    await conn.write(encodePacket({ type: "cmd_reply", output: "ok" }));
    for (let i = 0; i < 12; i++) await answer(await next());
  }, { window: 4 });
  const reading = client.read(0, 8 * 4096);
  await firstWindow.promise;
  const output = client.cmd("?V");
  cmdWaiting.resolve();
  assert.equal(await output, "ok");
  const data = await reading;
  for (let p = 0; p < 8; p++) {
    assert.deepEqual(data.subarray(p * 4096, (p + 1) * 4096), piece(p * 4096), `piece ${p}`);
  }
  assert.equal(followedCmd, 0, "bytes that followed the CMD before its reply");
  await client.close();
  await done;
});

Deno.test("CMDs waiting together each go alone on the wire, and the reads between them too", async () => {
  const firstCmd = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const wire: string[] = [];
  const followed: string[] = [];
  const { client, done } = await fakePeer(async (conn) => {
    const { decoder, next } = requestsFrom(conn);
    for (let p = await next(); p !== null; p = await next()) {
      wire.push(p.type === "cmd" ? `cmd ${p.command}` : p.type);
      if (p.type === "cmd") {
        if (wire.length === 1) {
          firstCmd.resolve();
          await release.promise; // the others queue up behind it meanwhile
        }
        if (decoder.buffered > 0) followed.push(p.command ?? "");
        await conn.write(encodePacket({ type: "cmd_reply", output: p.command }));
      } else if (p.type === "seek") {
        await conn.write(encodePacket({ type: "seek_reply", offset: p.offset }));
      } else if (p.type === "read") {
        await conn.write(encodePacket({ type: "read_reply", data: new Uint8Array(p.length) }));
      }
    }
  }, { waitForClose: false });
  const first = client.cmd("c0");
  await firstCmd.promise;
  const rest = [client.cmd("a"), client.cmd("b"), client.read(0, 10), client.cmd("c")];
  release.resolve();
  const outputs = await Promise.all([first, ...rest]);
  assert.deepEqual(outputs.filter((o) => typeof o === "string"), ["c0", "a", "b", "c"]);
  await client.close();
  await done;
  assert.deepEqual(followed, [], `wire: ${wire.join(", ")}`);
  assert.deepEqual(wire.filter((w) => w.startsWith("cmd")), ["cmd c0", "cmd a", "cmd b", "cmd c"]);
  assert.equal(wire.length, 6);
});

Deno.test("lock-step reads (window 1) from concurrent callers each get their own bytes", async () => {
  await using test = startTestServer({ defaultUri: "malloc://65536" });
  await using client = await test.connect({ window: 1 });
  const data = DATA.subarray(0, 65536);
  assert.equal(await client.write(0, data), data.length);
  const [a, b, output] = await Promise.all([
    client.read(0, 20000),
    client.read(30000, 20000),
    client.cmd("?V"),
  ]);
  assert.deepEqual(a, data.subarray(0, 20000));
  assert.deepEqual(b, data.subarray(30000, 50000));
  assert.match(output, /rap/);
});

Deno.test("commands too long for a RAP server are refused before sending", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  await assert.rejects(client.cmd("x".repeat(4095)), RangeError);
  assert.equal(await client.cmd(""), "");
});

Deno.test("rap:// opens a remote file like any other URI", async () => {
  await withDataFile(async (path) => {
    await using test = startTestServer();
    await using desc = await openUri(`rap://127.0.0.1:${test.port}/${path}`);
    assert.equal(await desc.size(), DATA.length);
    assert.deepEqual(await desc.read(DATA.length - 100, 200), DATA.subarray(DATA.length - 100));
    assert.match(await desc.system!("?V"), /rap/);
    await assert.rejects(desc.write(0, new Uint8Array(1)), /read-only/);
  });
});

Deno.test("rap:// of a remote URI (rap://h:p//malloc://N) goes through the server's IO layer", async () => {
  await using test = startTestServer();
  await using desc = await openUri(`rap://127.0.0.1:${test.port}//malloc://4096`, { write: true });
  assert.equal(await desc.write(10, new Uint8Array([1, 2, 3])), 3);
  assert.deepEqual([...await desc.read(9, 5)], [0, 1, 2, 3, 0]);
});

Deno.test("rap:// with a missing remote file is a clear IoError", async () => {
  await using test = startTestServer();
  await assert.rejects(
    openUri(`rap://127.0.0.1:${test.port}//nonexistent`),
    /Cannot open "rap:\/\/127\.0\.0\.1:\d+\/\/nonexistent": Cannot open "\/nonexistent"/,
  );
});
