/**
 * What a user of the terminal and a service manager see: `serve`'s log lines carry their
 * time (RAP and HTTP alike), `--log-format json` writes one JSON object per line, `cat` to
 * a file shows a progress line on a terminal's stderr (a real pty, from `script`) and none
 * on a pipe, `=h`/`=l` under narrow flags name the flags in one line instead of prompting,
 * and `deno task serve` reads only this directory.
 */

import assert from "node:assert/strict";
import { RapClient } from "../mod.ts";
import { CLI_PATH } from "./_serve_process.ts";

const decoder = new TextDecoder();
const has = (tool: string) =>
  new Deno.Command("bash", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync()
    .success;

/** Run `serve ARGS` on free ports, make one RAP and one HTTP request, stop it; its stderr. */
async function serveOnce(args: string[]): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", CLI_PATH, "serve", "--port", "0", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/Listening on http:\/\/[^\n]*\n/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve ended: ${seen}${await stderr}`);
    seen += value;
  }
  const rapPort = Number(/rap:\/\/127\.0\.0\.1:(\d+)\//.exec(seen)![1]);
  const httpUrl = /(http:\/\/127\.0\.0\.1:\d+\/cmd\/)/.exec(seen)![1];
  {
    await using client = await RapClient.connect({ hostname: "127.0.0.1", port: rapPort });
    assert.deepEqual([...await client.read(0, 1)], [0x41]);
  }
  assert.equal(await (await fetch(`${httpUrl}p8%201`)).text(), "41\n");
  child.kill("SIGTERM");
  await child.status;
  await reader.cancel();
  return (await stderr).trimEnd().split("\n");
}

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(rap|http)\] /;

Deno.test("every log line of serve starts with its time, RAP and HTTP alike", async () => {
  const lines = await serveOnce(["--http-port", "0", "hex://41"]);
  for (const line of lines) assert.match(line, STAMP);
  assert.ok(lines.some((l) => / \[rap\] 127\.0\.0\.1:\d+: connected$/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => / \[http\] 127\.0\.0\.1:\d+ GET \/cmd\/p8%201 200 /.test(l)));
  assert.ok(lines.some((l) => / \[rap\] shutting down$/.test(l)));
});

Deno.test("serve --log-format json writes one JSON object per line, with time, level, door and peer", async () => {
  const lines = await serveOnce(["--log-format", "json", "--http-port", "0", "hex://41"]);
  const records = lines.map((l) => JSON.parse(l) as Record<string, string>);
  for (const r of records) {
    assert.ok(!Number.isNaN(Date.parse(r.time)), r.time);
    assert.ok(r.level === "info" || r.level === "warn");
    assert.ok(typeof r.message === "string");
  }
  const connected = records.find((r) => r.door === "rap" && r.message === "connected");
  assert.match(connected?.peer ?? "", /^127\.0\.0\.1:\d+$/);
  const request = records.find((r) => r.door === "http" && /^GET /.test(r.message));
  assert.match(request?.peer ?? "", /^127\.0\.0\.1:\d+$/);
  assert.ok(records.some((r) => r.door === "rap" && r.message === "shutting down"));
});

Deno.test({
  name: "cat to a file shows a progress line on a terminal's stderr, and clears it",
  ignore: !has("script"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rap_progress_" });
    try {
      await Deno.writeFile(`${dir}/in.bin`, new Uint8Array(3 << 20).fill(7));
      const command = `'${Deno.execPath()}' run --quiet --allow-read=${dir} '${CLI_PATH}' ` +
        `cat ${dir}/in.bin > ${dir}/out.bin`;
      // script gives the command a pty for stdin, stdout and stderr; stdout goes to a file.
      const out = await new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      const screen = decoder.decode(out.stdout);
      const drawn = new RegExp(
        String.raw`\r\x1b\[2Krap cat: [\d.]+ [KMG]?i?B of 3 MiB \(\d+%\), [^\r]* left`,
      );
      assert.match(screen, drawn);
      assert.ok(screen.endsWith("\r\x1b[2K"), JSON.stringify(screen));
      assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), new Uint8Array(3 << 20).fill(7));
      // Not a terminal: no progress at all.
      const piped = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", `--allow-read=${dir}`, CLI_PATH, "cat", `${dir}/in.bin`],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(decoder.decode(piped.stderr), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "=h and =l under narrow flags on a terminal: one line naming the flags, no prompt",
  ignore: !has("script"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rap_sessions_" });
    try {
      const command = `'${Deno.execPath()}' run --quiet --allow-net=127.0.0.1 '${CLI_PATH}' shell`;
      // The shell's stdin is the pty: Deno would prompt there, and its prompt would eat the
      // lines typed ahead. They are all typed at once.
      const child = new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        env: { TMPDIR: dir },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const typing = child.stdin.getWriter();
      await typing.write(new TextEncoder().encode("=h 0\n=l\n?e still here\nq\n"));
      await typing.close();
      const out = await child.output();
      const screen = decoder.decode(out.stdout);
      assert.equal(out.code, 0, screen);
      assert.doesNotMatch(screen, /Deno requests|Allow\?/);
      // TMPDIR is not readable without --allow-env: the note names /tmp/r2 and the flags.
      assert.match(
        screen,
        /WARN: session not registered for =l: writing \/tmp\/r2 needs deno's --allow-read=\/tmp\/r2 --allow-write=\/tmp\/r2 --allow-env=TMPDIR/,
      );
      assert.match(screen, /ERROR: reading \/tmp\/r2 needs deno's --allow-read=\/tmp\/r2/);
      assert.match(screen, /still here/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task serve reads only this directory", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  assert.equal(
    config.tasks.serve,
    "deno run --allow-net=127.0.0.1:9999 --allow-read=. cli.ts serve",
  );
  // A file outside is refused before anything listens (no port is taken).
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "serve", "/etc/hostname"],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  assert.equal(
    decoder.decode(out.stderr),
    'rap serve: Cannot open "/etc/hostname": read access is not granted ' +
      "(run with --allow-read=/etc/hostname)\n",
  );
});
