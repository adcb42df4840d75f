import { RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { HAS_PYTHON, startPeer } from "./_peer.ts";

const ROOT = new URL("../", import.meta.url);
const CLI = new URL("cli.ts", ROOT).pathname;
const MOD = new URL("mod.ts", ROOT).pathname;

interface Output {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

async function run(flags: string[], args: string[], entry = CLI): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, entry, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr), bytes: stdout };
}

/** Start `serve` in a subprocess and wait for its "Listening on" line. */
async function startServe(
  flags: string[],
  args: string[],
  entry = CLI,
  until = /Listening on rap:\/\/[^\n]*\/\n/,
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, entry, "serve", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!until.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const m = /Listening on rap:\/\/([\d.]+):(\d+)\/\n/.exec(seen);
  const rest = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  })();
  return {
    child,
    line: seen,
    port: m ? Number(m[2]) : 0,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* exited */ }
      const status = await child.status;
      await rest;
      return { status, stderr: await stderrText };
    },
  };
}

Deno.test("serve prints one Listening line, serves clients, and exits 0 on SIGTERM", async () => {
  const server = await startServe(["--allow-net=127.0.0.1", "--allow-read"], [
    "--port",
    "0",
    "hex://cafebabe",
  ]);
  assert.match(server.line, /^Listening on rap:\/\/127\.0\.0\.1:\d+\/\n$/);
  const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
  assert.deepEqual([...await client.read(0, 4)], [0xca, 0xfe, 0xba, 0xbe]);
  await client.close();
  const { status, stderr } = await server.stop();
  assert.equal(status.code, 0);
  assert.match(stderr, /connected/);
  assert.match(stderr, /shutting down/);
});

Deno.test("deno run mod.ts serve starts the server too (what jsr:@rap/cli runs)", async () => {
  const server = await startServe(["--allow-net=127.0.0.1"], ["--port", "0"], MOD);
  assert.ok(server.port > 0);
  const { status } = await server.stop();
  assert.equal(status.code, 0);
});

