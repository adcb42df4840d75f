import { type IoDescriptor, IoError } from "../mod.ts";
import assert from "node:assert/strict";
import {
  decodeGdbRle,
  encodeGdbPacket,
  encodeGdbRle,
  escapeGdbBinary,
  fromHex,
  gdbChecksum,
  GdbPacketDecoder,
  latin1Bytes,
  latin1Text,
  toHex,
  unescapeGdbBinary,
} from "../lib/gdb/codec.ts";
import gdb, { GdbDescriptor } from "../plugins/gdb.ts";
import { findOnPath } from "./_debug_tools.ts";

// ---------------------------------------------------------------------------------------
// The codec, in pure code
// ---------------------------------------------------------------------------------------

Deno.test("encodeGdbPacket() frames a payload with its two-digit checksum", () => {
  assert.equal(latin1Text(encodeGdbPacket("m0,4")), "$m0,4#fd");
  assert.equal(latin1Text(encodeGdbPacket("")), "$#00");
  assert.equal(gdbChecksum(latin1Bytes("qSupported")), 0x37);
});

Deno.test("escapeGdbBinary() escapes # $ } * with XOR 0x20 and unescape inverts it", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const escaped = escapeGdbBinary(all);
  assert.equal(escaped.length, 256 + 4);
  for (const special of [0x23, 0x24, 0x2a, 0x7d]) {
    const i = escaped.indexOf(special ^ 0x20, 0);
    assert.ok(i >= 0);
  }
  assert.ok(!escaped.includes(0x23) && !escaped.includes(0x24) && !escaped.includes(0x2a));
  assert.deepEqual([...escapeGdbBinary(latin1Bytes("a}b"))], [...latin1Bytes("a}]b")]);
  assert.deepEqual(unescapeGdbBinary(escaped), all);
  assert.throws(() => unescapeGdbBinary(latin1Bytes("ab}")), SyntaxError);
});

Deno.test("decodeGdbRle() expands X*c into X plus c-29 copies", () => {
  assert.equal(latin1Text(decodeGdbRle(latin1Bytes("0* "))), "0000");
  assert.equal(latin1Text(decodeGdbRle(latin1Bytes('ab*"c'))), "abbbbbbc");
  assert.equal(latin1Text(decodeGdbRle(latin1Bytes("plain"))), "plain");
  assert.throws(() => decodeGdbRle(latin1Bytes("*!")), SyntaxError);
  assert.throws(() => decodeGdbRle(latin1Bytes("a*")), SyntaxError);
});

Deno.test("encodeGdbRle() output decodes back and never uses # or $ as a count", () => {
  for (let run = 1; run < 300; run++) {
    const text = latin1Bytes("12" + "f".repeat(run) + "0");
    const encoded = encodeGdbRle(text);
    assert.ok(!encoded.includes(0x23) && !encoded.includes(0x24), `run ${run}`);
    assert.deepEqual(decodeGdbRle(encoded), text, `run ${run}`);
  }
});

Deno.test("GdbPacketDecoder finds acks, naks and packets split across chunks", () => {
  const decoder = new GdbPacketDecoder();
  const wire = latin1Bytes("noise+-$OK#9a\x03$E01#a6");
  const events = [];
  for (const b of wire) events.push(...decoder.push(new Uint8Array([b])));
  assert.deepEqual(events.map((e) => e.type), ["ack", "nak", "packet", "interrupt", "packet"]);
  const packets = events.flatMap((e) => e.type === "packet" ? [e] : []);
  assert.equal(latin1Text(packets[0].payload), "OK");
  assert.ok(packets[0].checksumOk && packets[1].checksumOk);
  assert.equal(latin1Text(packets[1].payload), "E01");
});

Deno.test("GdbPacketDecoder flags a packet whose checksum does not match", () => {
  const [event] = new GdbPacketDecoder().push(latin1Bytes("$OK#00"));
  assert.equal(event.type, "packet");
  assert.equal(event.type === "packet" && event.checksumOk, false);
});

Deno.test("hex helpers round-trip bytes and reject bad hex", () => {
  const bytes = Uint8Array.from([0, 1, 0x7f, 0x80, 0xff]);
  assert.equal(toHex(bytes), "00017f80ff");
  assert.deepEqual(fromHex("00017F80FF"), bytes);
  assert.throws(() => fromHex("0g"), SyntaxError);
});

