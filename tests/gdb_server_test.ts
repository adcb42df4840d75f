// The GDB remote-protocol server (lib/gdb/server.ts): the protocol and its limits with our
// own GDB client (GdbRemote) on real sockets; then the outside peers: a real gdb against
// `=g PORT FILE` and `serve --gdb-port`, gdb debugging a dbg:// process through rap, and a
// real radare2's `:dr` on rap://.../dbg:///prog. Tools that are missing skip their tests.

import assert from "node:assert/strict";
import { AddressFilter } from "../mod.ts";
import { fromHex, toHex } from "../lib/gdb/codec.ts";
import { GdbRemote } from "../lib/gdb/remote.ts";
import { GdbServer } from "../lib/gdb/server.ts";
import type { GdbServedFile } from "../lib/gdb/server_session.ts";
import { CLI_PATH, freePort, startServe } from "./_serve_process.ts";
import { buildProgram, CAN_DEBUG, leftProcesses, type TestProgram, TOOLS } from "./_debug_tools.ts";

if (!TOOLS.gdb) console.warn("gdb_server_test.ts: gdb is not on PATH; its tests are skipped");

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

function memoryFile(bytes: Uint8Array, writable: boolean): GdbServedFile {
  return {
    read: (offset, length) => Promise.resolve(bytes.slice(offset, offset + length)),
    ...(writable
      ? {
        write: (offset: number, data: Uint8Array) => {
          bytes.set(data, offset);
          return Promise.resolve(data.length);
        },
      }
      : {}),
  };
}

function listen(
  file: GdbServedFile,
  options: Partial<Parameters<typeof GdbServer.listen>[0]> = {},
) {
  const log: string[] = [];
  const server = GdbServer.listen({
    port: 0,
    file: () => file,
    log: (line) => log.push(line),
    ...options,
  });
  return { server, log };
}

/** Read until the peer closes; how many bytes it sent first. */
async function readToEnd(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(4096);
  let got = 0;
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return got;
    got += n;
  }
}

Deno.test("GDB server answers qSupported, ?, g, m, qAttached and monitor, and refuses writes read-only", async () => {
  const bytes = new TextEncoder().encode("0123456789abcdefghijklmnopqrstuvwxyz");
  const { server } = listen(memoryFile(bytes, false), {
    monitor: (command) => Promise.resolve(`ran ${command}\n`),
  });
  await using _ = server;
  const remote = await GdbRemote.connect("127.0.0.1", server.addr.port);
  try {
    const features = (await remote.requestText("qSupported:multiprocess+")).split(";");
    assert.ok(features.includes("PacketSize=4000"), features.join(";"));
    assert.ok(features.includes("QStartNoAckMode+"));
    assert.ok(!features.some((f) => f.startsWith("qXfer")), "a plain file has no stub features");
    assert.equal(await remote.requestText("QStartNoAckMode"), "OK");
    remote.noAck = true;
    assert.equal(await remote.requestText("?"), "S05");
    assert.match(await remote.requestText("g"), /^(00)+$/);
    assert.equal(await remote.requestText("qAttached"), "1");
    assert.equal(await remote.requestText("vCont?"), "");
    assert.equal(await remote.requestText("vRun;2f62696e2f7368"), "", "vRun is unsupported");
    assert.equal(await remote.requestText("m10,8"), toHex(bytes.subarray(16, 24)));
    assert.equal(await remote.requestText("m20,10"), toHex(bytes.subarray(32)), "short at the end");
    assert.equal(await remote.requestText("m1000,4"), "E01", "past the end");
    assert.equal(await remote.requestText("M0,2:4142"), "E01", "read-only");
    let output = "";
    const reply = await remote.requestWithOutput(
      `qRcmd,${toHex(new TextEncoder().encode("p8 4"))}`,
      (h) => output += new TextDecoder().decode(fromHex(h)),
    );
    assert.equal(reply, "OK");
    assert.equal(output, "ran p8 4\n");
    assert.equal(await remote.requestText("D"), "OK");
    await assert.rejects(remote.requestText("m0,1"), /closed/);
  } finally {
    remote.close();
  }
});

