import {
  decodePacket,
  encodePacket,
  encodePackets,
  EXT_MAX_DATA,
  ExtErrorCode,
  formatOffer,
  IoRegistry,
  openUri,
  PacketDecoder,
  parseOffer,
  parseProbe,
  RapClient,
  RapConnectionError,
  RapProtocolError,
  RapRemoteError,
  type RapRequest,
  UnknownOpcodeError,
} from "../mod.ts";
import assert from "node:assert/strict";
import { memoryPlugin, rawExchange, startTestServer } from "../testing.ts";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

const bytesOf = (...packets: RapRequest[]): Uint8Array => encodePackets(packets);

function replies(bytes: Uint8Array) {
  const decoder = new PacketDecoder({ role: "client", extensions: EXT_MAX_DATA });
  const out = decoder.decode(bytes);
  decoder.finish();
  return out;
}

const PROBE = { type: "cmd", command: "#rap-ext? 1" } as const;
const DATA = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 31 + (i >> 12)) & 0xff);

// ---- wire layouts ---------------------------------------------------------------------

Deno.test("extended packets have the byte layouts of docs/protocol.md", () => {
  const cases: [Parameters<typeof encodePacket>[0], string][] = [
    [
      { type: "read_at", fd: 3, offset: 0x1000n, length: 16 },
      "11 00 00 00 03 00 00 00 00 00 00 10 00 00 00 00 10",
    ],
    [{ type: "read_at_reply", data: new Uint8Array([0xaa, 0xbb]) }, "91 00 00 00 02 aa bb"],
    [
      { type: "write_at", fd: -1, offset: 2n, data: new Uint8Array([1]) },
      "12 ff ff ff ff 00 00 00 00 00 00 00 02 00 00 00 01 01",
    ],
    [{ type: "write_at_reply", result: 1 }, "92 00 00 00 01"],
    [{ type: "size", fd: 4 }, "13 00 00 00 04"],
    [{ type: "size_reply", size: 0xffffffffffffffffn }, "93 ff ff ff ff ff ff ff ff"],
    [{ type: "error", code: 3, message: "no" }, "ff 00 00 00 03 00 00 00 02 6e 6f"],
  ];
  for (const [packet, wire] of cases) {
    assert.equal(hex(encodePacket(packet)), wire, packet.type);
    assert.deepEqual(decodePacket(encodePacket(packet), { extensions: EXT_MAX_DATA }), packet);
  }
});

Deno.test("decoders refuse extended opcodes until the extensions are enabled", () => {
  const readAt = encodePacket({ type: "read_at", fd: 3, offset: 0n, length: 8 });
  assert.throws(() => decodePacket(readAt, { role: "server" }), UnknownOpcodeError);
  assert.throws(() => decodePacket(readAt), UnknownOpcodeError);
  const error = encodePacket({ type: "error", code: 1, message: "x" });
  assert.throws(() => decodePacket(error, { role: "client" }), UnknownOpcodeError);
  // After negotiation: accepted, with the negotiated payload limit.
  const decoder = new PacketDecoder({ role: "server" });
  decoder.enableExtensions(1 << 20);
  assert.equal(decoder.decode(readAt)[0].type, "read_at");
  const write = encodePacket({
    type: "write_at",
    fd: 3,
    offset: 0n,
    data: new Uint8Array((1 << 20) + 1),
  });
  assert.throws(() => decoder.decode(write.subarray(0, 17)), /limit 1048576/);
});

Deno.test("the probe and the offer parse as documented; anything else means plain RAP", () => {
  assert.deepEqual(parseProbe("#rap-ext? 1 maxdata=65536 token=s3cr3t"), {
    version: 1,
    params: { maxdata: "65536", token: "s3cr3t" },
  });
  assert.equal(parseProbe("#rap-ext?x"), undefined);
  assert.equal(parseProbe("#rap-ext? one"), undefined);
  const offer = parseOffer("#rap-ext 1 maxdata=8388608 ops=readat,writeat,size,error future=1\n");
  assert.deepEqual(offer, {
    version: 1,
    maxData: 8388608,
    ops: ["readat", "writeat", "size", "error"],
    params: { future: "1" },
  });
  assert.equal(
    formatOffer(offer!),
    "#rap-ext 1 maxdata=8388608 ops=readat,writeat,size,error future=1\n",
  );
  for (const plain of ["", null, "Command not found\n", "#rap-ext", "#rap-ext x", "#rap-exts 1"]) {
    assert.equal(parseOffer(plain), undefined, JSON.stringify(plain));
  }
  // Limits from a peer are clamped to sane values.
  assert.equal(parseOffer("#rap-ext 1 maxdata=1")!.maxData, 4096);
  assert.equal(parseOffer("#rap-ext 1 maxdata=99999999999")!.maxData, 1 << 28);
});