Deno.test("cat writes the bytes of a URI, with --offset and --size", async () => {
  const all = await run([], ["cat", "hex://00112233445566"]);
  assert.equal(all.code, 0);
  assert.deepEqual([...all.bytes], [0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
  const part = await run([], ["cat", "hex://00112233445566", "--offset", "0x2", "--size", "3"]);
  assert.deepEqual([...part.bytes], [0x22, 0x33, 0x44]);
});

Deno.test("cat reads rap:// from a server in another process", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_cli_" });
  const path = `${dir}/data.bin`;
  const data = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
  await Deno.writeFile(path, data);
  const server = await startServe(["--allow-net=127.0.0.1", `--allow-read=${dir}`], [
    "--port",
    "0",
  ]);
  try {
    const out = await run([`--allow-net=127.0.0.1:${server.port}`], [
      "cat",
      `rap://127.0.0.1:${server.port}/${path}`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.bytes, data);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugins lists every plugin like r2 -L, and as JSON", async () => {
  const text = await run([], ["plugins"]);
  assert.equal(text.code, 0);
  for (const name of ["file", "malloc", "null", "sparse", "rap"]) {
    assert.match(text.stdout, new RegExp(`^r[w_][s_]  ${name} +\\S`, "m"), name);
  }
  const json = JSON.parse((await run([], ["plugins", "--json"])).stdout);
  assert.ok(
    json.some((p: { name: string; uris: string[] }) =>
      p.name === "malloc" && p.uris.includes("malloc://SIZE")
    ),
  );
});

Deno.test("usage mistakes print one line and exit 2", async () => {
  for (
    const args of [["frobnicate"], ["cat"], ["serve", "--port"], ["serve", "--bogus"], [
      "cat",
      "x",
      "--size",
      "abc",
    ], []]
  ) {
    const out = await run([], args);
    assert.equal(out.code, 2, args.join(" "));
    if (args.length > 0) assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
  }
});

Deno.test("runtime errors print one clear line and exit 1", async () => {
  const out = await run(["--allow-read"], ["cat", "/nonexistent/file"]);
  assert.equal(out.code, 1);
  assert.equal(out.stderr, 'rap cat: Cannot open "/nonexistent/file": no such file\n');
  const scheme = await run([], ["cat", "foo://x"]);
  assert.equal(scheme.stderr, 'rap cat: Cannot open "foo://x": no plugin for scheme "foo"\n');
});

Deno.test("--help works for every command", async () => {
  for (const command of ["serve", "cat", "plugins"]) {
    const out = await run([], [command, "--help"]);
    assert.equal(out.code, 0);
    assert.match(out.stdout, new RegExp(`Usage: rap ${command}`));
  }
});

Deno.test("a refused permission names the flag to add", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_perm_" });
  try {
    const out = await run([`--allow-read=${dir}`], ["cat", "/etc/hostname"]);
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      'rap cat: Cannot open "/etc/hostname": read access is not granted (run with --allow-read=/etc/hostname)\n',
    );
    const net = await run([], ["cat", "rap://127.0.0.1:9//x"]);
    assert.match(net.stderr, /net access is not granted \(run with --allow-net=127\.0\.0\.1:9\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server under narrow flags refuses to open anything else, and logs the flag", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_scope_" });
  await Deno.writeTextFile(`${dir}/inside.txt`, "inside");
  const server = await startServe(["--allow-net=127.0.0.1", `--allow-read=${dir}`], [
    "--port",
    "0",
  ]);
  try {
    const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
    await assert.rejects(client.open("/etc/hostname"), /refused/);
    await client.close();
    const ok = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
    await ok.open(`${dir}/inside.txt`);
    assert.equal(new TextDecoder().decode(await ok.read(0, 6)), "inside");
    await ok.close();
  } finally {
    const { stderr } = await server.stop();
    await Deno.remove(dir, { recursive: true });
    assert.match(stderr, /run with --allow-read=\/etc\/hostname/);
  }
});

Deno.test("serve --http-port answers GET /cmd/ with the shell's output, under the policy", async () => {
  const server = await startServe(
    ["--allow-net=127.0.0.1", "--allow-read"],
    ["--port", "0", "--http-port", "0", "hex://41424344"],
    CLI,
    /Listening on http:[^\n]*\n/,
  );
  try {
    const port = /Listening on http:\/\/127\.0\.0\.1:(\d+)\/cmd\//.exec(server.line)![1];
    const ok = await fetch(`http://127.0.0.1:${port}/cmd/p8%202%20%40%201`);
    assert.equal(ok.headers.get("content-type")?.startsWith("text/plain"), true);
    assert.equal(await ok.text(), "4243\n");
    const refused = await fetch(`http://127.0.0.1:${port}/cmd/wtf%20%2Ftmp%2Fx`);
    assert.match(await refused.text(), /not allowed/);
    const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
    assert.equal(await client.cmd("p8 4"), "41424344\n");
    await client.close();
  } finally {
    await server.stop();
  }
});

Deno.test("serve --allow-cmd with an unknown capability is a usage error", async () => {
  const out = await run([], ["serve", "--allow-cmd", "bogus"]);
  assert.equal(out.code, 2);
  assert.match(
    out.stderr,
    /^rap serve: --allow-cmd: Unknown command capability "bogus".*\(see rap serve --help\)\n$/,
  );
});

Deno.test("--plugin loads an extra plugin for cat, plugins and shell", async () => {
  const plugin = new URL("fixtures/example_plugin.ts", import.meta.url).pathname;
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "Hello");
  try {
    const flags = [`--allow-read=${plugin},${path}`];
    const cat = await run(flags, ["cat", "--plugin", plugin, `rot13://${path}`]);
    assert.equal(cat.stdout, "Uryyb", cat.stderr);
    const list = await run(flags, ["plugins", "--plugin", plugin]);
    assert.match(list.stdout, /^r.. {2}rot13 /m);
    const shell = await run(flags, ["shell", "--plugin", plugin, "-qc", "p8 5", `rot13://${path}`]);
    assert.equal(shell.stdout, "5572797962\n", shell.stderr);
    const denied = await run([`--allow-read=${path}`], [
      "cat",
      "--plugin",
      plugin,
      `rot13://${path}`,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, new RegExp(`run with --allow-read=${plugin}`));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test({
  name:
    "cat of a rap:// file whose server resets mid-reply exits 1, naming it; the bytes before are right",
  ignore: !HAS_PYTHON,
  async fn() {
    const size = 24 << 20;
    const cut = (6 << 20) + 1234; // in the middle of the second 4 MiB READ_AT reply
    await using peer = startPeer("cutting_rap_server.py", ["--size", size, "--cut", cut]);
    const { port } = await peer.waitFor("listening");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", CLI, "cat", `rap://127.0.0.1:${port}//x`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /^rap cat: Cannot read "rap:\/\/127\.0\.0\.1:\d+\/\/x": .*127\.0\.0\.1/);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    // What came before the reset is the file's, in order (the rest of the reply never came).
    // Streamed: the first reply and what came of the second were written as they arrived.
    assert.ok(
      out.stdout.length >= 4 << 20 && out.stdout.length <= cut,
      `${out.stdout.length} bytes`,
    );
    const expected = (i: number) => ((i & 0xffff) * 7 + (i >> 16)) & 0xff;
    for (let i = 0; i < out.stdout.length; i++) {
      if (out.stdout[i] !== expected(i)) assert.fail(`byte ${i} is ${out.stdout[i]}`);
    }
  },
});
