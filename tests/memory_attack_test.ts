/**
 * Memory attacks from outside the process: a python3 raw RAP client (tests/peers/
 * mem_peer.py) against a real `cli.ts serve`, while a checker client (rap_peer.py check)
 * reads and compares bytes. Zip and gzip bombs are refused before they are inflated, and
 * the server-wide `--max-memory` holds however many connections fill buffers.
 */

import assert from "node:assert/strict";
import { freePort, mib, startServe } from "./_serve_process.ts";
import { HAS_PYTHON, runPeer, sampleFile, startPeer } from "./_peer.ts";
import { buildZip, deflateZeros, sharedStreamZip } from "./_zip_bomb.ts";

const MiB = 1024 * 1024;

/** Collects the server's log and resolves when `count` lines have matched `pattern`. */
function logWatch() {
  const lines: string[] = [];
  const waiting: { pattern: RegExp; count: number; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiting]) {
      if (lines.filter((l) => w.pattern.test(l)).length >= w.count) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  return {
    onLog(line: string) {
      lines.push(line);
      check();
    },
    async waitFor(pattern: RegExp, count = 1): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.push({ pattern, count, resolve });
      check();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no ${count} log lines like ${pattern}:\n${lines.join("\n")}`)),
          30_000,
        );
      });
      try {
        await Promise.race([promise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_mem_attack_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Opened = { results: ({ uri: string; fd?: number; closed?: string })[] };

/**
 * Start `serve ARGS`, OPEN each URI from the raw client (one connection each) while a
 * checker client reads and compares a sample file, and check that every OPEN was refused
 * for `reason`, the checker saw no error, and the server's peak RSS stayed under `maxPeak`.
 */
async function assertRefused(
  args: string[],
  uris: string[],
  reason: RegExp,
  maxPeak: number,
): Promise<void> {
  const sample = await sampleFile(256 * 1024);
  try {
    const log = logWatch();
    await using server = await startServe({ args: ["-w", ...args], onLog: log.onLog });
    await using checker = startPeer("rap_peer.py", [
      "check",
      "127.0.0.1",
      server.port,
      sample,
      "--seconds",
      2,
    ]);
    const opened = await runPeer("mem_peer.py", ["open", "127.0.0.1", server.port, ...uris]);
    for (const result of (opened as Opened).results) {
      assert.ok(result.closed, JSON.stringify(result));
    }
    await log.waitFor(reason, uris.length); // the client may see the close before the log line
    const checked = await checker.result;
    assert.deepEqual(checked.errors, [], server.log);
    assert.equal(checked.wrong, 0);
    const peak = await server.peakRss();
    assert.ok(peak! < maxPeak, `peak RSS ${mib(peak)}`);
    assert.ok(!server.exited, server.log);
  } finally {
    await Deno.remove(sample);
  }
}

/** Start the filler peer: `count` connections, one after the other, each OPEN `uri` for writing. */
function startFiller(port: number, count: number, uri: string, extra: (string | number)[] = []) {
  return startPeer("mem_peer.py", [
    "fill",
    "127.0.0.1",
    port,
    "--count",
    count,
    "--uri",
    uri,
    ...extra,
  ]);
}

Deno.test({
  name: "serve refuses a 1 MB zip whose 8 entries share a 1 GiB deflate stream, before inflating",
  ignore: !HAS_PYTHON,
  async fn() {
    await withDir(async (dir) => {
      const bomb = `${dir}/bomb.zip`;
      await Deno.writeFile(bomb, sharedStreamZip(await deflateZeros(2 ** 30)));
      assert.ok((await Deno.stat(bomb)).size < 1.1 * MiB);
      await assertRefused(
        [],
        [`zipall://${bomb}`, `zip://${bomb}//zeros3.bin`],
        /OPEN failed: .*entries "zeros0\.bin" and "zeros1\.bin" overlap/,
        500 * MiB,
      );
    });
  },
});

Deno.test({
  name: "serve refuses members whose declared sizes pass --max-memory, before inflating",
  ignore: !HAS_PYTHON,
  async fn() {
    await withDir(async (dir) => {
      const stream = await deflateZeros(256 * MiB);
      const members = Array.from({ length: 8 }, (_, i) => ({ name: `m${i}`, ...stream }));
      const archive = `${dir}/big.zip`;
      await Deno.writeFile(archive, buildZip(members)); // 8 separate streams, no overlap
      await assertRefused(
        ["--max-session-memory", "4G", "--max-memory", "1G"],
        [`zipall://${archive}`],
        /opening 8 members \(2\.0 GiB declared\) needs 2\.0 GiB but only 1\.0 GiB of the server's memory budget is left \(--max-memory\)/,
        500 * MiB,
      );
    });
  },
});