// ---------------------------------------------------------------------------------------
// A scripted stub on a real socket, for what gdbserver never does
// ---------------------------------------------------------------------------------------

interface FakeStubOptions {
  /** The qSupported reply. */
  features?: string;
  /** Nak this many packets (the first ones received) before accepting them. */
  naks?: number;
  /** Send the first reply with a wrong checksum. */
  corruptFirstReply?: boolean;
  /** Answer X with an empty reply (unsupported). */
  noBinaryWrites?: boolean;
  /** Run-length encode replies. */
  rle?: boolean;
  /** Where the stub's memory starts. */
  base?: number;
  /** Its size. */
  size?: number;
}

class FakeStub implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  readonly memory: Uint8Array;
  readonly base: number;
  /** Every packet payload received, as text. */
  readonly log: string[] = [];
  /** Raw bytes the stub sent, for checking acks. */
  readonly options: FakeStubOptions;
  readonly done: Promise<void>;
  #noAck = false;

  constructor(options: FakeStubOptions = {}) {
    this.options = options;
    this.base = options.base ?? 0x1000;
    this.memory = Uint8Array.from({ length: options.size ?? 0x2000 }, (_, i) => i & 0xff);
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.done = this.#serve();
  }

  get uri(): string {
    return `gdb://127.0.0.1:${this.listener.addr.port}`;
  }

  async #serve(): Promise<void> {
    using conn = await this.listener.accept();
    conn.setNoDelay(true);
    const decoder = new GdbPacketDecoder();
    const buf = new Uint8Array(65536);
    let naks = this.options.naks ?? 0;
    let corrupt = this.options.corruptFirstReply ?? false;
    let lastReply: Uint8Array | undefined;
    const send = async (bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) done += await conn.write(bytes.subarray(done));
    };
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      for (const event of decoder.push(buf.subarray(0, n))) {
        if (event.type === "nak" && lastReply) {
          await send(lastReply);
          continue;
        }
        if (event.type !== "packet") continue;
        if (!this.#noAck) {
          if (naks > 0) {
            naks--;
            await send(latin1Bytes("-"));
            continue;
          }
          await send(latin1Bytes("+"));
        }
        const text = latin1Text(event.payload);
        this.log.push(text);
        const replies = this.#answer(text, event.payload);
        for (const reply of replies) {
          let body = latin1Bytes(reply);
          if (this.options.rle) body = encodeGdbRle(body);
          lastReply = encodeGdbPacket(body);
          if (corrupt) {
            corrupt = false;
            const bad = lastReply.slice();
            bad[bad.length - 1] = bad[bad.length - 1] === 0x30 ? 0x31 : 0x30;
            await send(bad);
          } else {
            await send(lastReply);
          }
        }
        if (text === "QStartNoAckMode") this.#noAck = true;
        if (text.startsWith("D")) return;
      }
    }
  }

  #answer(text: string, raw: Uint8Array): string[] {
    const inRange = (a: number, l: number) =>
      a >= this.base && a + l <= this.base + this.memory.length;
    if (text.startsWith("qSupported")) return [this.options.features ?? "PacketSize=400"];
    if (text === "QStartNoAckMode") return ["OK"];
    if (text === "?") return ["S05"];
    if (text === "qC") return ["QC2a"];
    if (text === "qAttached") return ["1"];
    if (text.startsWith("D")) return ["OK"];
    let m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(text);
    if (m) {
      const [a, l] = [parseInt(m[1], 16), parseInt(m[2], 16)];
      if (!inRange(a, l)) return ["E14"];
      return [toHex(this.memory.subarray(a - this.base, a - this.base + l))];
    }
    m = /^([XM])([0-9a-f]+),([0-9a-f]+):/.exec(text);
    if (m) {
      if (m[1] === "X" && this.options.noBinaryWrites) return [""];
      const [a, l] = [parseInt(m[2], 16), parseInt(m[3], 16)];
      if (!inRange(a, l)) return ["E0e"];
      const data = m[1] === "X"
        ? unescapeGdbBinary(raw.subarray(m[0].length))
        : fromHex(text.slice(m[0].length));
      assert.equal(data.length, l);
      this.memory.set(data, a - this.base);
      return ["OK"];
    }
    if (text.startsWith("qRcmd,")) {
      const command = new TextDecoder().decode(fromHex(text.slice(6)));
      return [
        "O" + toHex(new TextEncoder().encode(`you said `)),
        "O" + toHex(new TextEncoder().encode(`${command}\n`)),
        "OK",
      ];
    }
    return [""];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // closed already
    }
    await this.done;
  }
}