// ---- the server, on the wire ----------------------------------------------------------

Deno.test("the server answers the probe with its offer, then serves extended requests", async () => {
  await using test = startTestServer();
  const { reply } = await rawExchange(
    test.port,
    bytesOf(
      PROBE,
      { type: "open", flags: 6, name: "malloc://64" },
      { type: "write_at", fd: 3, offset: 8n, data: new Uint8Array([1, 2, 3]) },
      { type: "read_at", fd: 3, offset: 6n, length: 6 },
      { type: "read_at", fd: 3, offset: 62n, length: 100 },
      { type: "size", fd: 3 },
    ),
  );
  const [offer, open, written, read, tail, size] = replies(reply);
  assert.deepEqual(offer, {
    type: "cmd_reply",
    output: "#rap-ext 1 maxdata=8388608 ops=readat,writeat,size,error\n",
  });
  assert.deepEqual(open, { type: "open_reply", fd: 3 });
  assert.deepEqual(written, { type: "write_at_reply", result: 3 });
  assert.deepEqual(read, { type: "read_at_reply", data: new Uint8Array([0, 0, 1, 2, 3, 0]) });
  // Short only at the end of the data: nothing is padded on the wire.
  assert.deepEqual(tail, { type: "read_at_reply", data: new Uint8Array(2) });
  assert.deepEqual(size, { type: "size_reply", size: 64n });
  assert.ok(test.logs.some((l) => /extensions on \(maxdata 8388608\)/.test(l)));
});