Deno.test("GDB server writes with M and X (binary, escaped) when the file is writable", async () => {
  const bytes = new Uint8Array(16);
  const { server } = listen(memoryFile(bytes, true));
  await using _ = server;
  const remote = await GdbRemote.connect("127.0.0.1", server.addr.port);
  try {
    assert.equal(await remote.requestText("M2,2:abcd"), "OK");
    // X with the bytes 0x23 '#' and 0x7d '}' escaped as }\x03 and }\x5d.
    const x = new Uint8Array([...new TextEncoder().encode("X8,3:"), 0x7d, 0x03, 0x7d, 0x5d, 0x41]);
    assert.equal(await remote.requestText(x), "OK");
    assert.deepEqual([...bytes.subarray(0, 11)], [0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0x23, 0x7d, 0x41]);
    assert.equal(await remote.requestText("M0,2:ab"), "E01", "length does not match the data");
  } finally {
    remote.close();
  }
});

Deno.test("GDB server limits: --allow-from, the connection cap, the packet size, a silent client", async () => {
  const file = memoryFile(new Uint8Array(8), false);
  {
    const { server, log } = listen(file, { allowFrom: AddressFilter.parse("10.0.0.0/8") });
    await using _ = server;
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    assert.equal(await readToEnd(conn), 0);
    assert.match(log.join("\n"), /refused: address not allowed \(--allow-from 10\.0\.0\.0\/8\)/);
  }
  {
    const { server, log } = listen(file, { maxConnections: 1 });
    await using _ = server;
    const first = await GdbRemote.connect("127.0.0.1", server.addr.port);
    try {
      assert.equal(await first.requestText("?"), "S05"); // admitted
      using second = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      assert.equal(await readToEnd(second), 0);
      assert.match(log.join("\n"), /refused: 1 clients already connected/);
      assert.equal(await first.requestText("m0,2"), "0000", "the first client is still served");
    } finally {
      first.close();
    }
  }
  {
    const { server, log } = listen(file, { maxPacket: 64 });
    await using _ = server;
    const remote = await GdbRemote.connect("127.0.0.1", server.addr.port);
    try {
      await assert.rejects(remote.requestText(`M0,40:${"00".repeat(64)}`), /closed/);
      assert.match(log.join("\n"), /GDB packet larger than 64 bytes/);
    } finally {
      remote.close();
    }
  }
  {
    const { server, log } = listen(file, { firstPacketTimeout: 100 });
    await using _ = server;
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    assert.equal(await readToEnd(conn), 0);
    assert.match(log.join("\n"), /no packet within 100 ms/);
  }
});

/** Run gdb in batch mode with these commands; its output. */
async function gdbBatch(port: number, commands: string[], file?: string): Promise<string> {
  const args = ["-nx", "-batch", ...(file ? [file] : [])];
  args.push("-ex", `target remote 127.0.0.1:${port}`);
  for (const c of commands) args.push("-ex", c);
  const out = await new Deno.Command(TOOLS.gdb!, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return text.decode(out.stdout) + text.decode(out.stderr);
}

/** gdb's `x/8xb` line for these bytes. */
function xLine(address: number, bytes: Uint8Array): string {
  return `0x${address.toString(16)}:\t` +
    [...bytes].map((b) => `0x${b.toString(16).padStart(2, "0")}`).join("\t");
}

/** `rap shell -qc '=g 0 URI'` until stopped; its port, from its INFO line. */
async function startShellGdb(uri: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI_PATH, "shell", "-qc", `=g 0 ${uri}`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`=g did not start: ${text}`);
    text += value;
    port = Number(/gdb server listening on 127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
  }
  const drained = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += value;
    }
  })();
  return {
    port,
    get log() {
      return text;
    },
    async stop() {
      child.kill("SIGINT");
      const status = await child.status;
      await drained;
      return status;
    },
  };
}

