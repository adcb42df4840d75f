import { encodePacket, RapClient, RapServer } from "../mod.ts";
import assert from "node:assert/strict";
import { HAS_OPENSSL, makeCertificates } from "./_certificates.ts";
import {
  CommandPolicy,
  createShellCommandHandler,
  OutputBuffer,
  parseRemoteTarget,
  Shell,
  type ShellOutput,
} from "../lib/shell/mod.ts";
import { parseRecording, RECORDINGS_DIR } from "./_recordings.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error(`EOF after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

/** A RAP server with the shell handler, serving `uri` by default. */
function shellServer(uri?: string): RapServer {
  return RapServer.listen({
    port: 0,
    defaultUri: uri,
    log: () => {},
    commandHandler: createShellCommandHandler(),
  });
}

/** An output that resolves `waitFor(text)` when a message containing `text` arrives. */
function watchingOutput(): ShellOutput & {
  messages: string[];
  waitFor(text: string): Promise<string>;
} {
  const messages: string[] = [];
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  return {
    messages,
    write: () => {},
    message(line) {
      messages.push(line);
      for (const w of waiters.splice(0)) {
        if (line.includes(w.text)) w.resolve(line);
        else waiters.push(w);
      }
    },
    waitFor(text) {
      const found = messages.find((m) => m.includes(text));
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ text, resolve }));
    },
  };
}

const portOf = (line: string) => Number(/:(\d+)\/?(?:\s|$)/.exec(line)![1]);

Deno.test("=+ rap:// then =0 px 16 puts recording 05's exact bytes on the wire", async () => {
  const name = "05-remote-cmd-eqplus.hex";
  const packets = parseRecording(name, await Deno.readTextFile(new URL(name, RECORDINGS_DIR)))
    .packets;
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const peer = (async () => {
    using conn = await listener.accept();
    for (let i = 0; i < packets.length; i += 2) {
      const request = packets[i];
      assert.equal(request.direction, ">");
      assert.deepEqual(await readExact(conn, request.bytes.length), request.bytes);
      await writeAll(conn, packets[i + 1].bytes);
    }
    assert.equal(await conn.read(new Uint8Array(1)), null); // closed by =-, nothing else sent
  })();
  await using shell = new Shell();
  assert.equal(await shell.run(`=+ rap://127.0.0.1:${port}//bin/ls`), "INFO: opened as fd = 4\n");
  assert.equal(await shell.run("="), `0 fd:3 rap://127.0.0.1:${port}//bin/ls\n`);
  assert.equal(
    await shell.run("=0 px 16"),
    "- offset -  7071 7273 7475 7677 7879 7A7B 7C7D 7E7F  0123456789ABCDEF\n" +
      "0x00006270  f30f 1efa 803d 8de3 0100 0075 2b55 4883  .....=.....u+UH.\n\n",
  ); // radare2 prints an empty line after each reply (the recording's client stdout)
  assert.equal(await shell.run("=0 ?e hello"), "hello\n\n");
  await shell.run("=-");
  await peer;
});

Deno.test("=, =j and =* list hosts in radare2's formats; =- removes them", async () => {
  await using server = shellServer("hex://41424344");
  const port = server.addr.port;
  await using shell = new Shell();
  assert.equal(await shell.run("="), "");
  await shell.run(`=+ rap://127.0.0.1:${port}/`);
  await shell.run(`=+ 127.0.0.1:${port}//hex://00`);
  assert.equal(
    await shell.run("="),
    `0 fd:3 rap://127.0.0.1:${port}/\n1 fd:4 rap://127.0.0.1:${port}//hex://00\n`,
  );
  assert.equal(
    await shell.run("=*"),
    `# 0 fd:3 rap://127.0.0.1:${port}/\n# 1 fd:4 rap://127.0.0.1:${port}//hex://00\n`,
  );
  assert.deepEqual(JSON.parse(await shell.run("=j")), [
    { protocol: "rap", fd: 3, host: "127.0.0.1", port, file: "" },
    { protocol: "rap", fd: 4, host: "127.0.0.1", port, file: "/hex://00" },
  ]);
  await shell.run("=-0");
  assert.equal(await shell.run("="), `1 fd:4 rap://127.0.0.1:${port}//hex://00\n`);
  assert.equal(
    await shell.run("=0 ?e x"),
    "ERROR: Unknown host 0 (list them with =, add one with =+)\n",
  );
  await shell.run("=-");
  assert.equal(await shell.run("="), "");
});

