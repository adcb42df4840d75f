/**
 * `rap cat` as a user runs it, a process of its own: 256 MiB through `rap serve` (and from a
 * local file) with every byte checked, and the peak RSS of `cat` (and of the server) under
 * a bound. Before the bulk reads went into reused buffers, `cat` of 256 MiB peaked at about
 * 120 MiB; streamed, it stays near 47 MiB. No timing is asserted.
 */

import assert from "node:assert/strict";
import { CLI_PATH, mib, startServe } from "./_serve_process.ts";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** The bound on `cat`'s peak RSS: the whole-process benchmark's target (it peaks near 47 MiB). */
const CAT_PEAK = 64 * MiB;
/** The server's bound: its READ_AT buffers come from a pool of 8 MiB. */
const SERVE_PEAK = 160 * MiB;

/** One random MiB; block `k` of the file is it with its first two bytes set to `k`. */
const BLOCK = crypto.getRandomValues(new Uint8Array(64 * 1024));
const BASE = new Uint8Array(MiB);
for (let at = 0; at < MiB; at += BLOCK.length) BASE.set(BLOCK, at);

function blockOf(k: number, into = new Uint8Array(MiB)): Uint8Array {
  into.set(BASE);
  into[0] = k & 0xff;
  into[1] = k >> 8;
  return into;
}

async function bigFile(): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  using file = await Deno.open(path, { write: true });
  const block = new Uint8Array(MiB);
  for (let k = 0; k < SIZE / MiB; k++) {
    const bytes = blockOf(k, block);
    for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
  }
  return path;
}

/** `VmHWM` of a live process, in bytes. */
async function peakOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/**
 * Run `cli.ts cat URI`, check its output against the file's blocks, and read its peak RSS
 * while it still has 8 MiB to write (it cannot have exited: the pipe holds 64 KiB).
 */
async function catPeak(uri: string): Promise<number> {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", CLI_PATH, "cat", uri],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errors = new Response(child.stderr).text();
  const expected = new Uint8Array(MiB);
  let got = 0;
  let peak: number | undefined;
  let wrong = -1;
  for await (const chunk of child.stdout) {
    for (let i = 0; i < chunk.length && wrong < 0;) {
      const k = Math.floor((got + i) / MiB);
      const within = (got + i) % MiB;
      blockOf(k, expected);
      const n = Math.min(chunk.length - i, MiB - within);
      const part = chunk.subarray(i, i + n);
      const want = expected.subarray(within, within + n);
      for (let j = 0; j < n; j++) {
        if (part[j] !== want[j]) {
          wrong = got + i + j;
          break;
        }
      }
      i += n;
    }
    got += chunk.length;
    if (peak === undefined && got >= SIZE - 8 * MiB) peak = await peakOf(child.pid);
  }
  const status = await child.status;
  assert.ok(status.success, await errors);
  await errors;
  assert.equal(got, SIZE);
  assert.equal(wrong, -1, `first wrong byte at ${wrong}`);
  return peak!;
}

Deno.test({
  name: "rap cat of 256 MiB through rap serve: every byte right, peak RSS of both bounded",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const path = await bigFile();
    try {
      await using server = await startServe();
      const peak = await catPeak(`rap://127.0.0.1:${server.port}/${path}`);
      assert.ok(peak < CAT_PEAK, `rap cat peak RSS ${mib(peak)}, bound ${mib(CAT_PEAK)}`);
      const served = await server.peakRss();
      assert.ok(
        served! < SERVE_PEAK,
        `rap serve peak RSS ${mib(served)}, bound ${mib(SERVE_PEAK)}`,
      );
      // The same from the local file.
      const local = await catPeak(path);
      assert.ok(local < CAT_PEAK, `rap cat PATH peak RSS ${mib(local)}, bound ${mib(CAT_PEAK)}`);
    } finally {
      await Deno.remove(path);
    }
  },
});