Deno.test("gdb:// retransmits a packet the stub answers with '-' and acks in ack mode", async () => {
  await using stub = new FakeStub({ naks: 2 });
  {
    await using desc = await GdbDescriptor.open(stub.uri);
    assert.deepEqual([...await desc.read(0x1010, 4)], [0x10, 0x11, 0x12, 0x13]);
  }
  assert.deepEqual(stub.log, [
    "qSupported:multiprocess+;swbreak+;xmlRegisters=i386,arm",
    "?",
    "qC",
    "qAttached",
    "m1010,4",
    "D",
  ]);
});

Deno.test("gdb:// naks a reply with a bad checksum and takes the resent one", async () => {
  await using stub = new FakeStub({ corruptFirstReply: true });
  await using desc = await GdbDescriptor.open(stub.uri);
  assert.equal(desc.packetSize, 0x400);
  assert.deepEqual([...await desc.read(0x1000, 2)], [0, 1]);
});

Deno.test("gdb:// switches acks off with QStartNoAckMode when the stub offers it", async () => {
  await using stub = new FakeStub({ features: "PacketSize=1000;QStartNoAckMode+" });
  await using desc = await GdbDescriptor.open(stub.uri);
  assert.deepEqual([...await desc.read(0x1100, 3)], [0, 1, 2]);
  assert.equal(stub.log[1], "QStartNoAckMode");
  assert.equal(desc.pid, 0x2a);
});

Deno.test("gdb:// decodes run-length encoded memory replies", async () => {
  await using stub = new FakeStub({ rle: true });
  stub.memory.fill(0, 0, 64);
  await using desc = await GdbDescriptor.open(stub.uri);
  assert.deepEqual(await desc.read(0x1000, 64), new Uint8Array(64));
  assert.deepEqual([...await desc.read(0x103e, 4)], [0, 0, 0x40, 0x41]);
});

Deno.test("gdb:// splits reads and writes to fit the stub's PacketSize", async () => {
  await using stub = new FakeStub({ features: "PacketSize=40" });
  await using desc = await GdbDescriptor.open(stub.uri, { write: true });
  const bytes = await desc.read(0x1000, 100);
  assert.deepEqual(bytes, stub.memory.slice(0, 100));
  const reads = stub.log.filter((p) => p.startsWith("m"));
  assert.ok(reads.length >= 4, `${reads.length} reads`);
  for (const p of reads) assert.ok(encodeGdbPacket(p).length <= 64);
  const data = Uint8Array.from({ length: 70 }, () => 0x24); // '$': every byte escaped
  assert.equal(await desc.write(0x1200, data), 70);
  assert.deepEqual(stub.memory.slice(0x200, 0x200 + 70), data);
  const writes = stub.log.filter((p) => p.startsWith("X"));
  assert.ok(writes.length >= 3, `${writes.length} writes`);
  for (const p of writes) assert.ok(encodeGdbPacket(latin1Bytes(p)).length <= 64);
});

Deno.test("gdb:// falls back to M when the stub does not support X", async () => {
  await using stub = new FakeStub({ noBinaryWrites: true });
  await using desc = await GdbDescriptor.open(stub.uri, { write: true });
  await desc.write(0x1004, Uint8Array.of(0xde, 0xad));
  await desc.write(0x1008, Uint8Array.of(0xbe, 0xef));
  assert.deepEqual([...stub.memory.slice(4, 10)], [0xde, 0xad, 6, 7, 0xbe, 0xef]);
  assert.deepEqual(
    stub.log.filter((p) => /^[XM]/.test(p)).map((p) => p.split(":")[0]),
    ["X1004,2", "M1004,2", "M1008,2"],
  );
});

Deno.test("gdb:// write errors are IoErrors naming the address", async () => {
  await using stub = new FakeStub();
  await using desc = await GdbDescriptor.open(stub.uri, { write: true });
  await assert.rejects(
    desc.write(0x9000, Uint8Array.of(1)),
    (e) => e instanceof IoError && /at 0x9000/.test(e.message) && /E0e/.test(e.message),
  );
});