Deno.test("=N cmd and =cmd run commands on our server in the client's own session", async () => {
  await using server = shellServer("hex://41424344");
  await using shell = new Shell();
  await shell.run(`=+ rap://127.0.0.1:${server.addr.port}/`);
  await shell.run(`=+ rap://127.0.0.1:${server.addr.port}//hex://cafe`);
  assert.equal(await shell.run("=0 p8 4"), "41424344\n\n");
  assert.equal(await shell.run("=1 p8 2"), "cafe\n\n");
  assert.equal(await shell.run("=p8 2"), "cafe\n\n"); // the last one used is current
  assert.equal(await shell.run("=0 s 2; =0 p8 1; =1 s"), "\n43\n\n0x0\n\n");
  // As in radare2, @ seeks the local shell for the command: the peer gets "p8 1" and uses
  // its own seek; quoting the whole command sends the @ along.
  assert.equal(await shell.run("=0; =p8 1 @ 3"), "43\n\n");
  assert.equal(await shell.run('"=0 p8 1 @ 3"'), "44\n\n");
  assert.equal(await shell.run("=0 p8 1 @@= 0 1"), "43\n\n43\n\n");
  assert.equal(
    await shell.run("=0 px 4 @ 0~0x"),
    "0x00000002  4344 ffff                                CD..\n",
  );
  assert.equal(await shell.run("=0 p8 1 @ zz"), 'ERROR: Invalid number "zz"\n');
});

Deno.test("a failed OPEN from =+ is an error and adds no host", async () => {
  await using server = shellServer();
  await using shell = new Shell();
  const out = await shell.run(`=+ rap://127.0.0.1:${server.addr.port}//nonexistent/file`);
  assert.match(out, /^ERROR: Cannot open "\/nonexistent\/file"/);
  assert.equal(await shell.run("="), "");
});

Deno.test("=+ needs a port, and refuses unknown protocols", () => {
  assert.throws(() => parseRemoteTarget("localhost"), /Missing port/);
  assert.throws(() => parseRemoteTarget("ftp://h:1"), /Unknown protocol "ftp:\/\/"/);
  assert.deepEqual(parseRemoteTarget("r2p://h:1//x"), {
    proto: "rap",
    host: "h",
    port: 1,
    file: "/x",
  });
});

Deno.test("==N runs an interactive session until q", async () => {
  await using server = shellServer("hex://0102");
  const lines = ["p8 2", "?e in session", "q", "?e never read"];
  const prompts: string[] = [];
  await using shell = new Shell({
    readLine: (prompt) => {
      prompts.push(prompt);
      return Promise.resolve(lines.shift() ?? null);
    },
  });
  await shell.run(`=+ rap://127.0.0.1:${server.addr.port}/`);
  assert.equal(await shell.run("==0"), "0102\n\nin session\n\n"); // r2's empty lines
  assert.deepEqual(prompts, Array(3).fill(`[rap://127.0.0.1:${server.addr.port}/]> `));
  assert.deepEqual(lines, ["?e never read"]);
  assert.equal(await shell.run("==7"), "ERROR: Unknown host 7\n");
});

