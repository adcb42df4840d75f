/**
 * `serve` is read-only unless `-w`, as radare2 opens files read-only unless `-w`: a raw
 * plain-RAP client (another process) and a real radare2, when installed, cannot write to
 * the default file nor to a file they OPEN with W; with `-w` they can. A missing file is
 * "no such file", whatever write access is granted.
 */

import assert from "node:assert/strict";
import { HAS_PYTHON, runPeer } from "./_peer.ts";
import { runRap, startServe } from "./_serve_process.ts";

const HAS_R2 = new Deno.Command("bash", { args: ["-c", "command -v r2"], stdout: "null" })
  .outputSync().success;

async function withFile(fn: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_w_" }));
  try {
    await Deno.writeTextFile(`${dir}/fw.bin`, "hello, radare2\n");
    await fn(dir, `${dir}/fw.bin`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** write_peer.py's `write` against the server: one WRITE (after an OPEN with `--open`). */
const writePeer = (port: number, ...args: (string | number)[]) =>
  runPeer("write_peer.py", ["write", "127.0.0.1", port, ...args]);

const flags = (
  dir: string,
) => ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`];

Deno.test({
  name: "serve FILE refuses a plain RAP client's writes unless -w, and logs why",
  ignore: !HAS_PYTHON,
  async fn() {
    await withFile(async (dir, path) => {
      await using server = await startServe({ flags: flags(dir), args: [path] });
      // As r2 -w rap://H:P/ : no OPEN, the default file.
      const toDefault = await writePeer(server.port, "--data", "4a");
      assert.deepEqual(toDefault, { written: 0, read: "68" });
      // As r2 -w rap://H:P//path : OPEN with R|W.
      const opened = await writePeer(server.port, "--data", "4a", "--open", path);
      assert.deepEqual(opened, { written: 0, read: "68" });
      assert.equal(await Deno.readTextFile(path), "hello, radare2\n");
      const { status } = await server.stop();
      assert.equal(status.code, 0);
      assert.match(
        server.log,
        /WRITE refused: The server is read-only \(rap serve -w makes it writable\)/,
      );
    });
  },
});

Deno.test({
  name: "serve -w FILE takes a plain RAP client's writes, to the default file and to an OPEN",
  ignore: !HAS_PYTHON,
  async fn() {
    await withFile(async (dir, path) => {
      await using server = await startServe({ flags: flags(dir), args: ["-w", path] });
      const toDefault = await writePeer(server.port, "--data", "4a");
      assert.deepEqual(toDefault, { written: 1, read: "4a" });
      const opened = await writePeer(server.port, "--data", "4b", "--at", 1, "--open", path);
      assert.deepEqual(opened, { written: 1, read: "4b" });
      const { status } = await server.stop();
      assert.equal(status.code, 0);
      assert.equal(await Deno.readTextFile(path), "JKllo, radare2\n");
    });
  },
});

/** Run a real radare2 client; its stdout and stderr. */
async function r2(args: string[]): Promise<string> {
  const out = await new Deno.Command("r2", {
    args: ["-n", "-e", "scr.color=0", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return text.decode(out.stdout) + text.decode(out.stderr);
}

Deno.test({
  name: "a real radare2's r2 -w rap://H:P/ + wx is refused by serve FILE, taken by serve -w FILE",
  ignore: !HAS_R2,
  async fn() {
    await withFile(async (dir, path) => {
      for (const writable of [false, true]) {
        await using server = await startServe({
          flags: flags(dir),
          args: writable ? ["-w", path] : [path],
        });
        const out = await r2(["-w", "-qc", "wx 4a;p8 2", `rap://127.0.0.1:${server.port}/`]);
        const expected = writable ? "4a65" : "6865";
        assert.match(out, new RegExp(`^${expected}$`, "m"), out);
        if (!writable) assert.match(out, /ERROR: Cannot write/);
        const { status } = await server.stop();
        assert.equal(status.code, 0);
      }
      assert.equal(await Deno.readTextFile(path), "Jello, radare2\n");
    });
  },
});

Deno.test('a missing file is "no such file", with or without -w and --allow-write', async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_w_" }));
  try {
    for (const args of [[], ["-w"]]) {
      const out = await runRap([`--allow-read=${dir}`], ["serve", ...args, `${dir}/missing.bin`]);
      assert.equal(out.code, 1);
      assert.equal(out.stderr, `rap serve: Cannot open "${dir}/missing.bin": no such file\n`);
    }
    // An existing file without --allow-write still names the flag.
    await Deno.writeTextFile(`${dir}/there.bin`, "x");
    const out = await runRap([`--allow-read=${dir}`], ["serve", "-w", `${dir}/there.bin`]);
    assert.match(out.stderr, /write access is not granted/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve -w with --read-only is a usage error", async () => {
  const out = await runRap([], ["serve", "-w", "--read-only", "malloc://1"]);
  assert.equal(out.code, 2);
  assert.equal(
    out.stderr,
    "rap serve: -w (--writable) and --read-only cannot be combined (see rap serve --help)\n",
  );
});
