/**
 * A remote client cannot read the server's standard input, whatever path leads there: a
 * `cli.ts serve` subprocess under `-A` has a marker piped into its stdin, and every way a
 * client can name that pipe (`/dev/stdin`, `/dev/fd/../fd/0`, `/proc/PID/fd/0` of the
 * server's own pid, a link in a temp dir to them, under every path scheme) is refused;
 * the marker never comes back, and the server goes on serving.
 */

import { RapClient, RapConnectionError } from "../mod.ts";
import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";

const MARKER = "STDIN-MARKER-7f3a";

Deno.test("under -A, no path to the server's piped stdin opens for a remote client, and the marker never comes back", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_stdin_" }));
  try {
    await using server = await startServe({
      flags: ["--allow-all"],
      stdin: new TextEncoder().encode(`${MARKER}\n`),
      keepLines: 1000,
    });
    const pid = server.pid;
    await Deno.writeTextFile(`${dir}/plain.txt`, "plain");
    await Deno.symlink(`/proc/${pid}/fd/0`, `${dir}/to_fd0`);
    await Deno.symlink("/dev/stdin", `${dir}/to_stdin`);
    await Deno.symlink(`/dev/fd`, `${dir}/fds`);
    const paths = [
      "/dev/stdin",
      "/dev/fd/0",
      "/dev/fd/../fd/0",
      "/dev/./fd/0",
      "/proc/self/fd/0",
      `/proc/${pid}/fd/0`,
      `/proc/${pid}/task/${pid}/fd/0`,
      `/proc/self/fd/../fd/0`,
      `${dir}/to_fd0`,
      `${dir}/to_stdin`,
      `${dir}/fds/0`,
    ];
    const uris = [
      "stdin://",
      ...paths,
      ...paths.map((p) => `slurp://${p}`),
      `hexfile://${dir}/to_stdin`,
      `file://${dir}/to_fd0`,
      `mmap://${dir}/to_stdin`,
      `gzip://${dir}/to_stdin`,
      `ihex://${dir}/to_fd0`,
      `srec://${dir}/to_stdin`,
      `bfdbg://${dir}/to_stdin`,
      `zip://${dir}/to_stdin//x`,
      `ar://${dir}/to_stdin//x`,
    ];
    await using client = await RapClient.connect({
      hostname: "127.0.0.1",
      port: server.port,
      extensions: true,
    });
    for (const uri of uris) {
      await assert.rejects(
        client.open(uri),
        /a remote client cannot read the server's standard input/,
        uri,
      );
    }
    // A plain radare2-style client's refused OPEN closes its connection, nothing more.
    const plain = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
    await assert.rejects(plain.open(`slurp:///dev/fd/../fd/0`), RapConnectionError);
    await plain.close();
    // The server still serves, and what is not stdin opens.
    await client.open(`${dir}/plain.txt`);
    assert.equal(new TextDecoder().decode(await client.read(0, 5)), "plain");
    assert.ok(!server.log.includes(MARKER), server.log);
    await client.close();
    const { status } = await server.stop();
    assert.equal(status.code, 0, server.log);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
