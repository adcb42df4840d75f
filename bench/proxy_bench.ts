/**
 * `deno task bench:proxy`: radare2 over a slow link, straight to the server and through
 * `rap proxy`. A delay relay of our own (`delay_relay.ts`: a fixed one-way delay each
 * direction) stands for the link; the server (`cli.ts serve`) and the proxy (`cli.ts
 * proxy`) are separate processes:
 *
 * ```
 * direct:   client ──(relay: RTT)── serve
 * proxied:  client ── proxy ──(relay: RTT)── serve
 * ```
 *
 * ```sh
 * deno task bench:proxy                 # 1, 10 and 50 ms round trips (about 2 minutes)
 * deno run -A bench/proxy_bench.ts --rtt 10
 * ```
 *
 * At each round trip it times a radare2-style lock-step client (SEEK, SEEK, SEEK, READ per
 * 4 KiB block, each waiting for its reply, as radare2 6.x does) reading 256 KiB
 * sequentially and 64 random 4 KiB blocks of a 64 MiB file, and, when `r2` is on PATH, a
 * real `r2 -n -qc 'b 4096;p8 4096 @@s:0 262144 4096' rap://127.0.0.1:P//FILE`. Every read
 * is compared with the file (r2's output with the direct run's). Figures are printed;
 * nothing is asserted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RapClient } from "../lib/client/client.ts";
import { Whence } from "../lib/protocol/constants.ts";
import { startServe } from "../tests/_serve_process.ts";
import { describeMachine, hasCommand, markdownTable, median } from "./_bench_support.ts";
import { DelayRelay } from "./delay_relay.ts";

const BLOCK = 4096;
const FILE_SIZE = 64 << 20;
const SEQUENTIAL = 256 << 10;
const RANDOM_BLOCKS = 64;

/** radare2's way: SEEK END, SEEK SET, then SEEK+READ, each waiting for its reply. */
async function lockStep(port: number, path: string, offsets: number[], file: Uint8Array) {
  const started = performance.now();
  await using client = await RapClient.connect({
    hostname: "127.0.0.1",
    port,
    window: 1,
    timeout: 120_000,
  });
  await client.open(path);
  for (const at of offsets) {
    await client.seek(0n, Whence.END);
    await client.seek(BigInt(at), Whence.SET);
    const got = await client.read(at, BLOCK); // its SEEK, then READ
    if (!got.every((b, i) => b === file[at + i])) throw new Error(`wrong bytes at ${at}`);
  }
  return performance.now() - started;
}

/** A real r2 reading 256 KiB in 4 KiB blocks; its time and output. */
async function realR2(port: number, path: string): Promise<{ ms: number; out: string }> {
  const started = performance.now();
  const script = `b ${BLOCK};p8 ${BLOCK} @@s:0 ${SEQUENTIAL} ${BLOCK}`;
  const result = await new Deno.Command("r2", {
    args: ["-n", "-qc", script, `rap://127.0.0.1:${port}/${path}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!result.success) throw new Error("r2 failed");
  return { ms: performance.now() - started, out: new TextDecoder().decode(result.stdout) };
}

/** The relay's real round trip: the median of 20 SEEK round trips through it to the server. */
async function measuredRtt(port: number): Promise<number> {
  await using client = await RapClient.connect({ hostname: "127.0.0.1", port, window: 1 });
  await client.open("malloc://4K");
  const times = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await client.seek(0n, Whence.CUR);
    times.push(performance.now() - started);
  }
  return median(times);
}

function randomOffsets(count: number, seed: number): number[] {
  const out = [];
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out.push((seed % (FILE_SIZE / BLOCK)) * BLOCK);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rtt: { type: "string", multiple: true },
      runs: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("Usage: deno run -A bench/proxy_bench.ts [--rtt MS ...] [--runs N]");
    return;
  }
  const rtts = (values.rtt ?? ["1", "10", "50"]).map(Number);
  const runs = Number(values.runs ?? 3);
  const hasR2 = await hasCommand("r2", ["-v"]);
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  const file = new Uint8Array(FILE_SIZE);
  crypto.getRandomValues(file.subarray(0, 65536));
  for (let at = 65536; at < FILE_SIZE; at += 65536) file.copyWithin(at, 0, 65536);
  for (let at = 0; at < FILE_SIZE; at += 4096) file[at] = (at >> 12) & 0xff; // no two blocks alike
  await Deno.writeFile(path, file);
  await using server = await startServe({ args: [] });
  const sequential = Array.from({ length: SEQUENTIAL / BLOCK }, (_, i) => i * BLOCK);
  const random = randomOffsets(RANDOM_BLOCKS, 42);
  const rows: string[][] = [];
  try {
    for (const rtt of rtts) {
      await using relay = DelayRelay.start({ port: server.port, delayMs: rtt / 2 });
      await using proxy = await startServe({
        command: "proxy",
        args: [`rap://127.0.0.1:${relay.port}`],
      });
      const real = (await measuredRtt(relay.port)).toFixed(1);
      const cases: [string, (port: number) => Promise<number>][] = [
        ["lock-step, 256 KiB sequential", (p) => lockStep(p, path, sequential, file)],
        ["lock-step, 64 random blocks", (p) => lockStep(p, path, random, file)],
      ];
      if (hasR2) {
        let reference: string | undefined;
        cases.push(["r2 p8 @@s, 256 KiB", async (p) => {
          const { ms, out } = await realR2(p, path);
          reference ??= out;
          if (out !== reference || out.length < SEQUENTIAL * 2) throw new Error("r2 bytes differ");
          return ms;
        }]);
      }
      for (const [name, run] of cases) {
        const direct: number[] = [];
        const proxied: number[] = [];
        for (let i = 0; i < runs; i++) {
          direct.push(await run(relay.port));
          proxied.push(await run(proxy.port));
        }
        const d = median(direct);
        const p = median(proxied);
        rows.push([
          `${rtt} ms (${real})`,
          name,
          d.toFixed(0),
          p.toFixed(0),
          `${(d / p).toFixed(1)}×`,
        ]);
        console.error(`${rtt} ms ${name}: ${d.toFixed(0)} ms direct, ${p.toFixed(0)} ms proxied`);
      }
    }
  } finally {
    await Deno.remove(path);
  }
  console.log(`\n${describeMachine()}; median of ${runs} runs; bytes checked\n`);
  console.log(
    markdownTable(["RTT (measured)", "client", "direct ms", "via proxy ms", "speed-up"], rows),
  );
}

if (import.meta.main) await main();