Deno.test("an extended request before the probe closes the connection, as radare2 would", async () => {
  await using test = startTestServer({ defaultUri: "malloc://16" });
  const readAt = new Uint8Array([0x11, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
  const { reply, closed } = await rawExchange(test.port, readAt);
  assert.ok(closed);
  assert.equal(reply.length, 0);
  assert.ok(test.logs.some((l) => /Unknown RAP opcode 0x11/.test(l)));
});

const memRegistry = () =>
  new IoRegistry([memoryPlugin("mem", new Uint8Array([0x00, 0x11, 0x22, 0x33]))]);

Deno.test("failures are error replies and the connection goes on", async () => {
  await using test = startTestServer({ registry: memRegistry() });
  const { reply, closed } = await rawExchange(
    test.port,
    bytesOf(
      PROBE,
      { type: "open", flags: 4, name: "/nonexistent/rap-test-file" },
      { type: "open", flags: 4, name: "mem://" }, // read-only
      { type: "read_at", fd: 9, offset: 0n, length: 4 },
      { type: "write_at", fd: 3, offset: 0n, data: new Uint8Array([7]) },
      { type: "read_at", fd: 3, offset: 0n, length: EXT_MAX_DATA + 1 },
      { type: "read_at", fd: 3, offset: 1n << 60n, length: 1 },
      { type: "size", fd: 42 },
      { type: "read_at", fd: -1, offset: 1n, length: 2 },
    ),
  );
  assert.ok(closed); // only because rawExchange half-closed its side
  const got = replies(reply);
  const codes = got.map((p) => p.type === "error" ? p.code : p.type);
  assert.deepEqual(codes, [
    "cmd_reply",
    ExtErrorCode.OPEN_FAILED,
    "open_reply",
    ExtErrorCode.BAD_FD,
    ExtErrorCode.READ_ONLY,
    ExtErrorCode.TOO_LONG,
    ExtErrorCode.BAD_REQUEST,
    ExtErrorCode.BAD_FD,
    "read_at_reply",
  ]);
  assert.match((got[1] as { message: string }).message, /nonexistent/);
  assert.match((got[3] as { message: string }).message, /fd 9/);
  assert.deepEqual(got.at(-1), { type: "read_at_reply", data: new Uint8Array([0x11, 0x22]) });
});

Deno.test("an extended WRITE over maxdata gets an error reply, then the connection closes", async () => {
  await using test = startTestServer({ extensions: { maxData: 65536 } });
  const header = encodePacket({ type: "write_at", fd: 3, offset: 0n, data: new Uint8Array(0) });
  new DataView(header.buffer).setUint32(13, 65537);
  const request = new Uint8Array([...bytesOf({ type: "cmd", command: "#rap-ext? 1" }), ...header]);
  const { reply, closed } = await rawExchange(test.port, request);
  assert.ok(closed);
  const [offer, error] = replies(reply);
  assert.match((offer as { output: string }).output, /maxdata=65536/);
  assert.equal((error as { code: number }).code, ExtErrorCode.TOO_LONG);
  assert.ok(test.logs.some((l) => /Bad RAP payload length 65537/.test(l)));
});

Deno.test("a server with extensions off answers the probe like radare2 (empty)", async () => {
  await using test = startTestServer({ extensions: false, defaultUri: "malloc://16" });
  const { reply } = await rawExchange(test.port, bytesOf(PROBE), 6);
  assert.equal(hex(reply), "87 00 00 00 01 00"); // radare2's answer to a # comment
  await using client = await test.connect({ extensions: true });
  assert.equal(client.extensions, undefined);
  assert.deepEqual([...await client.read(0, 2)], [0, 0]);
});

Deno.test("the probe's maxdata lowers the server's limit for that connection", async () => {
  await using test = startTestServer();
  await using client = await test.connect({ extensions: { maxData: 65536 } });
  assert.deepEqual(client.extensions, {
    version: 1,
    maxData: 65536,
    ops: ["readat", "writeat", "size", "error"],
  });
  await client.open("malloc://300000", 6);
  const data = DATA.subarray(0, 300000);
  assert.equal(await client.write(0, data), data.length);
  assert.deepEqual(await client.read(0, data.length), data);
});

// ---- the client -----------------------------------------------------------------------

Deno.test("one connection reads and writes several files by fd (the seed's multi-file bug)", async () => {
  await using test = startTestServer();
  await using client = await test.connect({ extensions: true });
  const a = await client.open("malloc://4096", 6);
  const b = await client.open("hex://cafebabe", 4);
  const c = await client.open("malloc://100", 6);
  await client.write(0, new Uint8Array([1, 2, 3]), a);
  await client.write(10, new Uint8Array([9]), c);
  const [ra, rb, rc] = await Promise.all([
    client.read(0, 4, a),
    client.read(1, 2, b),
    client.read(9, 3, c),
  ]);
  assert.deepEqual([...ra], [1, 2, 3, 0]);
  assert.deepEqual([...rb], [0xfe, 0xba]);
  assert.deepEqual([...rc], [0, 9, 0]);
  assert.deepEqual(
    await Promise.all([client.size(a), client.size(b), client.size(c)]),
    [4096n, 4n, 100n],
  );
  // Past the end, the client pads like plain RAP does.
  assert.deepEqual([...await client.read(3, 3, b)], [0xbe, 0xff, 0xff]);
  assert.equal(await client.closeFile(b), 0);
  await assert.rejects(client.read(0, 1, b), (e) => e instanceof RapRemoteError && e.code === 3);
  assert.deepEqual([...await client.read(0, 1, a)], [1]); // still usable
});

Deno.test("on plain RAP, an fd other than the last opened is refused before sending", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  const a = await client.open("malloc://16", 6);
  const b = await client.open("malloc://16", 6);
  assert.deepEqual([...await client.read(0, 1, b)], [0]);
  await assert.rejects(client.read(0, 1, a), /plain RAP/);
});

Deno.test("large extended reads and writes round-trip, split into pieces and streamed", async () => {
  await using test = startTestServer();
  await using client = await test.connect({ extensions: true });
  await client.open(`malloc://${DATA.length}`, 6);
  assert.equal(await client.write(0, DATA), DATA.length);
  assert.deepEqual(await client.read(0, DATA.length), DATA);
  const into = new Uint8Array(DATA.length - 12345);
  assert.equal(await client.readInto(12345, into), into);
  assert.deepEqual(into, DATA.subarray(12345));
});

Deno.test("with extensions, a failed OPEN is an error and the client stays connected", async () => {
  await using test = startTestServer();
  await using client = await test.connect({ extensions: true });
  await assert.rejects(
    client.open("/nonexistent/rap-ext-test"),
    (e) =>
      e instanceof RapRemoteError && e.code === ExtErrorCode.OPEN_FAILED &&
      /Cannot open "\/nonexistent\/rap-ext-test"/.test(e.message),
  );
  assert.ok(client.connected);
  await client.open("hex://01");
  assert.deepEqual([...await client.read(0, 1)], [1]);
});

Deno.test("writes to a read-only file are refused with a typed error", async () => {
  await using test = startTestServer({ registry: memRegistry() });
  await using client = await test.connect({ extensions: true });
  await client.open("mem://", 4);
  await assert.rejects(
    client.write(0, new Uint8Array([9])),
    (e) => e instanceof RapRemoteError && e.code === ExtErrorCode.READ_ONLY,
  );
});

/** A fake radare2 server: answers CMD with radare2's empty reply and checks every opcode. */
function fakeRadare2(options: { answerProbe: "at-once" | "late" }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: number[] = [];
  const done = (async () => {
    const conn = await listener.accept();
    const decoder = new PacketDecoder({ role: "server" });
    const buf = new Uint8Array(65536);
    let heldProbe = false;
    const out: Uint8Array[] = [];
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        for (const packet of decoder.decode(buf.slice(0, n))) {
          seen.push(encodePacket(packet as RapRequest)[0]);
          if (packet.type === "cmd") {
            if (options.answerProbe === "late" && !heldProbe) {
              heldProbe = true; // answer it when the next request comes
              continue;
            }
            out.push(new Uint8Array([0x87, 0, 0, 0, 1, 0]));
          } else {
            if (heldProbe) {
              out.push(new Uint8Array([0x87, 0, 0, 0, 1, 0]));
              heldProbe = false;
            }
            if (packet.type === "open") out.push(new Uint8Array([0x81, 0, 0, 0, 4]));
            if (packet.type === "seek") {
              out.push(encodePacket({ type: "seek_reply", offset: packet.offset }));
            }
            if (packet.type === "read") {
              out.push(
                encodePacket({
                  type: "read_reply",
                  data: new Uint8Array(packet.length).fill(0x41),
                }),
              );
            }
          }
        }
        for (const chunk of out.splice(0)) await conn.write(chunk);
      }
    } finally {
      conn.close();
      listener.close();
    }
  })();
  return { port: listener.addr.port, seen, done };
}