Deno.test("gdb:// reads unmapped memory as 0xff, page by page", async () => {
  await using stub = new FakeStub({ base: 0x1000, size: 0x1000 });
  await using desc = await GdbDescriptor.open(stub.uri);
  const bytes = await desc.read(0x1ffc, 8);
  assert.deepEqual([...bytes], [0xfc, 0xfd, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(await desc.read(0, 16), new Uint8Array(16).fill(0xff));
});

Deno.test("gdb:// monitor collects the O output packets of qRcmd", async () => {
  await using stub = new FakeStub();
  await using desc = await GdbDescriptor.open(stub.uri);
  assert.equal(await desc.system!("monitor reset halt"), "you said reset halt\n");
  assert.equal(stub.log.at(-1), `qRcmd,${toHex(new TextEncoder().encode("reset halt"))}`);
  assert.equal(await desc.system!("pkt qC"), "QC2a\n");
  assert.equal(await desc.system!("pid"), "42\n");
  assert.match(await desc.system!("?"), /monitor/);
  await assert.rejects(desc.system!("frobnicate"), IoError);
});

Deno.test("gdb:// refuses writes when not opened for writing", async () => {
  await using stub = new FakeStub();
  await using desc = await GdbDescriptor.open(stub.uri);
  assert.equal(await desc.size(), Infinity);
  await assert.rejects(desc.write(0x1000, Uint8Array.of(1)), /read-only/);
});

Deno.test("gdb:// gives a clear IoError when the connection is refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    gdb.open(`gdb://127.0.0.1:${port}`, {}),
    (e) => e instanceof IoError && /connection refused/.test(e.message),
  );
});

Deno.test("gdb:// rejects URIs without a port and the serial form", () => {
  assert.throws(() => gdb.permissions("gdb://localhost", {}), IoError);
  assert.throws(() => gdb.permissions("gdb://localhost:x", {}), /invalid port/);
  assert.throws(() => gdb.permissions("gdb://localhost:1/abc", {}), /invalid pid/);
  assert.throws(() => gdb.permissions("gdb:///dev/ttyS0@115200", {}), /serial/);
  assert.deepEqual(gdb.permissions("gdb://[::1]:9", {}), [{ name: "net", host: "[::1]:9" }]);
});

// ---------------------------------------------------------------------------------------
// A real gdbserver
// ---------------------------------------------------------------------------------------

const GDBSERVER = await findOnPath("gdbserver");
const SLEEP = await findOnPath("sleep");
if (!GDBSERVER || !SLEEP) {
  console.warn(
    "gdb_test.ts: gdbserver (or sleep) is not on PATH; the real-gdbserver tests are skipped " +
      "(apt-get install -y gdbserver)",
  );
}

interface Gdbserver extends AsyncDisposable {
  port: number;
  inferiorPid: number;
  child: Deno.ChildProcess;
}

/** Start `gdbserver --once 127.0.0.1:0 sleep 30` and learn its port from its stderr. */
async function startGdbserver(): Promise<Gdbserver> {
  const child = new Deno.Command(GDBSERVER!, {
    args: ["--once", "127.0.0.1:0", SLEEP!, "30"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    port = Number(/Listening on port (\d+)/.exec(text)?.[1] ?? 0);
  }
  // Keep draining stderr so gdbserver never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  const inferiorPid = Number(/pid = (\d+)/.exec(text)?.[1] ?? 0);
  return {
    port,
    inferiorPid,
    child,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // exited already
      }
      await child.status;
      await drained;
      try {
        Deno.kill(inferiorPid, "SIGKILL");
      } catch {
        // gone already, as it should be
      }
    },
  };
}

interface Mapping {
  start: number;
  end: number;
  perms: string;
  offset: number;
  path: string;
}

async function mapsOf(pid: number): Promise<Mapping[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/maps`);
  return text.trim().split("\n").map((line) => {
    const [range, perms, offset, , , ...path] = line.split(/\s+/);
    const [start, end] = range.split("-").map((h) => parseInt(h, 16));
    return { start, end, perms, offset: parseInt(offset, 16), path: path.join(" ") };
  });
}

Deno.test({
  name: "gdb:// against a real gdbserver (needs gdbserver on PATH)",
  ignore: !GDBSERVER || !SLEEP,
  async fn(t) {
    await using server = await startGdbserver();
    assert.ok(server.port > 0, "gdbserver did not report its port");
    const desc = await gdb.open(`gdb://127.0.0.1:${server.port}`, { write: true });
    try {
      await realGdbserverSteps(t, server, desc);
    } finally {
      await desc.close();
    }
    // The process was created by gdbserver: closing kills it and gdbserver --once exits.
    const status = await server.child.status;
    assert.equal(status.success, true);
  },
});

