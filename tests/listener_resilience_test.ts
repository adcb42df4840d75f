/**
 * The other listeners on the one accept loop, against outside peers (python3 raw sockets):
 * the shell's `=t PORT` command server and the `tcp-slurp://:PORT` listen form keep working
 * when connections are reset before they are accepted (SO_LINGER 0) or sit silent.
 */

import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { slurpTcp } from "../plugins/tcp.ts";
import type { ShellOutput } from "../lib/shell/output.ts";
import { Shell } from "../lib/shell/shell.ts";
import { HAS_PYTHON, runPeer, startPeer } from "./_peer.ts";

/** A shell output that resolves `port` once the `=t` server announces itself. */
function announcing(): { out: ShellOutput; port: Promise<number> } {
  const port = Promise.withResolvers<number>();
  const out: ShellOutput = {
    write: () => {},
    message: (line) => {
      const m = /listening on [\d.]+:(\d+)/.exec(line);
      if (m) port.resolve(Number(m[1]));
    },
  };
  return { out, port: port.promise };
}

Deno.test({
  name: "=t keeps serving commands through 300 resets before accept and 40 silent connections",
  ignore: !HAS_PYTHON,
  async fn() {
    await using server = new Shell();
    await server.session.open("hex://5a5a");
    const { out, port: announced } = announcing();
    const serving = server.execute("=t 0", out);
    const port = await announced;
    await using client = new Shell();
    // The checker: a command and its bytes, again and again, while the peers do their worst.
    let stop = false;
    const answers: string[] = [];
    const checking = (async () => {
      for (let i = 0; i < 10_000 && !stop; i++) {
        answers.push(await client.run(`=t 127.0.0.1:${port} p8 2`));
      }
    })();
    await using silent = startPeer("rap_peer.py", [
      "hold",
      "127.0.0.1",
      port,
      "--count",
      40,
      "--seconds",
      30,
    ]);
    assert.equal((await silent.waitFor("holding")).connected, 40);
    for (let round = 0; round < 3; round++) {
      const { sent } = await runPeer("rap_peer.py", ["reset", "127.0.0.1", port, "--count", 100]);
      assert.equal(sent, 100);
    }
    assert.equal(await client.run(`=t 127.0.0.1:${port} ?e still here`), "still here\n");
    stop = true;
    await checking;
    assert.ok(answers.length > 0);
    assert.deepEqual([...new Set(answers)], ["5a5a\n"]);
    await silent.release();
    server.interrupt();
    await serving;
  },
});

Deno.test({
  name: "tcp-slurp://:PORT takes the first peer that sends data, after resets and silent peers",
  ignore: !HAS_PYTHON,
  async fn() {
    const payload = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);
    let peers: Promise<void> | undefined;
    const desc = await slurpTcp("tcp-slurp://:0", {
      onListen: ({ port }) => {
        peers = (async () => {
          const { sent } = await runPeer("rap_peer.py", [
            "reset",
            "127.0.0.1",
            port,
            "--count",
            200,
          ]);
          assert.equal(sent, 200);
          await using silent = startPeer("rap_peer.py", [
            "hold",
            "127.0.0.1",
            port,
            "--count",
            5,
            "--seconds",
            30,
          ]);
          await silent.waitFor("holding");
          // A health check: connects and closes without a byte.
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          using conn = await Deno.connect({ hostname: "127.0.0.1", port });
          for (let at = 0; at < payload.length;) at += await conn.write(payload.subarray(at));
        })();
      },
    });
    await peers;
    assert.equal(await desc.size(), payload.length);
    assert.deepEqual(await desc.read(0, payload.length), payload);
    await desc.close();
  },
});
