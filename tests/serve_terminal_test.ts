/**
 * A server started on a terminal never shows Deno's permission prompt for what a remote
 * client asks: the prompt would stop the whole server until someone answered, and the
 * answer (`A`: allow all reads) is not the client's to get. The server runs under a real
 * pty (`script`); a client's OPEN of a file, an archive or a host outside its flags is refused
 * with the flag named, and the server goes on serving.
 */

import assert from "node:assert/strict";
import { RapClient } from "../mod.ts";
import { CLI_PATH } from "./_serve_process.ts";

const HAS_SCRIPT = new Deno.Command("bash", { args: ["-c", "command -v script"], stdout: "null" })
  .outputSync().success;

Deno.test({
  name: "serve on a terminal: a remote OPEN outside the scope is refused without a prompt",
  ignore: !HAS_SCRIPT,
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_tty_" }));
    const outside = await Deno.makeTempFile({ prefix: "rap_tty_outside_" });
    try {
      await Deno.writeTextFile(`${dir}/in.txt`, "inside");
      await Deno.writeTextFile(outside, "outside");
      const command = `'${Deno.execPath()}' run --allow-net=127.0.0.1 --allow-read=${dir} ` +
        `'${CLI_PATH}' serve --port 0`;
      const child = new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      // The server's terminal, read as it comes; a prompt on it fails the test at once
      // (the server would wait for its answer, and every request with it).
      let screen = "";
      const changed = new EventTarget();
      const prompted = Promise.withResolvers<never>();
      prompted.promise.catch(() => {});
      const pump = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({
          write(text) {
            screen += text;
            if (/Deno requests|Allow\?/.test(screen)) {
              prompted.reject(new Error(`a prompt:\n${screen}`));
            }
            changed.dispatchEvent(new Event("text"));
          },
        }),
      ).catch(() => {});
      const until = (pattern: RegExp) =>
        Promise.race([
          prompted.promise,
          new Promise<void>((resolve) => {
            const look = () => {
              if (!pattern.test(screen)) return;
              changed.removeEventListener("text", look);
              resolve();
            };
            changed.addEventListener("text", look);
            look();
          }),
        ]);
      try {
        await until(/Listening on rap:\/\/127\.0\.0\.1:\d+\//);
        const port = Number(/rap:\/\/127\.0\.0\.1:(\d+)\//.exec(screen)![1]);
        // Files, archives and hosts the server may not reach, over plain RAP and with the
        // extensions (an error reply).
        const refused = [
          outside,
          `gzip://${outside}`,
          `zip://${outside}//x`,
          `mmap://${outside}`,
          "tcp://localhost:1",
          "http://localhost:1/x",
          "rap://localhost:1//x",
        ];
        for (const uri of refused) {
          for (const extensions of [false, true]) {
            await using client = await RapClient.connect({
              hostname: "127.0.0.1",
              port,
              extensions,
            });
            await Promise.race([assert.rejects(client.open(uri, 1)), prompted.promise]);
          }
        }
        await until(/OPEN failed: [^\n]*read access is not granted \(run with --allow-read=/);
        // Still serving, nothing waiting for an answer.
        await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
        await client.open(`${dir}/in.txt`, 1);
        assert.equal(new TextDecoder().decode(await client.read(0, 6)), "inside");
        assert.doesNotMatch(screen, /Deno requests|Allow\?/);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await pump;
        await child.stdin.close().catch(() => {});
        await stderr;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside);
    }
  },
});
