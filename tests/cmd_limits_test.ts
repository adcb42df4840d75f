/**
 * Command limits against outside peers: a `cli.ts serve` process, a raw-socket python3
 * client sending CMDs whose output or work is huge, and a checker client reading and
 * comparing bytes on another connection the whole time.
 */

import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";
import { HAS_PYTHON, runPeer, sampleFile } from "./_peer.ts";

interface CmdResult {
  cmd: string;
  bytes: number;
  head: string;
  tail: string;
  ops_inside: number;
  probe: string;
  nonzero_after_probe: number | null;
}

const NOTE = /\n\[output truncated at 16383 bytes; use @ and a smaller size\]\n$/;

/**
 * Serve `malloc://1M` with `serveArgs`, run cmd_peer.py's CMDs (and its checker), check
 * that the checker saw no error and that the server is still up, and return the results.
 */
async function runCmds(
  serveArgs: string[],
  peerArgs: (string | number)[],
): Promise<{ results: CmdResult[]; peakRss: number; log: string }> {
  const path = await sampleFile(256 * 1024);
  try {
    await using server = await startServe({ args: ["-w", "malloc://1M", ...serveArgs] });
    const result = await runPeer("cmd_peer.py", [
      "cmds",
      "127.0.0.1",
      server.port,
      path,
      ...peerArgs,
    ]);
    const checker = result.checker as { ops: number; errors: string[]; wrong: number };
    assert.deepEqual(checker.errors, [], server.log);
    assert.equal(checker.wrong, 0);
    assert.ok(checker.ops > 0);
    const peakRss = (await server.peakRss())!;
    assert.ok(!server.exited, server.log);
    const { status } = await server.stop();
    assert.equal(status.code, 0);
    return { results: result.results as CmdResult[], peakRss, log: server.log };
  } finally {
    await Deno.remove(path);
  }
}

Deno.test({
  name: "serve answers px 32M and other huge CMDs, capped or refused, serving a checker meanwhile",
  ignore: !HAS_PYTHON,
  async fn() {
    const cmds: [string, (r: CmdResult) => void][] = [
      ["px 32M", (r) => {
        assert.match(r.head, /^- offset - /);
        assert.match(r.tail, NOTE);
      }],
      ["px 0x7fffffff", (r) => assert.match(r.head, /^ERROR: Length "0x7fffffff" .*too large/)],
      ["p8 99999999", (r) => assert.match(r.head, /^ERROR: Length "99999999" .*too large/)],
      ["pxw 32M", (r) => assert.match(r.tail, NOTE)],
      ["b 32M; px; b 256", (r) => assert.match(r.tail, NOTE)],
      ["99999p8 32M", (r) => assert.match(r.tail, NOTE)],
      ["?e x @@s:0 0xfffff 1", (r) => assert.match(r.tail, NOTE)],
      ["px 16 @@s:0 0xffffffffffffffff 1", (r) => assert.match(r.head, /^ERROR: Too many/)],
      ["4294967296px 16", (r) => assert.match(r.head, /^ERROR: Too many iterations/)],
      ["px 32M~0x", (r) => assert.match(r.head, /^ERROR: Output of "px" is over 1048576/)],
      // No output, much work: it must leave room for the checker (or time out, 5 s).
      ["s+ 1 @@s:0 0x7ffff 1", (r) => {
        assert.match(r.head, /^$|^Command timed out/);
        assert.ok(r.ops_inside > 0, "no checker op was served while the command ran");
      }],
    ];
    const { results, peakRss } = await runCmds([], cmds.flatMap(([cmd]) => ["--cmd", cmd]));
    assert.equal(results.length, cmds.length);
    for (const [i, [cmd, check]] of cmds.entries()) {
      const r = results[i];
      assert.equal(r.cmd, cmd);
      assert.ok(r.bytes <= 16383, `${cmd}: ${r.bytes} bytes`);
      check(r);
      assert.equal(r.probe, "probe\n", `${cmd}: the next command`);
    }
    assert.ok(peakRss < 400 * 2 ** 20, `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`);
  },
});

Deno.test({
  name: "serve --cmd-timeout 200 stops a long command: the timeout line, and no more work after it",
  ignore: !HAS_PYTHON,
  async fn() {
    const size = 1 << 20;
    const { results: [r], log } = await runCmds(["--cmd-timeout", "200"], [
      "--cmd",
      "wx 01 @@s:0 0xfffff 1", // a byte at a time over the whole 1 MiB: seconds of work
      "--probe",
      "s", // takes the session's lock: it would wait for a command that still runs
      "--nonzero",
      size,
    ]);
    assert.equal(r.head, "Command timed out after 200 ms (--cmd-timeout)\n");
    assert.match(r.probe, /^0x[0-9a-f]+\n$/);
    // Had the loop gone on, the probe would have waited for it to write every byte.
    assert.ok(r.nonzero_after_probe! < size, `${r.nonzero_after_probe} bytes written`);
    assert.ok(r.nonzero_after_probe! > 0);
    assert.match(log, /command timed out after 200 ms \(--cmd-timeout\)/);
  },
});