Deno.test("=< sends a local command's output to a tcp host", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const received = (async () => {
    const chunks: string[] = [];
    for (let i = 0; i < 2; i++) {
      using conn = await listener.accept();
      const buf = new Uint8Array(1024);
      let n;
      let text = "";
      while ((n = await conn.read(buf)) !== null) text += decoder.decode(buf.subarray(0, n));
      chunks.push(text);
    }
    return chunks;
  })();
  await using shell = new Shell();
  await shell.session.open("hex://cafe");
  assert.equal(await shell.run(`=+ tcp://127.0.0.1:${port}/`), ""); // the probe connection
  assert.equal(await shell.run("=< p8 2"), "");
  assert.deepEqual(await received, ["", "cafe\n"]);
  assert.equal(
    await shell.run(`=+ rap://127.0.0.1:1/`).then((o) => o.startsWith("ERROR: Cannot connect")),
    true,
  );
});

Deno.test("=< to a rap host is refused, as radare2 does", async () => {
  await using server = shellServer("hex://00");
  await using shell = new Shell();
  await shell.run(`=+ rap://127.0.0.1:${server.addr.port}/`);
  assert.equal(
    await shell.run("=<0 ?e x"),
    "ERROR: Cannot use '=<' to a rap connection (tcp and udp only)\n",
  );
});

Deno.test("=!cmd and :cmd go to the current rap:// file's server", async () => {
  await using server = shellServer();
  await using shell = new Shell();
  await shell.run(`o rap://127.0.0.1:${server.addr.port}//hex://414243`);
  assert.equal(await shell.run("=!p8 3"), "414243\n");
  assert.equal(await shell.run(":?e via colon"), "via colon\n");
  assert.equal(await shell.run("p8 3"), "414243\n"); // and READ works through the plugin
});

Deno.test("!=! turns remote mode on (help's meaning), =!= turns it off", async () => {
  await using server = shellServer("hex://aabb");
  await using shell = new Shell();
  await shell.session.open("hex://0011");
  await shell.run(`=+ rap://127.0.0.1:${server.addr.port}/`);
  await shell.run("!=!");
  assert.equal(shell.prompt(), "[=!0x00000000]> ");
  assert.equal(await shell.run("p8 2"), "aabb\n\n"); // remote, printed as =N prints
  assert.equal(await shell.run("=!="), "");
  assert.equal(await shell.run("p8 2"), "0011\n"); // local again
  await shell.run("=!=0"); // radare2's own spelling turns it on for host 0
  assert.equal(await shell.run("p8 1"), "aa\n\n");
  await shell.run("q"); // a line starting with q leaves remote mode, not the shell
  assert.equal(shell.quitRequested, false);
  assert.equal(await shell.run("p8 1"), "00\n");
});

