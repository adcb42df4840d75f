import { decodePacket, encodePacket, PacketDecoder } from "../mod.ts";
import assert from "node:assert/strict";
import { loadRecordings } from "./_recordings.ts";

const LIMITS = { role: "any", maxData: 1 << 20, maxCommand: 1 << 20 } as const;

Deno.test("every packet of every radare2 recording decodes and re-encodes byte for byte", async () => {
  const recordings = await loadRecordings();
  assert.ok(recordings.length >= 15, "the recordings are beside the project in ../shared/r2-wire");
  let whole = 0;
  let elided = 0;
  for (const { name, packets } of recordings) {
    assert.ok(packets.length > 0, `${name} has packets`);
    for (const [i, packet] of packets.entries()) {
      const where = `${name} packet ${i} (${packet.direction})`;
      if (packet.elided) {
        // The dump kept only the start: it must decode as an incomplete packet, no error.
        const decoder = new PacketDecoder(LIMITS);
        decoder.push(packet.bytes);
        assert.equal(decoder.next(), undefined, where);
        elided++;
        continue;
      }
      const decoded = decodePacket(packet.bytes, LIMITS);
      assert.deepEqual([...encodePacket(decoded)], [...packet.bytes], where);
      whole++;
    }
  }
  assert.ok(whole > 900, `decoded ${whole} whole packets`);
  assert.equal(elided, 5);
});

Deno.test("the recordings decode as one stream per direction, split at every byte boundary", async () => {
  const recordings = await loadRecordings();
  const eleven = recordings.find((r) => r.name.startsWith("11-"))!;
  for (const direction of [">", "<"] as const) {
    const packets = eleven.packets.filter((p) => p.direction === direction);
    const stream = new Uint8Array(packets.reduce((n, p) => n + p.bytes.length, 0));
    let at = 0;
    for (const p of packets) {
      stream.set(p.bytes, at);
      at += p.bytes.length;
    }
    const decoder = new PacketDecoder({
      role: direction === ">" ? "server" : "client",
      maxCommandReply: 1 << 20,
    });
    const out = [];
    for (let i = 0; i < stream.length; i += 7) {
      out.push(...decoder.decode(stream.subarray(i, i + 7)));
    }
    decoder.finish();
    assert.equal(out.length, packets.length);
    assert.deepEqual(out.map((p) => [...encodePacket(p)]), packets.map((p) => [...p.bytes]));
  }
});

Deno.test("recorded OPEN, CMD and SEEK packets decode to the fields radare2 sent", async () => {
  const recordings = await loadRecordings();
  const first = recordings.find((r) => r.name.startsWith("01-"))!;
  assert.deepEqual(decodePacket(first.packets[0].bytes), {
    type: "open",
    flags: 5,
    name: "/bin/ls",
  });
  assert.deepEqual(decodePacket(first.packets[1].bytes), { type: "open_reply", fd: 4 });
  assert.deepEqual(decodePacket(first.packets[2].bytes), { type: "cmd", command: "" });
  assert.deepEqual(decodePacket(first.packets[3].bytes), { type: "cmd_reply", output: "" });
  const five = recordings.find((r) => r.name.startsWith("05-"))!;
  const hello = five.packets.find((p) =>
    p.direction === "<" && new TextDecoder().decode(p.bytes).includes("hello")
  )!;
  assert.deepEqual(decodePacket(hello.bytes), { type: "cmd_reply", output: "hello\n" });
  const three = recordings.find((r) => r.name.startsWith("03-"))!;
  const max = three.packets.find((p) => p.bytes[0] === 0x84 && p.bytes[1] === 0xff)!;
  assert.deepEqual(decodePacket(max.bytes), { type: "seek_reply", offset: 0xffffffffffffffffn });
});
