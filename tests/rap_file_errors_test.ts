/**
 * A `rap://` file whose server fails (an outside peer, tests/peers/failing_rap_server.py,
 * answers SIZE, SEEK END and writes with ERROR): plain WRITE and SEEK END on it are
 * answered as RAP expects — 0 written and -1 on a plain connection, an ERROR reply once the
 * extensions are on — and the connection goes on.
 */

import { encodePackets, PacketDecoder, type RapPacket } from "../mod.ts";
import assert from "node:assert/strict";
import { rawExchange, startTestServer } from "../testing.ts";
import { HAS_PYTHON, type Peer, startPeer } from "./_peer.ts";

function decodeReplies(bytes: Uint8Array): RapPacket[] {
  const decoder = new PacketDecoder({
    role: "client",
    maxCommandReply: 1 << 20,
    extensions: 1 << 20,
  });
  const out = decoder.decode(bytes);
  decoder.finish();
  return out;
}

/**
 * On a raw connection to our server: OPEN the failing peer's file, WRITE, SEEK END, SEEK,
 * READ; `probe` first negotiates the extensions.
 */
async function exchange(peer: Peer, serverPort: number, probe: boolean) {
  const { port } = await peer.waitFor("listening");
  return await rawExchange(serverPort, requests(port as number, probe));
}

function requests(port: number, probe: boolean): Uint8Array {
  return encodePackets([
    ...(probe ? [{ type: "cmd" as const, command: "#rap-ext? 1" }] : []),
    { type: "open", flags: 7, name: `rap://127.0.0.1:${port}//failing` },
    { type: "write", data: new Uint8Array([1, 2, 3, 4]) },
    { type: "seek", whence: 2, offset: 0n },
    { type: "seek", whence: 0, offset: 0x10n },
    { type: "read", length: 4 },
  ]);
}

Deno.test({
  name:
    "plain WRITE and SEEK END on a failing rap:// file answer 0 and -1, and the connection goes on",
  ignore: !HAS_PYTHON,
  async fn() {
    await using peer = startPeer("failing_rap_server.py", []);
    await using test = startTestServer();
    const { reply, closed } = await exchange(peer, test.port, false);
    assert.ok(closed);
    assert.deepEqual(decodeReplies(reply), [
      { type: "open_reply", fd: 3 },
      { type: "write_reply", result: 0 },
      { type: "seek_reply", offset: 0xffffffffffffffffn },
      { type: "seek_reply", offset: 0x10n },
      { type: "read_reply", data: new Uint8Array(4).fill(0xff) }, // its size is unknown too
    ]);
    await test.server.close();
    const log = test.logs.join("\n");
    assert.match(log, /WRITE at 0x0 failed: Cannot write to "rap:[^"]*": .*the disk is on fire/);
    assert.match(log, /SEEK END failed: Cannot get the size of "rap:[^"]*": .*the disk is on fire/);
    assert.doesNotMatch(log, /internal error/);
    assert.match(log, /: disconnected/);
  },
});

Deno.test({
  name:
    "with the extensions on, plain WRITE and SEEK END on a failing rap:// file get ERROR replies",
  ignore: !HAS_PYTHON,
  async fn() {
    await using peer = startPeer("failing_rap_server.py", []);
    await using test = startTestServer();
    const { reply } = await exchange(peer, test.port, true);
    const replies = decodeReplies(reply);
    assert.equal(replies[0].type, "cmd_reply");
    assert.deepEqual(replies.slice(1), [
      { type: "open_reply", fd: 3 },
      { type: "error", code: 6, message: replyMessage(replies[2]) },
      { type: "error", code: 6, message: replyMessage(replies[3]) },
      { type: "seek_reply", offset: 0x10n },
      { type: "read_reply", data: new Uint8Array(4).fill(0xff) }, // its size is unknown too
    ]);
    assert.match(replyMessage(replies[2]), /^Cannot write to "rap:.*the disk is on fire/);
    assert.match(replyMessage(replies[3]), /^Cannot get the size of "rap:.*the disk is on fire/);
    await test.server.close();
    assert.doesNotMatch(test.logs.join("\n"), /internal error/);
  },
});

function replyMessage(packet: RapPacket): string {
  return packet.type === "error" ? packet.message : `not an error: ${packet.type}`;
}