Deno.test("a radare2 server answers the probe with an empty string: the client stays plain", async () => {
  const peer = fakeRadare2({ answerProbe: "at-once" });
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: peer.port,
    extensions: true,
  });
  assert.equal(client.extensions, undefined);
  await client.open("/bin/ls");
  assert.deepEqual(await client.read(0, 5000), new Uint8Array(5000).fill(0x41));
  await client.close();
  await peer.done;
  assert.deepEqual([...new Set(peer.seen)].sort(), [0x01, 0x02, 0x04, 0x07]);
});

Deno.test("a peer that does not answer the probe in time is taken as plain radare2", async () => {
  const peer = fakeRadare2({ answerProbe: "late" });
  const client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: peer.port,
    extensions: { probeTimeout: 50 },
  });
  assert.equal(client.extensions, undefined);
  // The late answer is matched to the probe; the next requests get their own replies.
  await client.open("/bin/ls");
  assert.deepEqual(await client.read(0, 3), new Uint8Array(3).fill(0x41));
  await client.close();
  await peer.done;
  assert.ok(!peer.seen.some((op) => op >= 0x10), "no extended opcode reached the peer");
});

Deno.test("the rap:// plugin uses the extensions when the server offers them, and plain RAP otherwise", async () => {
  for (const extensions of [true, false]) {
    await using test = startTestServer({ extensions });
    await using desc = await openUri(`rap://127.0.0.1:${test.port}//malloc://5000000`, {
      write: true,
    });
    const data = DATA.subarray(0, 5000000);
    assert.equal(await desc.write(0, data), data.length);
    assert.deepEqual(await desc.read(0, data.length), data);
    assert.equal(await desc.size(), 5000000);
    assert.equal(
      test.logs.some((l) => /extensions on/.test(l)),
      extensions,
      `extensions ${extensions}`,
    );
  }
});

Deno.test("a typed error tells a closed connection from an error reply", async () => {
  await using test = startTestServer({ defaultUri: "malloc://16" });
  const client = await test.connect({ extensions: true });
  await test.server.close();
  await assert.rejects(client.read(0, 4), (e) => e instanceof RapConnectionError);
  await client.close();
  assert.ok(!(new RapRemoteError(1, "x") instanceof RapProtocolError));
});

Deno.test("the worked example of docs/protocol.md is what the server sends, byte for byte", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));
  const example = doc.slice(doc.indexOf("## Worked example"));
  const block = example.slice(example.indexOf("```\n") + 4, example.indexOf("\n```", 20));
  const wire = (direction: string) => {
    const out: number[] = [];
    for (const line of block.split("\n").filter((l) => l.startsWith(direction))) {
      for (
        const token of line.slice(3).split(";")[0].matchAll(
          /"((?:[^"\\]|\\.)*)"|\b([0-9a-f]{2})\b/g,
        )
      ) {
        if (token[2] !== undefined) out.push(parseInt(token[2], 16));
        else {
          const text = token[1].replace(/\\n/g, "\n").replace(/\\0/g, "\0");
          out.push(...new TextEncoder().encode(text));
        }
      }
    }
    return new Uint8Array(out);
  };
  const request = wire(">>");
  const expected = wire("<<");
  await using test = startTestServer();
  const { reply } = await rawExchange(test.port, request, expected.length);
  assert.equal(hex(reply), hex(expected));
});
