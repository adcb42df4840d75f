/**
 * A connection the server closes on a bad packet keeps the replies it was already sent.
 * Found by `deno task fuzz` (a pipelined READ_AT reply cut short): closing a socket with
 * bytes from the client still unread makes the kernel reset the connection and drop what
 * the server had sent but the client had not received yet. The server now ends its side,
 * reads and drops what the client still sends for a moment, then closes.
 */

import assert from "node:assert/strict";
import { concatBytes } from "../lib/protocol/bytes.ts";
import { PacketDecoder } from "../lib/protocol/decode.ts";
import { encodePacket } from "../lib/protocol/encode.ts";
import { lingerClose } from "../lib/net/linger.ts";
import { startTestServer } from "../testing.ts";
import { WatchedConn } from "./_fuzz_conn.ts";

Deno.test("replies sent before a fatal packet reach a pipelining client, then EOF (no reset)", async () => {
  let dropped = Promise.withResolvers<void>();
  await using test = startTestServer({
    defaultUri: "malloc://2M",
    log: (line) => {
      if (/closed: invalid READ length 4294967295/.test(line)) dropped.resolve();
    },
  });
  const maxData = 1 << 20;
  const stream = concatBytes([
    encodePacket({ type: "cmd", command: `#rap-ext? 1 maxdata=${maxData}` }),
    encodePacket({ type: "read_at", fd: -1, offset: 0n, length: maxData }),
    encodePacket({ type: "read", length: 0xffffffff }), // fatal: the server closes
    new Uint8Array(64 * 1024), // what the client had pipelined after it
  ]);
  for (let i = 0; i < 3; i++) {
    const watched = (await WatchedConn.open(test.port, 30_000))!;
    await watched.conn.write(stream);
    // Nothing is read until the server has given up on the connection.
    await dropped.promise;
    dropped = Promise.withResolvers<void>();
    const decoder = new PacketDecoder({ role: "client", extensions: maxData, maxData });
    const replies: string[] = [];
    const end = await watched.readAll((chunk) => {
      decoder.push(chunk.slice());
      for (let p; (p = decoder.next()) !== undefined;) replies.push(p.type);
    });
    watched.close();
    assert.deepEqual(replies, ["cmd_reply", "read_at_reply"], test.logs.join("\n"));
    assert.equal(end, "eof");
    decoder.finish();
  }
});

Deno.test("lingerClose: a client that never stops sending is cut after the byte limit", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = await listener.accept();
  const sending = (async () => {
    const chunk = new Uint8Array(16 * 1024);
    try {
      for (;;) await client.write(chunk);
    } catch { /* cut */ }
  })();
  await lingerClose(conn, { maxBytes: 256 * 1024, ms: 10_000 });
  await sending;
  client.close();
});