Deno.test({
  name: "a real gdb's x/8xb 16 against =g PORT FILE prints the file's bytes 16..23",
  ignore: !TOOLS.gdb,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const bytes = crypto.getRandomValues(new Uint8Array(64));
      await Deno.writeFile(`${dir}/data.bin`, bytes);
      const shell = await startShellGdb(`${dir}/data.bin`);
      let output;
      try {
        output = await gdbBatch(shell.port, ["x/8xb 16", "set {char}16 = 65", "monitor p8 2 @ 16"]);
      } finally {
        const status = await shell.stop();
        assert.equal(status.code, 0, shell.log);
      }
      assert.ok(output.includes(xLine(16, bytes.subarray(16, 24))), output);
      assert.match(output, /Cannot access memory at address 0x10/, "opened read-only: no writes");
      assert.ok(output.includes(toHex(bytes.subarray(16, 18))), "monitor runs a shell command");
      assert.deepEqual(await Deno.readFile(`${dir}/data.bin`), bytes);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "serve --gdb-port: gdb reads the served file, --read-only holds, monitor runs under --allow-cmd",
  ignore: !TOOLS.gdb,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const bytes = crypto.getRandomValues(new Uint8Array(64));
      await Deno.writeFile(`${dir}/data.bin`, bytes);
      const gdbPort = freePort();
      await using server = await startServe({
        args: [`${dir}/data.bin`, "--read-only", "--gdb-port", String(gdbPort)],
      });
      const output = await gdbBatch(gdbPort, [
        "x/8xb 40",
        "set {char}40 = 65",
        "monitor !id",
        "monitor ?e hi",
      ]);
      assert.ok(output.includes(xLine(40, bytes.subarray(40, 48))), output);
      assert.match(output, /Cannot access memory at address 0x28/, "--read-only: no writes");
      assert.match(output, /Command "!" is not allowed here: it needs the "system" capability/);
      assert.match(output, /^hi$/m);
      const { status } = await server.stop();
      assert.equal(status.code, 0, server.log);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("serve --gdb-port needs a URI and refuses --token-file", async () => {
  for (
    const [args, message] of [
      [["--gdb-port", "0"], /--gdb-port serves the URI given to serve/],
      [
        ["hex://00", "--gdb-port", "0", "--token-file", "/nonexistent"],
        /cannot ask gdb for the token/,
      ],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI_PATH, "serve", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), message);
  }
});

async function withProgram(body: (p: TestProgram) => Promise<void>) {
  const program = await buildProgram("gdbsrv");
  try {
    await body(program);
    assert.deepEqual(await leftProcesses(program.path), [], "a debugged process was left");
  } finally {
    await Deno.remove(program.dir, { recursive: true });
  }
}

Deno.test({
  name: "a real gdb debugs a dbg:// process through =g: breakpoint, continue, step, exit",
  ignore: !TOOLS.gdb || !CAN_DEBUG,
  fn: () =>
    withProgram(async (program) => {
      const main = program.symbols.get("main")!;
      const shell = await startShellGdb(`dbg://${program.path}`);
      let output;
      try {
        output = await gdbBatch(shell.port, [
          `break *${hex(main)}`,
          "continue",
          "print/x $pc",
          "stepi",
          "print/x $pc",
          "continue",
        ], program.path);
      } finally {
        const status = await shell.stop();
        assert.equal(status.code, 0, shell.log);
      }
      assert.match(output, new RegExp(`Breakpoint 1, .*main`), output);
      assert.match(output, new RegExp(`\\$1 = 0x${main.toString(16)}\\n`));
      assert.match(output, new RegExp(`\\$2 = 0x${(main + 1).toString(16)}\\n`));
      assert.match(output, /exited with code 07/);
    }),
});

Deno.test({
  name: "a real radare2 client's :dr on rap://127.0.0.1:P/dbg:///prog prints registers",
  ignore: !TOOLS.r2 || !CAN_DEBUG,
  fn: () =>
    withProgram(async (program) => {
      await using server = await startServe({ flags: ["-A"], args: ["--allow-cmd", "system"] });
      const out = await new Deno.Command(TOOLS.r2!, {
        args: ["-q", "-c", ":dr;:dr rip", `rap://127.0.0.1:${server.port}/dbg://${program.path}`],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.match(stdout, /^rax = 0x[0-9a-f]{8,}$/m, stdout);
      assert.match(stdout, /^rip = 0x[0-9a-f]{8,}$/m);
      assert.match(stdout, /^rflags = 0x[0-9a-f]{8,}$/m);
      await server.stop();
    }),
});
