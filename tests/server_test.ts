import {
  encodePackets,
  PacketDecoder,
  RapClient,
  type RapPacket,
  type RapRequest,
} from "../mod.ts";
import assert from "node:assert/strict";
import { rawExchange, startTestServer } from "../testing.ts";

const bytesOf = (...packets: RapRequest[]): Uint8Array => encodePackets(packets);

function decodeReplies(bytes: Uint8Array): RapPacket[] {
  const decoder = new PacketDecoder({ role: "client", maxCommandReply: 1 << 20 });
  const out = decoder.decode(bytes);
  decoder.finish();
  return out;
}

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "rap_server_test_" });
  await Deno.writeFile(path, bytes);
  return path;
}

const PATTERN = Uint8Array.from({ length: 10000 }, (_, i) => (i * 7 + 3) & 0xff);

Deno.test("RapServer answers every request type with radare2's reply layout", async () => {
  const path = await tempFile(PATTERN);
  try {
    await using test = startTestServer();
    const request = bytesOf(
      { type: "open", flags: 7, name: path },
      { type: "cmd", command: "" },
      { type: "seek", whence: 1, offset: 0n },
      { type: "seek", whence: 2, offset: 0n },
      { type: "seek", whence: 0, offset: 0x10n },
      { type: "read", length: 4 },
      { type: "read", length: 4 },
      { type: "write", data: new Uint8Array([0xaa, 0xbb]) },
      { type: "read", length: 2 },
      { type: "seek", whence: 1, offset: 0x10n },
      { type: "seek", whence: 2, offset: 0xfffffffffffffff0n },
      { type: "seek", whence: 0, offset: 9998n },
      { type: "read", length: 4 },
      { type: "read", length: 0 },
      { type: "read", length: 10000 },
      { type: "close", fd: 77 },
      { type: "close", fd: 3 },
      { type: "cmd", command: null },
    );
    const { reply } = await rawExchange(test.port, request, 4225);
    const replies = decodeReplies(reply);
    assert.deepEqual(replies.slice(0, 14), [
      { type: "open_reply", fd: 3 },
      { type: "cmd_reply", output: "" },
      { type: "seek_reply", offset: 0n },
      { type: "seek_reply", offset: 10000n },
      { type: "seek_reply", offset: 0x10n },
      { type: "read_reply", data: PATTERN.slice(0x10, 0x14) },
      { type: "read_reply", data: PATTERN.slice(0x10, 0x14) }, // READ does not move the seek
      { type: "write_reply", result: 2 }, // a byte count, not radare2's boolean
      { type: "read_reply", data: new Uint8Array([0xaa, 0xbb]) },
      { type: "seek_reply", offset: 0x20n }, // CUR adds the offset
      { type: "seek_reply", offset: 10000n - 16n }, // END adds the (negative) offset
      { type: "seek_reply", offset: 9998n },
      { type: "read_reply", data: new Uint8Array([PATTERN[9998], PATTERN[9999], 0xff, 0xff]) },
      { type: "read_reply", data: new Uint8Array(0) },
    ]);
    const big = replies[14];
    assert.equal(big.type, "read_reply");
    assert.equal(big.type === "read_reply" && big.data.length, 4096); // clamped like radare2
    assert.deepEqual(replies.slice(15), [
      { type: "close_reply", result: -1 }, // not one of the session's fds
      { type: "close_reply", result: 0 },
      { type: "cmd_reply", output: null },
    ]);
    // The write reached the file.
    const file = await Deno.readFile(path);
    assert.deepEqual([...file.subarray(0x10, 0x12)], [0xaa, 0xbb]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("RapServer replies to WRITE with 0 when the file is read-only, like radare2", async () => {
  const path = await tempFile(PATTERN.slice(0, 64));
  try {
    await using test = startTestServer();
    const { reply } = await rawExchange(
      test.port,
      bytesOf(
        { type: "open", flags: 4, name: path },
        { type: "write", data: new Uint8Array([1, 2, 3]) },
      ),
      10,
    );
    assert.deepEqual(decodeReplies(reply), [
      { type: "open_reply", fd: 3 },
      { type: "write_reply", result: 0 },
    ]);
    assert.deepEqual(await Deno.readFile(path), PATTERN.slice(0, 64));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("RapServer --read-only refuses writes even when the client asks for W", async () => {
  await using test = startTestServer({ readOnly: true });
  const { reply } = await rawExchange(
    test.port,
    bytesOf(
      { type: "open", flags: 7, name: "malloc://16" },
      { type: "write", data: new Uint8Array([1]) },
      { type: "read", length: 1 },
    ),
    16,
  );
  assert.deepEqual(decodeReplies(reply), [
    { type: "open_reply", fd: 3 },
    { type: "write_reply", result: 0 },
    { type: "read_reply", data: new Uint8Array([0]) },
  ]);
});

Deno.test("a failed OPEN closes that connection without a reply, as radare2 clients expect", async () => {
  await using test = startTestServer();
  const { reply, closed } = await rawExchange(
    test.port,
    bytesOf({ type: "open", flags: 5, name: "/nonexistent/file" }),
  );
  assert.equal(reply.length, 0);
  assert.ok(closed);
  assert.ok(
    test.logs.some((l) => /OPEN failed: Cannot open "\/nonexistent\/file": no such file/.test(l)),
  );
  // The server goes on serving.
  await using client = await test.connect();
  assert.equal(await client.cmd(""), "");
});

Deno.test("sessions without an OPEN read 0xff and see size UT64_MAX, like radare2 (recording 12)", async () => {
  await using test = startTestServer();
  const { reply } = await rawExchange(
    test.port,
    bytesOf({ type: "seek", whence: 2, offset: 0n }, { type: "read", length: 4 }),
    18,
  );
  assert.deepEqual(decodeReplies(reply), [
    { type: "seek_reply", offset: 0xffffffffffffffffn },
    { type: "read_reply", data: new Uint8Array([0xff, 0xff, 0xff, 0xff]) },
  ]);
});

Deno.test("the default URI serves sessions that read or send CMD before any OPEN", async () => {
  await using test = startTestServer({ defaultUri: "hex://00112233" });
  await using client = await test.connect();
  assert.equal(await client.size(), 4n);
  assert.deepEqual([...await client.read(1, 2)], [0x11, 0x22]);
});

Deno.test("the basic command handler answers ?V and refuses other commands with one line", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  assert.match(await client.cmd("?V"), /^\d+\.\d+\.\d+ rap/);
  assert.equal(await client.cmd("# a comment"), "");
  assert.equal(await client.cmd("pd 10"), 'Command "pd 10" is not supported by this server\n');
});

Deno.test("a URI behind one slash opens through the IO layer (rap://h:p//malloc://N form)", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  assert.equal(await client.open("/malloc://32"), 3);
  assert.equal(await client.size(), 32n);
});

Deno.test("50 concurrent clients each get their own file and seek", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_server_50_" });
  try {
    await using test = startTestServer();
    const clients = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const path = `${dir}/f${i}`;
        await Deno.writeFile(path, new Uint8Array(8192).fill(i));
        const client = await test.connect();
        return { i, path, client };
      }),
    );
    try {
      await Promise.all(clients.map(async ({ i, path, client }) => {
        assert.equal(await client.open(path, 7), 3); // fds are per session
        await client.seek(BigInt(100 + i));
        for (let round = 0; round < 5; round++) {
          const bytes = await client.read(i * 10, 5000);
          assert.ok(bytes.every((b) => b === i), `client ${i} reads its own file`);
          assert.equal(await client.seek(0n, 1), BigInt(i * 10 + 4096)); // last SEEK of the read
        }
        assert.equal(await client.write(0, new Uint8Array([0xee])), 1);
      }));
      assert.equal(test.server.connectionCount, 50);
    } finally {
      await Promise.all(clients.map(({ client }) => client.close()));
    }
    for (const { path } of clients) assert.equal((await Deno.readFile(path))[0], 0xee);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Malformed inputs, each of which must close only its own connection. */
const MALFORMED: [string, Uint8Array][] = [
  ["an unknown opcode", new Uint8Array([0x42, 0, 0, 0, 0])],
  ["the old SYSTEM opcode 6", new Uint8Array([0x06, 0, 0, 0, 1, 0])],
  ["a reply opcode from a client", new Uint8Array([0x81, 0, 0, 0, 3])],
  ["OPEN with name length 0", new Uint8Array([0x01, 0x04, 0x00])],
  [
    "OPEN with name length 255",
    Uint8Array.from([0x01, 0x04, 255, ...new Uint8Array(254).fill(0x41), 0]),
  ],
  ["READ of 0x80000000", new Uint8Array([0x02, 0x80, 0, 0, 0])],
  ["READ of 0xffffffff", new Uint8Array([0x02, 0xff, 0xff, 0xff, 0xff])],
  ["WRITE of 4097", Uint8Array.from([0x03, 0, 0, 0x10, 0x01, ...new Uint8Array(4097)])],
  ["WRITE of 0xffffffff", new Uint8Array([0x03, 0xff, 0xff, 0xff, 0xff, 1, 2])],
  ["CMD of 4096", Uint8Array.from([0x07, 0, 0, 0x10, 0x00, ...new Uint8Array(4096).fill(0x41)])],
  ["CMD of 0xffffffff", new Uint8Array([0x07, 0xff, 0xff, 0xff, 0xff, 0x41])],
  ["an unsolicited CMD reply", new Uint8Array([0x87, 0, 0, 0, 1, 0])],
  ["a truncated SEEK", new Uint8Array([0x04, 0, 0, 0])],
];

Deno.test("malformed input closes only that connection, with a logged reason", async () => {
  await using test = startTestServer({ defaultUri: "malloc://64" });
  await using good = await test.connect();
  for (const [what, bytes] of MALFORMED) {
    const { closed } = await rawExchange(test.port, bytes);
    assert.ok(closed, `${what}: the connection is closed`);
    // The well-behaved client on another connection is still served.
    assert.deepEqual([...await good.read(0, 2)], [0, 0], `${what}: others still served`);
  }
  const reasons = test.logs.filter((l) => /closed: /.test(l));
  assert.ok(reasons.length >= MALFORMED.length - 1, reasons.join("\n"));
  assert.ok(test.logs.some((l) => /Unknown RAP opcode 0x42/.test(l)));
  assert.ok(test.logs.some((l) => /invalid READ length 4294967295/.test(l)));
  assert.ok(test.logs.some((l) => /Bad RAP payload length 4097/.test(l)));
  assert.ok(test.logs.some((l) => /Bad RAP command length 4096/.test(l)));
  assert.ok(test.logs.some((l) => /Truncated RAP packet 0x04/.test(l)));
});

Deno.test("lengths at the limits are served: READ 4096, WRITE 4096, CMD 4095", async () => {
  await using test = startTestServer({ defaultUri: "malloc://8192" });
  const cmd = "#" + "A".repeat(4093); // 4094 characters + NUL = 4095
  const { reply } = await rawExchange(
    test.port,
    bytesOf(
      { type: "write", data: new Uint8Array(4096).fill(7) },
      { type: "read", length: 4096 },
      { type: "cmd", command: cmd },
    ),
    5 + 4101 + 6,
  );
  const replies = decodeReplies(reply);
  assert.deepEqual(replies[0], { type: "write_reply", result: 4096 });
  assert.deepEqual(replies[1], { type: "read_reply", data: new Uint8Array(4096).fill(7) });
  assert.deepEqual(replies[2], { type: "cmd_reply", output: "" });
});

Deno.test("max connections: connections over the limit are closed at once and logged", async () => {
  await using test = startTestServer({ maxConnections: 2 });
  await using a = await test.connect();
  await using b = await test.connect();
  assert.equal(await a.cmd(""), "");
  assert.equal(await b.cmd(""), "");
  const { closed } = await rawExchange(test.port, bytesOf({ type: "cmd", command: "" }));
  assert.ok(closed);
  assert.ok(test.logs.some((l) => /refused, 2 connections already open/.test(l)));
});

Deno.test("idle timeout closes a silent connection and logs it", async () => {
  await using test = startTestServer({ idleTimeout: 50 });
  const { closed } = await rawExchange(test.port, new Uint8Array(0), Infinity, false);
  assert.ok(closed);
  assert.ok(test.logs.some((l) => /closed after 50 ms idle/.test(l)));
});

Deno.test("a reverse CMD reaches the client while it waits for its CMD reply", async () => {
  await using test = startTestServer({
    commandHandler: async (command, context) => {
      const answer = await context.reverseCommand(`?e from server: ${command}`);
      return `client said: ${answer}`;
    },
  });
  const seen: string[] = [];
  await using client = await test.connect({
    onReverseCommand: (command) => {
      seen.push(command);
      return "pong\n";
    },
  });
  assert.equal(await client.cmd("ping"), "client said: pong\n");
  assert.deepEqual(seen, ["?e from server: ping"]);
});

Deno.test("closing the server ends every connection; clients see a typed error", async () => {
  const test = startTestServer({ defaultUri: "malloc://16" });
  const client = await RapClient.connect({ hostname: "127.0.0.1", port: test.port });
  assert.equal(await client.size(), 16n);
  await test.server.close();
  await assert.rejects(client.read(0, 4), /closed/);
  await client.close();
});