Deno.test("=:port serves the shell's files in the foreground until interrupted", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://c0ffee");
  const out = watchingOutput();
  const serving = shell.execute("=:0", out);
  const port = portOf(await out.waitFor("listening"));
  {
    await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
    assert.deepEqual([...await client.read(0, 3)], [0xc0, 0xff, 0xee]);
    assert.equal(await client.cmd("p8 3"), "c0ffee\n");
    assert.match(await client.cmd("o /etc/passwd"), /not allowed/);
  }
  shell.interrupt();
  await serving;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test("=&:port serves in the background while the shell stays usable", async () => {
  await using shell = new Shell();
  await shell.session.open("malloc://16", { write: true });
  const out = watchingOutput();
  await shell.execute("=&:0", out);
  const port = portOf(await out.waitFor("Background rap server"));
  await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
  await client.write(0, encoder.encode("hi"));
  assert.equal(await shell.run("p8 2"), "6869\n"); // the shell sees the client's write
  await shell.run("wx 21 @ 2");
  assert.equal(await client.cmd("ps"), "hi!\n");
  await shell.run("=&-");
  await assert.rejects(client.cmd("?e gone"));
});

Deno.test("=:host:port cmd runs one command on a rap server", async () => {
  await using server = shellServer("hex://31323334");
  await using shell = new Shell();
  assert.equal(await shell.run(`=:127.0.0.1:${server.addr.port} p8 4`), "31323334\n\n");
  assert.equal(await shell.run("="), "");
});

Deno.test("=t port serves commands over plain TCP; =+ tcp:// and =t host:port cmd use it", async () => {
  await using server = new Shell();
  await server.session.open("hex://5a5a");
  const out = watchingOutput();
  const serving = server.execute("=t 0", out);
  const port = portOf(await out.waitFor("tcp command server"));
  await using client = new Shell();
  await client.run(`=+ tcp://127.0.0.1:${port}/`);
  assert.equal(await client.run("=0 p8 2"), "5a5a\n\n"); // tcp: println, as rap
  assert.equal(await client.run(`=t 127.0.0.1:${port} ?e one;?e two`), "one\ntwo\n");
  assert.match(await client.run(`=t 127.0.0.1:${port} wtf /tmp/x`), /not allowed/);
  server.interrupt();
  await serving;
});

Deno.test("=h& starts the HTTP endpoint in the background, =+ http:// talks to it, =h- stops it", async () => {
  await using server = new Shell();
  await server.session.open("hex://f00d");
  const out = watchingOutput();
  await server.execute("=h& 0", out);
  const port = portOf(await out.waitFor("http server listening"));
  assert.match(await server.run("=h 0"), /already running/);
  await using client = new Shell();
  await client.run(`=+ http://127.0.0.1:${port}/cmd/`);
  assert.equal(await client.run("="), `0 fd:-1 http://127.0.0.1:${port}/cmd/\n`);
  assert.equal(await client.run("=0 p8 2"), "f00d\n"); // http: as it is
  assert.equal(await client.run("=0 ?e a b+c"), "a b+c\n");
  await server.run("=h-");
  assert.equal(await server.run("=h-"), "INFO: the http server is not running\n");
  assert.match(await client.run("=0 ?e x"), /^ERROR: /);
});

Deno.test("=h serves in the foreground until interrupted, as r2 -qc '=h PORT' does", async () => {
  await using server = new Shell();
  await server.session.open("hex://f00dcafe");
  const out = watchingOutput();
  const serving = server.execute("=h 0; ?e after", out);
  const line = await out.waitFor("http server listening");
  assert.match(line, /interrupt or =h- to stop/);
  const port = portOf(line);
  let returned = false;
  serving.then(() => returned = true);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/cmd/p8%204`);
    assert.equal(await res.text(), "f00dcafe\n");
  }
  assert.equal(returned, false); // still serving: the next command has not run
  server.interrupt();
  await serving;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  assert.equal(server.remote.servers.http, undefined);
});

Deno.test("a client's =h- stops a foreground =h once its reply is out", async () => {
  await using server = new Shell({ peerPolicy: CommandPolicy.RESTRICTED.with("remote") });
  await server.session.open("hex://41");
  const out = watchingOutput();
  const serving = server.execute("=h 0", out);
  const port = portOf(await out.waitFor("http server listening"));
  const res = await fetch(`http://127.0.0.1:${port}/cmd/=h-`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await serving;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test("=h? says which form blocks", async () => {
  await using shell = new Shell();
  const help = await shell.run("=h?");
  assert.match(help, /=h \[port\] +serve HTTP .* in the foreground/);
  assert.match(help, /=h& \[port\] +the same in the background/);
});

Deno.test("a reverse CMD from the server runs in the local shell, restricted", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const answers: string[] = [];
  const peer = (async () => {
    using conn = await listener.accept();
    const header = await readExact(conn, 5);
    assert.equal(header[0], 0x07);
    const len = new DataView(header.buffer).getUint32(1);
    assert.equal(decoder.decode(await readExact(conn, len)), "pd\0");
    for (const command of ["p8 2", "wtf /tmp/nope"]) {
      await writeAll(conn, encodePacket({ type: "cmd", command }));
      const reply = await readExact(conn, 5);
      assert.equal(reply[0], 0x87);
      const n = new DataView(reply.buffer).getUint32(1);
      answers.push(decoder.decode((await readExact(conn, n)).subarray(0, n - 1)));
    }
    await writeAll(conn, encodePacket({ type: "cmd_reply", output: "done\n" }));
    assert.equal(await conn.read(new Uint8Array(1)), null);
  })();
  await using shell = new Shell();
  await shell.session.open("hex://beef");
  await shell.run(`=+ rap://127.0.0.1:${port}/`);
  assert.equal(await shell.run("=0 pd"), "done\n\n");
  assert.equal(answers[0], "beef\n");
  assert.match(answers[1], /^ERROR: Command "wtf" is not allowed here/);
  await shell.run("=-");
  await peer;
});

