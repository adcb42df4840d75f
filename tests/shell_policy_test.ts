import { RapClient, RapServer } from "../mod.ts";
import assert from "node:assert/strict";
import {
  CommandPolicy,
  createShellCommandHandler,
  parseCommandPolicy,
  Shell,
  truncateOutput,
} from "../lib/shell/mod.ts";

Deno.test("the restricted policy refuses every command that leaves the session's files", async () => {
  await using shell = new Shell({ policy: CommandPolicy.RESTRICTED });
  await shell.session.open("malloc://16", { write: true });
  const refused: [string, string][] = [
    ["o /etc/passwd", "open"],
    ["o+ malloc://1", "open"],
    ["oo+", "open"],
    ["wtf /tmp/x", "fs"],
    ["p8 4 > /tmp/x", "fs"],
    ["p8 4 >> /tmp/x", "fs"],
    ["!id", "system"],
    [":help", "system"],
    ["=", "remote"],
    ["=+ rap://127.0.0.1:1/", "remote"],
    ["=h 0", "remote"],
    ["!=!", "remote"],
  ];
  for (const [command, cap] of refused) {
    const out = await shell.run(command);
    assert.match(
      out,
      new RegExp(`^ERROR: Command ".*" is not allowed here: it needs the "${cap}"`),
      command,
    );
    assert.match(out, new RegExp(`--allow-cmd=${cap}\\)\\n$`), command);
    assert.equal(out.split("\n").length, 2, command);
  }
  assert.equal(
    await shell.run("wx 4142; p8 2; s 1; px 1~0x; o~malloc"),
    "4142\n0x00000001  42                                       B\n 3 * rwx 0x00000010 malloc://16\n",
  );
  assert.equal(await shell.run("o-3; o"), "");
});

Deno.test("capabilities widen the policy one by one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using shell = new Shell({ policy: parseCommandPolicy(["fs"]) });
    await shell.session.open("hex://41");
    assert.equal(await shell.run(`p8 1 > ${dir}/out`), "");
    assert.equal(await Deno.readTextFile(`${dir}/out`), "41\n");
    assert.match(await shell.run("o hex://42"), /needs the "open" capability/);
    shell.policy = shell.policy.with("open");
    assert.equal(await shell.run("o hex://42; p8 1"), "42\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseCommandPolicy reads --allow-cmd values", () => {
  assert.deepEqual(parseCommandPolicy(["open", "fs,system"]).capabilities, [
    "open",
    "fs",
    "system",
  ]);
  assert.deepEqual(parseCommandPolicy("all").capabilities, ["open", "fs", "remote", "system"]);
  assert.deepEqual(parseCommandPolicy(["none"]).capabilities, []);
  assert.throws(
    () => parseCommandPolicy(["fs,disk"]),
    /Unknown command capability "disk".*open, fs, remote, system, all or none/,
  );
});

Deno.test("RAP clients of the shell handler get their own session and refused commands say so", async () => {
  await using server = RapServer.listen({
    port: 0,
    defaultUri: "malloc://32",
    log: () => {},
    commandHandler: createShellCommandHandler(),
  });
  await using a = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await using b = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
  assert.equal(await a.cmd("s 0x10; s"), "0x10\n");
  assert.equal(await b.cmd("s"), "0x0\n");
  assert.equal(await a.cmd(""), "");
  assert.equal(await a.cmd("# a comment"), "");
  assert.equal(await a.cmd("q"), ""); // a peer cannot stop anything
  assert.equal(await a.cmd("?e still here"), "still here\n");
  assert.match(
    await a.cmd("!id"),
    /^ERROR: Command "!" is not allowed here: it needs the "system" capability/,
  );
  assert.match(await a.cmd("o /etc/passwd"), /"open" capability/);
});

Deno.test("--allow-cmd style policies reach the server's shell handler", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = RapServer.listen({
      port: 0,
      defaultUri: "hex://6869",
      log: () => {},
      commandHandler: createShellCommandHandler({ policy: parseCommandPolicy(["fs"]) }),
    });
    await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
    assert.match(await client.cmd(`wtf ${dir}/dump 2`), /Dumped 2 bytes/);
    assert.equal(await Deno.readTextFile(`${dir}/dump`), "hi");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CMD output over 16383 bytes is cut with a note, so radare2 clients accept it", async () => {
  await using server = RapServer.listen({
    port: 0,
    defaultUri: "malloc://8192",
    log: () => {},
    commandHandler: createShellCommandHandler(),
  });
  await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const out = await client.cmd("px 4096"); // 17990 bytes in radare2
  assert.ok(new TextEncoder().encode(out).length <= 16383);
  assert.match(out, /^- offset -/);
  // Cut while produced: the whole size is not known, the note names the limit.
  assert.match(out, /\n\[output truncated at 16383 bytes; use @ and a smaller size\]\n$/);
  assert.equal(truncateOutput("é".repeat(10), 12).startsWith("\n[output"), true);
});
