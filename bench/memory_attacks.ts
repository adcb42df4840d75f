/**
 * Memory attacks against a real `cli.ts serve` process, with figures: how long the server
 * takes to answer and how far its resident memory (VmHWM) climbs.
 *
 * - `zipall`: a 1 MB zip whose 8 central-directory entries share one deflate stream of
 *   1 GiB of zeros, opened as `zipall://` and as `zip://A//member` by a python3 raw RAP
 *   client;
 * - `gzip`: `gzip://` of 1 GiB of zeros (about 1 MB);
 * - `malloc`: 4 connections, one after the other, each OPENs `malloc://1G` and writes
 *   every byte of it (4 KiB plain RAP writes), all held open.
 *
 * A memory limit is simulated from outside: the server is killed (SIGKILL) as soon as its
 * RSS passes `--limit` (default 4 GiB), which is what an OOM killer would do.
 *
 * ```sh
 * deno run -A bench/memory_attacks.ts [zipall] [gzip] [malloc] [--limit 4G] [-- serve flags...]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { mib, startServe } from "../tests/_serve_process.ts";
import { startPeer } from "../tests/_peer.ts";
import { deflateZeros, sharedStreamZip } from "../tests/_zip_bomb.ts";
import { parseNumber } from "../lib/io/uri.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { limit: { type: "string", default: "4G" } },
  allowPositionals: true,
});
const dash = Deno.args.indexOf("--");
const serveFlags = dash >= 0 ? Deno.args.slice(dash + 1) : [];
const cases = positionals.filter((p) => !serveFlags.includes(p));
const limit = parseNumber(values.limit!);

/** Run `attack` against a fresh server, killing it when it passes the limit. */
async function measure(name: string, attack: (port: number) => Promise<string>): Promise<void> {
  await using server = await startServe({ args: ["-w", ...serveFlags] });
  let killedAt: number | undefined;
  const started = performance.now();
  let watching = true;
  const watcher = (async () => {
    while (watching && !server.exited) {
      const rss = await server.rss();
      if (rss !== undefined && rss > limit) {
        killedAt = (performance.now() - started) / 1000;
        await server.stop("SIGKILL", 1000);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let outcome: string;
  try {
    outcome = await attack(server.port);
  } catch (error) {
    outcome = `client failed: ${(error as Error).message.split("\n")[0]}`;
  }
  const seconds = (performance.now() - started) / 1000;
  const peak = await server.peakRss();
  watching = false;
  await watcher;
  console.log(
    killedAt !== undefined
      ? `${name}: KILLED at the simulated ${mib(limit)} limit after ${killedAt.toFixed(1)} s`
      : `${name}: ${seconds.toFixed(2)} s, peak RSS ${mib(peak)}, server alive: ${!server
        .exited}; ${outcome}`,
  );
  const lines = server.logTail.filter((l) => /OPEN failed|refused|closed:/.test(l)).slice(-4);
  for (const line of lines) console.log(`  log: ${line.slice(0, 220)}`);
}

if (cases.length === 0 || cases.includes("zipall")) {
  const path = await Deno.makeTempFile({ suffix: ".zip" });
  try {
    await Deno.writeFile(path, sharedStreamZip(await deflateZeros(2 ** 30)));
    console.log(`bomb: ${(await Deno.stat(path)).size} bytes, 8 entries x 1 GiB, one stream`);
    for (const uri of [`zipall://${path}`, `zip://${path}//zeros3.bin`]) {
      await measure(uri.split(":")[0], async (port) => {
        await using peer = startPeer("mem_peer.py", ["open", "127.0.0.1", port, uri]);
        await peer.release();
        return JSON.stringify(await peer.result);
      });
    }
  } finally {
    await Deno.remove(path);
  }
}

if (cases.length === 0 || cases.includes("gzip")) {
  const path = await Deno.makeTempFile({ suffix: ".gz" });
  try {
    await Deno.writeFile(path, (await deflateZeros(2 ** 30, "gzip")).data);
    console.log(`gzip bomb: ${(await Deno.stat(path)).size} bytes, 1 GiB of zeros`);
    await measure("gzip", async (port) => {
      await using peer = startPeer("mem_peer.py", ["open", "127.0.0.1", port, `gzip://${path}`]);
      await peer.release();
      return JSON.stringify(await peer.result);
    });
  } finally {
    await Deno.remove(path);
  }
}

if (cases.length === 0 || cases.includes("malloc")) {
  await measure("4 x malloc://1G, filled", async (port) => {
    await using peer = startPeer("mem_peer.py", [
      "fill",
      "127.0.0.1",
      port,
      "--count",
      4,
      "--uri",
      "malloc://1G",
      "--whole",
    ]);
    const filled = await peer.waitFor("filled");
    await peer.release();
    return JSON.stringify(filled.results);
  });
}