Deno.test("=? prints help and unsupported = commands say so in one line", async () => {
  await using shell = new Shell();
  assert.match(await shell.run("=?"), /=\+ \[proto:\/\/\]host:port/);
  assert.match(await shell.run("=g x"), /^ERROR: Usage: =g port \[uri\]/);
  assert.match(await shell.run("=l name"), /^ERROR: Usage: =l \(list sessions\)/);
  assert.equal(
    await shell.run("=+ udp://127.0.0.1:9").then((o) => o.startsWith("ERROR")),
    !("listenDatagram" in Deno),
  );
  await shell.run("=-");
});

Deno.test("the command output buffer keeps messages in order with the output", () => {
  const out = new OutputBuffer();
  out.write("a\n");
  out.message("ERROR: b");
  out.write(new Uint8Array([0x63, 0x0a]));
  assert.equal(out.text(), "a\nERROR: b\nc\n");
});

Deno.test("=+ raps:// talks RAP over TLS", { ignore: !HAS_OPENSSL }, async () => {
  const certificates = await makeCertificates();
  const { ca, cert, key, dir } = certificates;
  try {
    using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    const port = (listener.addr as Deno.NetAddr).port;
    const peer = (async () => {
      using conn = await listener.accept();
      const header = await readExact(conn, 5);
      const len = new DataView(header.buffer).getUint32(1);
      assert.deepEqual([header[0], decoder.decode(await readExact(conn, len))], [7, "?e tls\0"]);
      await writeAll(conn, encodePacket({ type: "cmd_reply", output: "tls\n" }));
      assert.equal(await conn.read(new Uint8Array(1)), null);
    })();
    await using shell = new Shell({ caCerts: [ca] });
    assert.equal(await shell.run(`=+ raps://127.0.0.1:${port}/`), "");
    assert.equal(await shell.run("="), `0 fd:3 raps://127.0.0.1:${port}/\n`);
    assert.equal(await shell.run("=0 ?e tls"), "tls\n\n");
    await shell.run("=-");
    await peer;
    // Without the CA the certificate is refused, in one line.
    await using strict = new Shell();
    const refused = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    const accepting = refused.accept().then((c) =>
      c.handshake().catch(() => {}).finally(() => c.close())
    );
    const out = await strict.run(`=+ raps://127.0.0.1:${(refused.addr as Deno.NetAddr).port}/`);
    await accepting;
    refused.close();
    assert.match(out, /^ERROR: Cannot connect to raps:\/\/127\.0\.0\.1:\d+: .*\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("=+ udp:// and =< send output as a datagram (needs --unstable-net)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("../lib/shell/mod.ts", import.meta.url).href;
    const root = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/udp.ts`,
      `import ${JSON.stringify(root)}; // the built-in plugins
import { Shell } from ${JSON.stringify(mod)};
const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
const port = (socket.addr as Deno.NetAddr).port;
await using shell = new Shell();
await shell.session.open("hex://cafe");
console.log(JSON.stringify(await shell.run("=+ udp://127.0.0.1:" + port)));
console.log(JSON.stringify(await shell.run("=0 ?e x")));
console.log(JSON.stringify(await shell.run("=< p8 2")));
const [data] = await socket.receive();
console.log(JSON.stringify(new TextDecoder().decode(data)));
socket.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-net", `${dir}/udp.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(decoder.decode(out.stderr), "");
    assert.deepEqual(decoder.decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l)), [
      "",
      "ERROR: udp hosts only take output (=<0 cmd), not commands\n",
      "",
      "cafe\n",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
