import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

const LIB_IO = new URL("../mod.ts", import.meta.url).href;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_slurp_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("slurp:// copies the whole file into RAM; writes never reach the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/data.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4]));
    {
      await using desc = await new IoRegistry().open(`slurp://${path}`);
      assert.equal(desc.plugin, "slurp");
      assert.equal(await desc.size(), 4);
      assert.ok(desc.writable);
      assert.equal(await desc.write(2, new Uint8Array([9, 9, 9])), 2);
      assert.deepEqual([...await desc.read(0, 10)], [1, 2, 9, 9]);
    }
    assert.deepEqual([...await Deno.readFile(path)], [1, 2, 3, 4]);
  });
});

Deno.test("slurp:// of an empty, missing or directory path fails with an IoError", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    const registry = new IoRegistry();
    await assert.rejects(registry.open(`slurp://${dir}/empty`), IoError, "the file is empty");
    await assert.rejects(registry.open(`slurp://${dir}/missing`), IoError, "no such file");
    await assert.rejects(registry.open(`slurp://${dir}`), IoError, "is a directory");
    await assert.rejects(registry.open("slurp://"), IoError, "missing a path");
  });
});

Deno.test("slurp:// and hexfile:// declare read access to the file; stdin:// nothing", async () => {
  const plugin = await new IoRegistry().resolve("hexfile:///tmp/x.hex");
  assert.deepEqual(plugin.permissions("hexfile:///tmp/x.hex", {}), [
    { name: "read", path: "/tmp/x.hex" },
  ]);
  assert.deepEqual(plugin.permissions("slurp:///tmp/x", { write: true }), [
    { name: "read", path: "/tmp/x" },
  ]);
  assert.deepEqual(plugin.permissions("stdin://", {}), []);
});

Deno.test("hexfile:// drops comments and silently drops every other non-hex character", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bytes.hex`;
    await Deno.writeTextFile(
      path,
      "# header comment\nde:ad ; semicolon comment\r\nbe-ef // slash comment\n/* block\n 99 */ 01\n",
    );
    await using desc = await new IoRegistry().open(`hexfile://${path}`);
    assert.deepEqual([...await desc.read(0, 10)], [0xde, 0xad, 0xbe, 0xef, 0x01]);
  });
});

Deno.test("hexfile:// keeps the 0 of a 0x prefix, as radare2 does", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/prefixed.hex`;
    // "0x00 0x41" -> digits "000" + "041" -> 00 00 41
    await Deno.writeTextFile(path, "0x00 0x41");
    await using desc = await new IoRegistry().open(`hexfile://${path}`);
    assert.deepEqual([...await desc.read(0, 10)], [0x00, 0x00, 0x41]);
  });
});

Deno.test("hexfile:// with an odd number of digits or none fails with an IoError", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/odd.hex`, "0x41");
    await Deno.writeTextFile(`${dir}/none.hex`, "# only a comment\nzz\n");
    const registry = new IoRegistry();
    await assert.rejects(registry.open(`hexfile://${dir}/odd.hex`), IoError, "Odd number");
    await assert.rejects(registry.open(`hexfile://${dir}/none.hex`), IoError, "No hex digits");
  });
});

async function runWithStdin(input: Uint8Array): Promise<{ code: number; out: string }> {
  const code = `
    import { IoRegistry } from ${JSON.stringify(LIB_IO)};
    try {
      await using desc = await new IoRegistry().open("stdin://");
      const size = await desc.size();
      const bytes = await desc.read(0, size);
      console.log(size, Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const result = await child.output();
  return { code: result.code, out: new TextDecoder().decode(result.stdout).trim() };
}

Deno.test("stdin:// copies all of standard input into RAM", async () => {
  const { code, out } = await runWithStdin(new TextEncoder().encode("hi\n"));
  assert.equal(code, 0);
  assert.equal(out, "3 68690a");
});

Deno.test("stdin:// with empty standard input fails with an IoError", async () => {
  const { out } = await runWithStdin(new Uint8Array());
  assert.match(out, /^IoError: Cannot open "stdin:\/\/": standard input is empty/);
});

Deno.test("stdin:// with anything after the scheme fails with an IoError", async () => {
  await assert.rejects(new IoRegistry().open("stdin://x"), IoError, 'exactly "stdin://"');
});
