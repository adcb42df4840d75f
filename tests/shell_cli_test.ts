import { RapServer } from "../mod.ts";
import assert from "node:assert/strict";
import { shellMain } from "../lib/cli/shell.ts";
import { createShellCommandHandler } from "../lib/shell/mod.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function runCli(
  args: string[],
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "shell", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("rap shell -qc runs commands on a URI and exits", async () => {
  const { code, stdout, stderr } = await runCli(["-qc", "px 16", "hex://7f454c46"]);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  assert.equal(
    stdout,
    "- offset -   0 1  2 3  4 5  6 7  8 9  A B  C D  E F  0123456789ABCDEF\n" +
      "0x00000000  7f45 4c46 ffff ffff ffff ffff ffff ffff  .ELF............\n",
  );
});

Deno.test("rap shell reads piped commands: =+, =0 px 16 and ==0 against our server", async () => {
  await using server = RapServer.listen({
    port: 0,
    log: () => {},
    commandHandler: createShellCommandHandler(),
  });
  const port = server.addr.port;
  const input = [
    `=+ rap://127.0.0.1:${port}//hex://41424344`,
    "=",
    "=0 px 16",
    "==0",
    "p8 2",
    "s 2",
    "q",
    "=0 p8 2",
    "?e done",
  ].join("\n") + "\n";
  const { code, stdout, stderr } = await runCli([], input);
  assert.equal(code, 0);
  assert.equal(stderr, "INFO: opened as fd = 3\n");
  assert.equal(
    stdout,
    `0 fd:3 rap://127.0.0.1:${port}//hex://41424344\n` +
      "- offset -   0 1  2 3  4 5  6 7  8 9  A B  C D  E F  0123456789ABCDEF\n" +
      "0x00000000  4142 4344 ffff ffff ffff ffff ffff ffff  ABCD............\n\n" +
      // radare2 prints each =N / == reply and a newline: "s 2" (no output) gives a "\n"
      "4142\n\n\n4344\n\ndone\n",
  );
});

Deno.test("rap shell -i runs a script; -w opens writable; errors go to stderr", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/data`, new Uint8Array(4));
    await Deno.writeTextFile(`${dir}/script.r2`, "wx cafe\nfoo\np8 4\n");
    const { code, stdout, stderr } = await runCli(["-wqi", `${dir}/script.r2`, `${dir}/data`]);
    assert.equal(code, 0);
    assert.equal(stdout, "cafe0000\n");
    assert.equal(stderr, 'ERROR: Unknown command "foo" (type ? for help)\n');
    assert.deepEqual([...await Deno.readFile(`${dir}/data`)], [0xca, 0xfe, 0, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rap shell exits 2 on usage errors and 1 when the URI cannot be opened", async () => {
  const usage = await runCli(["-x"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^rap shell: unknown option "-x" \(see rap shell --help\)\n$/);
  const missing = await runCli(["-c"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^rap shell: -c needs a value \(see rap shell --help\)\n$/);
  const two = await runCli(["a", "b"]);
  assert.equal(two.code, 2);
  const open = await runCli(["-q", "/nonexistent/file"]);
  assert.equal(open.code, 1);
  assert.match(open.stderr, /^rap shell: Cannot open "\/nonexistent\/file"/);
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: rap shell \[URI\]/);
});

Deno.test("on a terminal the shell prompts with the seek and edits lines", async () => {
  const keys = [
    "s 0x10\r",
    "?e x\x1b[Dy\r", // insert before the last character
    "\x1b[A\x1b[A\r", // history: s 0x10
    "qq\x7f\r", // backspace: q
  ].map((k) => encoder.encode(k));
  const out: string[] = [];
  const code = await shellMain(["malloc://32"], {
    stdin: ReadableStream.from([]),
    readRaw: (p) => {
      const next = keys.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
    setRaw: () => {},
    stdout: (b) => {
      out.push(decoder.decode(b));
      return Promise.resolve();
    },
    stderr: () => Promise.resolve(),
    isTerminal: true,
  });
  assert.equal(code, 0);
  const text = out.join("");
  assert.ok(text.startsWith("\r[0x00000000]> "));
  assert.ok(text.includes("\r[0x00000010]> "));
  assert.ok(text.includes("\r\nyx\n"));
  assert.equal(keys.length, 0);
});

Deno.test("^C stops a foreground =:port server and the shell goes on", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "shell", "-c", "=:0", "hex://4142"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.getReader();
  let log = "";
  while (!/listening on rap:\/\/127\.0\.0\.1:(\d+)\//.test(log)) {
    const { value, done } = await stderr.read();
    if (done) throw new Error(`the shell ended early: ${log}`);
    log += decoder.decode(value);
  }
  const port = Number(/listening on rap:\/\/127\.0\.0\.1:(\d+)\//.exec(log)![1]);
  const { RapClient } = await import("../lib/client/client.ts");
  {
    await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
    assert.equal(await client.cmd("p8 2"), "4142\n");
  }
  child.kill("SIGINT");
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode("?e back\n"));
  await writer.close();
  // Drain stderr to the end: cancelling the pipe would make the shell's last log line fail.
  const drain = (async () => {
    while (!(await stderr.read()).done) { /* discard */ }
  })();
  const [status, stdout] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    drain,
  ]);
  assert.equal(status.code, 0);
  assert.equal(stdout, "back\n");
});

Deno.test("rap shell -qc '=h 0' keeps serving until SIGTERM, as r2 -qc '=h PORT' FILE", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "shell", "-qc", "=h 0", "hex://7f454c46"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.getReader();
  let log = "";
  const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;
  while (!listening.test(log)) {
    const { value, done } = await stderr.read();
    if (done) throw new Error(`the shell ended early: ${log}`);
    log += decoder.decode(value);
  }
  const port = Number(listening.exec(log)![1]);
  // =h has not returned (so -q has not quit): it answers until the signal.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/cmd/p8%204`);
    assert.equal(await res.text(), "7f454c46\n");
  }
  child.kill("SIGTERM");
  const drain = (async () => {
    while (!(await stderr.read()).done) { /* discard */ }
  })();
  const [status] = await Promise.all([child.status, child.stdout.cancel(), drain]);
  assert.equal(status.code, 0);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});
