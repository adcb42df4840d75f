import {
  IoError,
  IoRegistry,
  IoSession,
  openUri,
  parseNumber,
  PermissionDeniedError,
  UnknownSchemeError,
} from "../mod.ts";
import assert from "node:assert/strict";
import { memoryPlugin } from "../testing.ts";

const text = new TextEncoder();

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rap_io_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A GNU ar archive of `members`. */
function arArchive(members: Record<string, string>): Uint8Array {
  let out = "!<arch>\n";
  for (const [name, body] of Object.entries(members)) {
    out += `${name}/`.padEnd(16) + "0".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) +
      "644".padEnd(8) + String(body.length).padEnd(10) + "`\n" + body;
    if (body.length % 2) out += "\n";
  }
  return text.encode(out);
}

Deno.test("a plain path means the file plugin; schemes pick their plugin", async () => {
  const registry = new IoRegistry();
  assert.equal((await registry.resolve("/bin/ls")).name, "file");
  assert.equal((await registry.resolve("relative/path")).name, "file");
  assert.equal((await registry.resolve("file:///bin/ls")).name, "file");
  assert.equal((await registry.resolve("MALLOC://16")).name, "malloc");
  assert.equal((await registry.resolve("hex://00")).name, "malloc");
  assert.equal((await registry.resolve("rap://h:1//x")).name, "rap");
});

Deno.test("unknown schemes, malformed and empty URIs get clear errors", async () => {
  await assert.rejects(
    openUri("foo://x"),
    (e: Error) =>
      e instanceof UnknownSchemeError &&
      e.message === 'Cannot open "foo://x": no plugin for scheme "foo"',
  );
  await assert.rejects(openUri("1bad://x"), /malformed URI/);
  await assert.rejects(openUri(""), /empty URI/);
  await assert.rejects(openUri("malloc://"), /missing a size/);
  await assert.rejects(openUri("malloc://0"), /size must be 1 to/);
  await assert.rejects(openUri("malloc://lots"), /invalid size "lots"/);
  await assert.rejects(openUri("hex://abc"), /Odd number of hex digits/);
  await assert.rejects(openUri("hex://zz"), /Invalid character "z"/);
  await assert.rejects(openUri("null://-1"), IoError);
});

Deno.test("file: read-only by default, writable when asked, short reads at the end", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f.bin`;
    await Deno.writeFile(path, text.encode("hello world"));
    await using ro = await openUri(path);
    assert.equal(await ro.size(), 11);
    assert.equal(new TextDecoder().decode(await ro.read(6, 100)), "world");
    assert.equal((await ro.read(20, 4)).length, 0);
    await assert.rejects(ro.write(0, text.encode("x")), /opened read-only/);
    await using rw = await openUri(`file://${path}`, { write: true });
    assert.equal(await rw.write(11, text.encode("!!")), 2); // extends the file
    assert.equal(await rw.size(), 13);
    await rw.resize!(5);
    assert.equal(await Deno.readTextFile(path), "hello");
    await assert.rejects(openUri(dir), /is a directory/);
    await assert.rejects(openUri(`${dir}/missing`), /Cannot open ".*missing": no such file/);
    await using created = await openUri(`${dir}/new.bin`, { write: true, create: true });
    assert.equal(await created.size(), 0);
  });
});

