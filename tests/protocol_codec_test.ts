import {
  BadLengthError,
  decodePacket,
  encodePacket,
  PacketDecoder,
  type RapPacket,
  TruncatedPacketError,
  UnknownOpcodeError,
} from "../mod.ts";
import assert from "node:assert/strict";

const EVERY_PACKET: RapPacket[] = [
  { type: "open", flags: 7, name: "/tmp/file" },
  { type: "open_reply", fd: 3 },
  { type: "open_reply", fd: -1 },
  { type: "read", length: 4096 },
  { type: "read", length: 0xffffffff },
  { type: "read_reply", data: new Uint8Array([1, 2, 3]) },
  { type: "read_reply", data: new Uint8Array(0) },
  { type: "write", data: new Uint8Array([0x90, 0x90]) },
  { type: "write_reply", result: 2 },
  { type: "seek", whence: 0, offset: 0x1000n },
  { type: "seek", whence: 2, offset: 0xfffffffffffffff0n },
  { type: "seek_reply", offset: 0xffffffffffffffffn },
  { type: "close", fd: 99 },
  { type: "close_reply", result: -1 },
  { type: "cmd", command: "?e hi" },
  { type: "cmd", command: null },
  { type: "cmd_reply", output: "hi\n" },
  { type: "cmd_reply", output: "" },
  { type: "cmd_reply", output: null },
];

Deno.test("every packet type round-trips through encode and decode", () => {
  for (const packet of EVERY_PACKET) {
    assert.deepEqual(decodePacket(encodePacket(packet)), packet, packet.type);
  }
});

Deno.test("encodePacket writes the layouts of the spec", () => {
  assert.deepEqual([...encodePacket({ type: "cmd", command: "?e hi" })], [
    0x07,
    0,
    0,
    0,
    6,
    0x3f,
    0x65,
    0x20,
    0x68,
    0x69,
    0,
  ]);
  assert.deepEqual([...encodePacket({ type: "cmd_reply", output: "" })], [0x87, 0, 0, 0, 1, 0]);
  assert.deepEqual([...encodePacket({ type: "cmd_reply", output: null })], [0x87, 0, 0, 0, 0]);
  assert.deepEqual([...encodePacket({ type: "seek", whence: 0, offset: 0x1000n })], [
    0x04,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x10,
    0,
  ]);
  assert.deepEqual([...encodePacket({ type: "write_reply", result: 4 })], [0x83, 0, 0, 0, 4]);
  assert.throws(() => encodePacket({ type: "open", flags: 0, name: "x".repeat(255) }), RangeError);
});

Deno.test("the decoder rejects unknown opcodes at once, including the old SYSTEM slot", () => {
  for (const op of [0x00, 0x06, 0x08, 0x47, 0x86, 0xff]) {
    const decoder = new PacketDecoder({ role: "server" });
    decoder.push(new Uint8Array([op]));
    assert.throws(() => decoder.next(), UnknownOpcodeError, `0x${op.toString(16)}`);
  }
  // Replies are unknown to a server and requests (but CMD) to a client.
  assert.throws(
    () => decodePacket(new Uint8Array([0x81, 0, 0, 0, 3]), { role: "server" }),
    UnknownOpcodeError,
  );
  assert.throws(
    () => decodePacket(new Uint8Array([0x02, 0, 0, 0, 3]), { role: "client" }),
    UnknownOpcodeError,
  );
});

Deno.test("the decoder rejects lengths over its limits as soon as the header arrives", () => {
  const header = (op: number, len: number) => {
    const b = new Uint8Array(5);
    b[0] = op;
    new DataView(b.buffer).setUint32(1, len);
    return b;
  };
  // WRITE: 4096 is fine (waits for the payload), 4097 and 0xffffffff are not.
  const ok = new PacketDecoder({ role: "server" });
  ok.push(header(0x03, 4096));
  assert.equal(ok.next(), undefined);
  for (const len of [4097, 0x80000000, 0xffffffff]) {
    assert.throws(
      () => new PacketDecoder({ role: "server" }).decode(header(0x03, len)),
      BadLengthError,
    );
  }
  // CMD: 4095 (NUL included) is radare2's server maximum.
  const cmd = new PacketDecoder({ role: "server" });
  cmd.push(header(0x07, 4095));
  assert.equal(cmd.next(), undefined);
  assert.throws(
    () => new PacketDecoder({ role: "server" }).decode(header(0x07, 4096)),
    BadLengthError,
  );
  assert.throws(
    () => new PacketDecoder({ role: "server" }).decode(header(0x07, 0xffffffff)),
    BadLengthError,
  );
  // READ replies over the client's payload limit.
  assert.throws(
    () => new PacketDecoder({ role: "client" }).decode(header(0x82, 4097)),
    BadLengthError,
  );
  // A READ request's length is only a number: the server decides (clamp or close).
  assert.deepEqual(new PacketDecoder({ role: "server" }).decode(header(0x02, 0xffffffff)), [
    { type: "read", length: 0xffffffff },
  ]);
});

Deno.test("OPEN with name length 0 and 255 decodes; the server decides", () => {
  assert.deepEqual(decodePacket(new Uint8Array([0x01, 0x04, 0x00])), {
    type: "open",
    flags: 4,
    name: "",
  });
  const long = new Uint8Array(3 + 255).fill(0x41);
  long.set([0x01, 0x04, 255]);
  long[257] = 0;
  const packet = decodePacket(long);
  assert.equal(packet.type === "open" && packet.name.length, 254);
});

Deno.test("a stream that ends inside a packet is a TruncatedPacketError", () => {
  const decoder = new PacketDecoder();
  decoder.push(new Uint8Array([0x04, 0x00, 0x00]));
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.finish(), TruncatedPacketError);
  assert.throws(() => decodePacket(new Uint8Array([0x82, 0, 0, 0, 9, 1])), TruncatedPacketError);
  assert.throws(
    () => decodePacket(new Uint8Array([0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0x84])),
    RangeError,
  );
});

Deno.test("payloads are views of the pushed chunk, not copies", () => {
  const chunk = new Uint8Array([0x03, 0, 0, 0, 2, 0xaa, 0xbb]);
  const [packet] = new PacketDecoder().decode(chunk);
  assert.equal(packet.type, "write");
  if (packet.type === "write") assert.equal(packet.data.buffer, chunk.buffer);
});