async function realGdbserverSteps(
  t: Deno.TestContext,
  server: Gdbserver,
  desc: IoDescriptor,
): Promise<void> {
  const maps = await mapsOf(server.inferiorPid);
  const program = await Deno.realPath(SLEEP!);

  await t.step("pid is the inferior's pid", async () => {
    assert.equal(await desc.system!("pid"), `${server.inferiorPid}\n`);
    assert.match(await desc.system!("pkt qC"), new RegExp(server.inferiorPid.toString(16)));
  });

  await t.step("reads the ELF header at the program's load address", async () => {
    const image = maps.find((m) => m.path === program && m.offset === 0);
    assert.ok(image, `no mapping of ${program}`);
    const header = await desc.read(image.start, 64);
    assert.deepEqual([...header.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    const file = await Deno.readFile(program);
    assert.deepEqual(header, file.subarray(0, 64));
  });

  await t.step("reads a whole multi-packet range identical to the file", async () => {
    const image = maps.find((m) => m.path === program && m.offset === 0)!;
    const length = Math.min(image.end - image.start, 0x2000);
    const file = await Deno.readFile(program);
    assert.deepEqual(await desc.read(image.start, length), file.subarray(0, length));
  });

  await t.step("writes to the stack and reads the bytes back", async () => {
    const stack = maps.find((m) => m.path === "[stack]" && m.perms.startsWith("rw"));
    assert.ok(stack, "no [stack] mapping");
    const data = new TextEncoder().encode("rap was here");
    assert.equal(await desc.write(stack.start + 16, data), data.length);
    assert.deepEqual(await desc.read(stack.start + 16, data.length), data);
  });

  await t.step("reads unmapped memory as 0xff and fails writes there", async () => {
    assert.deepEqual(await desc.read(0, 32), new Uint8Array(32).fill(0xff));
    await assert.rejects(
      desc.write(0, Uint8Array.of(1, 2, 3)),
      (e) => e instanceof IoError && /at 0x0 /.test(e.message),
    );
  });

  await t.step("a read across the end of a mapping keeps the mapped bytes", async () => {
    const sorted = maps.toSorted((a, b) => a.start - b.start);
    const last = sorted.find((m, i) =>
      m.perms.startsWith("r") && sorted[i + 1] && sorted[i + 1].start > m.end &&
      m.end < 2 ** 47
    );
    assert.ok(last, "no mapping followed by a gap");
    const tail = await desc.read(last.end - 8, 8);
    const across = await desc.read(last.end - 8, 24);
    assert.deepEqual(across.subarray(0, 8), tail);
    assert.deepEqual(across.subarray(8), new Uint8Array(16).fill(0xff));
  });

  await t.step("monitor runs gdbserver's monitor commands", async () => {
    assert.match(await desc.system!("monitor help"), /monitor commands/);
  });
}

Deno.test({
  name: "gdb://HOST:PORT/PID attaches with vAttach and detaches on close (needs gdbserver)",
  ignore: !GDBSERVER || !SLEEP,
  async fn() {
    const server = new Deno.Command(GDBSERVER!, {
      args: ["--multi", "127.0.0.1:0"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let port = 0;
    while (!port) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      port = Number(/Listening on port (\d+)/.exec(text)?.[1] ?? 0);
    }
    const drained = (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })();
    const sleeper = new Deno.Command(SLEEP!, { args: ["30"], stdin: "null" }).spawn();
    try {
      const desc = await gdb.open(`gdb://127.0.0.1:${port}/${sleeper.pid}`, {});
      try {
        assert.equal(await desc.system!("pid"), `${sleeper.pid}\n`);
        const program = await Deno.realPath(SLEEP!);
        const image = (await mapsOf(sleeper.pid)).find((m) => m.path === program);
        assert.ok(image);
        assert.deepEqual([...await desc.read(image.start, 4)], [0x7f, 0x45, 0x4c, 0x46]);
      } finally {
        await desc.close();
      }
      const status = await Deno.readTextFile(`/proc/${sleeper.pid}/status`);
      assert.match(status, /TracerPid:\s+0\n/, "still traced after close");
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
      server.kill("SIGTERM");
      await server.status;
      await drained;
    }
  },
});
