/**
 * The accept loop against outside peers: connections reset before they are accepted (a
 * port scanner's connect scan) and descriptor exhaustion under `ulimit -n`, while a
 * checker client in another process reads and compares bytes the whole time.
 */

import { AcceptLoop, AcceptLoopError } from "../mod.ts";
import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";
import { HAS_PYTHON, runPeer, sampleFile, startPeer } from "./_peer.ts";

Deno.test({
  name: "serve keeps accepting after 400 connections reset before accept (SO_LINGER 0)",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(256 * 1024);
    try {
      await using server = await startServe({ args: ["--max-connections", "1024"] });
      await using checker = startPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        server.port,
        path,
        "--seconds",
        4,
      ]);
      for (let round = 0; round < 4; round++) {
        const sent = await runPeer("rap_peer.py", [
          "reset",
          "127.0.0.1",
          server.port,
          "--count",
          100,
        ]);
        assert.equal(sent.sent, 100);
      }
      const checked = await checker.result;
      assert.deepEqual(checked.errors, [], server.log);
      assert.equal(checked.wrong, 0);
      assert.ok((checked.ops as number) > 0);
      // A new client after the storm is served as well.
      const after = await runPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        server.port,
        path,
        "--seconds",
        0.3,
      ]);
      assert.deepEqual(after.errors, []);
      assert.ok(!server.exited, server.log);
      const { status } = await server.stop();
      assert.equal(status.code, 0);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "serve under ulimit -n 64 backs off while 100 connections are held, then serves again",
  ignore: !HAS_PYTHON,
  async fn() {
    const path = await sampleFile(64 * 1024);
    try {
      await using server = await startServe({ fileLimit: 64, args: ["--max-connections", "1024"] });
      assert.equal(await server.fileLimit(), 64);
      await using checker = startPeer("rap_peer.py", [
        "check",
        "127.0.0.1",
        server.port,
        path,
        "--seconds",
        3,
      ]);
      // Give the checker its connection before the descriptors run out.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await using holder = startPeer("rap_peer.py", [
        "hold",
        "127.0.0.1",
        server.port,
        "--count",
        100,
        "--seconds",
        30,
      ]);
      const holding = await holder.waitFor("holding");
      assert.equal(holding.connected, 100); // the kernel queues what the server cannot take
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.match(
        server.log,
        /accept failed on 127\.0\.0\.1:\d+: Too many open files.*backing off/,
      );
      const checked = await checker.result;
      assert.deepEqual(checked.errors, [], server.log);
      assert.equal(checked.wrong, 0);
      await holder.release();
      await holder.result;
      // Descriptors are back: new clients are served, and the burst was summed up.
      let after: Record<string, unknown> = {};
      for (let attempt = 0; attempt < 20; attempt++) {
        after = await runPeer("rap_peer.py", [
          "check",
          "127.0.0.1",
          server.port,
          path,
          "--seconds",
          0.3,
        ]);
        if ((after.errors as string[]).length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(after.errors, [], server.log);
      assert.match(server.log, /accepting again on 127\.0\.0\.1:\d+ after \d+ failed attempt/);
      assert.ok(!server.exited);
      const { status } = await server.stop();
      assert.equal(status.code, 0);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test("AcceptLoop.finished rejects, naming the address, when the listener closes under it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const loop = new AcceptLoop(listener, {
    label: "[t]",
    log: () => {},
    onConnection: (c) => c.close(),
  });
  listener.close();
  const error = await loop.finished.then(() => undefined, (e) => e);
  assert.ok(error instanceof AcceptLoopError);
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: the listener was closed`));
});

Deno.test("AcceptLoop.close() ends the loop during a back-off without waiting it out", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const loop = new AcceptLoop(listener, {
    label: "[t]",
    log: () => {},
    onConnection: (c) => c.close(),
  });
  loop.close();
  await loop.finished;
  assert.ok(loop.closed);
});