Deno.test("file: concurrent reads on one descriptor never interleave their seeks", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f.bin`;
    const data = Uint8Array.from({ length: 65536 }, (_, i) => i & 0xff);
    await Deno.writeFile(path, data);
    await using desc = await openUri(path);
    const offsets = Array.from({ length: 100 }, (_, i) => (i * 613) % 60000);
    const reads = await Promise.all(offsets.map((o) => desc.read(o, 1000)));
    for (const [i, o] of offsets.entries()) assert.deepEqual(reads[i], data.subarray(o, o + 1000));
  });
});

Deno.test("malloc, hex, null and sparse behave as radare2's memory plugins", async () => {
  await using m = await openUri("malloc://0x10");
  assert.equal(await m.size(), 16);
  assert.equal(await m.write(14, new Uint8Array([1, 2, 3, 4])), 2); // cut at the end
  assert.deepEqual([...await m.read(12, 10)], [0, 0, 1, 2]);
  await using h = await openUri("hex://0x41 42 # comment\n43");
  assert.equal(new TextDecoder().decode(await h.read(0, 3)), "ABC");
  await h.write(1, new Uint8Array([0xff]));
  assert.equal(h.uri, "hex://41ff43");
  await using n = await openUri("null://4K");
  assert.equal(await n.size(), 4096);
  assert.equal(await n.write(0, new Uint8Array(10)), 10);
  assert.deepEqual([...await n.read(4094, 10)], [0, 0]);
  await using s = await openUri("sparse://4");
  await s.write(10, new Uint8Array([9]));
  assert.equal(await s.size(), 11);
  assert.deepEqual([...await s.read(2, 20)], [0, 0, 255, 255, 255, 255, 255, 255, 9]);
});

Deno.test("parseNumber reads radare2 numbers", () => {
  assert.equal(parseNumber("1024"), 1024);
  assert.equal(parseNumber("0x400"), 1024);
  assert.equal(parseNumber("1K"), 1024);
  assert.equal(parseNumber("2M"), 2 * 1024 * 1024);
  assert.equal(parseNumber("0x10+4"), 20);
  assert.equal(parseNumber("0x20-0x10/2"), 24);
  assert.throws(() => parseNumber("0xZZ"), SyntaxError);
  assert.throws(() => parseNumber("4+"), SyntaxError);
});

Deno.test("IoSession: fds from 3, current file, own CLOSE, 0xff padding, open limit", async () => {
  await using session = new IoSession({ maxOpenFiles: 2 });
  assert.equal(await session.size(), 0xffffffffffffffffn);
  assert.deepEqual([...await session.readAt(0n, 2)], [0xff, 0xff]);
  assert.equal(await session.open("hex://0102"), 3);
  assert.equal(await session.open("malloc://8"), 4);
  assert.equal(session.currentFd, 4);
  await assert.rejects(session.open("malloc://1"), /too many open files \(2\)/);
  session.use(3);
  assert.deepEqual([...await session.readAt(1n, 3)], [2, 0xff, 0xff]);
  assert.deepEqual([...await session.readAt(2n ** 60n, 1)], [0xff]);
  assert.equal(await session.close(99), false);
  assert.equal(await session.close(3), true);
  assert.equal(session.currentFd, 4);
  assert.equal(await session.writeAt(1n, new Uint8Array([5])), 1); // malloc is always writable
  assert.deepEqual([...await session.readAt(0n, 2)], [0, 5]);
});

Deno.test("IoSession falls back to a plugin's openMany, as r_core_file_open does", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/lib.a`;
    await Deno.writeFile(path, arArchive({ "a.o": "first", "b.o": "second!" }));
    await using session = new IoSession();
    const fd = await session.open(`arall://${path}`);
    assert.equal(fd, 3);
    assert.deepEqual(session.files().map((f) => f.fd), [3, 4]);
    assert.equal(new TextDecoder().decode(await session.get(4)!.read(0, 7)), "second!");
    await assert.rejects(session.open(`ar://${path}//missing.o`), /missing\.o/);
  });
});

Deno.test("registered plugins take precedence over built-in ones for their scheme", async () => {
  const registry = new IoRegistry([memoryPlugin("malloc", new Uint8Array([7, 7]))]);
  await using desc = await registry.open("malloc://9999");
  assert.equal(await desc.size(), 2);
  assert.ok((await registry.list()).some((p) => p.description.startsWith("fixed test bytes")));
});

Deno.test("a missing permission is refused before the plugin runs, naming the flag", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { openUri } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    try { await openUri("/etc/hostname"); } catch (e) { console.log(e.name + ": " + e.message + " | " + e.flag); }`,
  );
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", `--allow-read=${script}`, script],
    env: { NO_COLOR: "1" },
  }).output();
  await Deno.remove(script);
  assert.equal(
    new TextDecoder().decode(stdout).trim(),
    'PermissionDeniedError: Cannot open "/etc/hostname": read access is not granted ' +
      "(run with --allow-read=/etc/hostname) | --allow-read=/etc/hostname",
  );
  assert.ok(PermissionDeniedError);
});

Deno.test("files Deno opens only with --allow-all (/proc/self/mem) name that flag", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { openUri } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    try { await openUri("/proc/self/mem"); } catch (e) { console.log(e.message + " | " + e.flag); }`,
  );
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", "--allow-read", script],
    env: { NO_COLOR: "1" },
  }).output();
  await Deno.remove(script);
  assert.match(new TextDecoder().decode(stdout), /\(run with --allow-all\) \| --allow-all/);
});