Deno.test({
  name: "serve stops a gzip bomb (1 GiB of zeros) under a small --max-session-memory",
  ignore: !HAS_PYTHON,
  async fn() {
    await withDir(async (dir) => {
      const bomb = `${dir}/bomb.gz`;
      await Deno.writeFile(bomb, (await deflateZeros(2 ** 30, "gzip")).data);
      await assertRefused(
        ["--max-session-memory", "16M"],
        [`gzip://${bomb}`],
        /inflating it \(.* so far\) needs .* over its limit of 16777216 \(--max-session-memory\)/,
        300 * MiB,
      );
    });
  },
});

Deno.test({
  name:
    "four connections filling malloc://1G against --max-memory 2G: the third and fourth are refused",
  ignore: !HAS_PYTHON,
  async fn() {
    const log = logWatch();
    await using server = await startServe({
      args: ["-w", "--max-memory", "2G"],
      onLog: log.onLog,
    });
    await using filler = startFiller(server.port, 4, "malloc://1G");
    const filled = await filler.waitFor("filled");
    const results = filled.results as { fd?: number; wrote?: number; closed?: string }[];
    assert.deepEqual(results.slice(0, 2), [{ fd: 3, wrote: 1 }, { fd: 3, wrote: 1 }]);
    assert.ok(results[2].closed && results[3].closed, JSON.stringify(results));
    await log.waitFor( // the client may see the close before the line is logged
      /OPEN failed: Cannot open "malloc:\/\/1G": the buffer needs 1\.0 GiB but only 0 bytes of the server's memory budget is left \(--max-memory\)/,
      2,
    );
    const peak = await server.peakRss();
    assert.ok(peak! < 1024 * MiB, `peak RSS ${mib(peak)}`);
    // When the holders leave, their budget is free again.
    await filler.release();
    await filler.result;
    await log.waitFor(/: disconnected$/, 2);
    const again = await runPeer("mem_peer.py", [
      "open",
      "127.0.0.1",
      server.port,
      "malloc://1G",
    ]) as Opened;
    assert.equal(again.results[0].fd, 3, server.log);
    assert.ok(!server.exited);
    const { status } = await server.stop();
    assert.equal(status.code, 0);
  },
});

Deno.test({
  name: "HTTP sessions of serve draw from the same --max-memory as RAP clients",
  ignore: !HAS_PYTHON,
  async fn() {
    const httpPort = freePort();
    await using server = await startServe({
      flags: [`--allow-net=127.0.0.1`, "--allow-read"],
      args: ["-w", "--max-memory", "1536M", "--http-port", String(httpPort), "--allow-cmd", "open"],
    });
    await using filler = startFiller(server.port, 1, "malloc://1G");
    const filled = await filler.waitFor("filled");
    assert.deepEqual(filled.results, [{ fd: 3, wrote: 1 }]);
    const response = await fetch(`http://127.0.0.1:${httpPort}/cmd/o%20malloc://1G`);
    const text = await response.text();
    assert.match(
      text,
      /needs 1\.0 GiB but only 512\.0 MiB of the server's memory budget is left \(--max-memory\)/,
    );
  },
});

/** Whether `systemd-run --scope` can put a process under a real memory limit here. */
const CAN_LIMIT_MEMORY = (() => {
  try {
    return new Deno.Command("systemd-run", {
      args: ["--scope", "--quiet", "-p", "MemoryMax=256M", "--", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "under a real 1 GiB memory limit, bombs and filled buffers do not kill serve",
  ignore: !HAS_PYTHON || !CAN_LIMIT_MEMORY,
  async fn() {
    await withDir(async (dir) => {
      const bomb = `${dir}/bomb.zip`;
      await Deno.writeFile(bomb, sharedStreamZip(await deflateZeros(2 ** 30)));
      await using server = await startServe({
        wrap: ["systemd-run", "--scope", "--quiet", "-p", "MemoryMax=1G", "--"],
        args: ["-w", "--max-memory", "512M"],
      });
      await runPeer("mem_peer.py", ["open", "127.0.0.1", server.port, `zipall://${bomb}`]);
      await using filler = startFiller(server.port, 4, "malloc://256M", [
        "--size",
        256 * MiB,
        "--whole",
      ]);
      const filled = await filler.waitFor("filled");
      const results = filled.results as { fd?: number; closed?: string }[];
      assert.equal(results.filter((r) => r.fd === 3).length, 2, JSON.stringify(results));
      assert.ok(!server.exited, server.log);
    });
  },
});
