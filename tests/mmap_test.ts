import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_mmap_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("mmap:// reads a file like the file plugin, short at the end", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    await using desc = await new IoRegistry().open(`mmap://${path}`);
    assert.equal(desc.plugin, "mmap");
    assert.equal(desc.uri, `mmap://${path}`);
    assert.equal(desc.writable, false);
    assert.equal(await desc.size(), 3);
    assert.deepEqual([...await desc.read(1, 10)], [2, 3]);
  });
});

Deno.test("mmap:// writes go to the file, and writes past the end extend it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    {
      await using desc = await new IoRegistry().open(`mmap://${path}`, { write: true });
      assert.equal(await desc.write(0, new Uint8Array([9])), 1);
      assert.equal(await desc.write(5, new Uint8Array([7, 8])), 2);
      assert.equal(await desc.size(), 7);
    }
    assert.deepEqual([...await Deno.readFile(path)], [9, 2, 3, 0, 0, 7, 8]);
  });
});

Deno.test("mmap:// opened read-only refuses writes with an IoError", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1]));
    await using desc = await new IoRegistry().open(`mmap://${path}`);
    await assert.rejects(desc.write(0, new Uint8Array([2])), IoError, "read-only");
  });
});

Deno.test("mmap:// creates a missing file only with create and write", async () => {
  await withTempDir(async (dir) => {
    const registry = new IoRegistry();
    await assert.rejects(registry.open(`mmap://${dir}/new.bin`), IoError, "no such file");
    {
      await using desc = await registry.open(`mmap://${dir}/new.bin`, {
        write: true,
        create: true,
      });
      assert.equal(await desc.size(), 0);
      await desc.write(0, new TextEncoder().encode("hi"));
    }
    assert.equal(await Deno.readTextFile(`${dir}/new.bin`), "hi");
  });
});

Deno.test("mmap:// of a directory or an empty path fails with an IoError", async () => {
  await withTempDir(async (dir) => {
    const registry = new IoRegistry();
    await assert.rejects(registry.open(`mmap://${dir}`), IoError, "is a directory");
    await assert.rejects(registry.open("mmap://"), IoError, "missing a path");
  });
});

Deno.test("mmap:// declares read access, and write access when writing", async () => {
  const plugin = await new IoRegistry().resolve("mmap:///srv/x");
  assert.deepEqual(plugin.permissions("mmap:///srv/x", {}), [{ name: "read", path: "/srv/x" }]);
  assert.deepEqual(plugin.permissions("mmap:///srv/x", { write: true }), [
    { name: "read", path: "/srv/x" },
    { name: "write", path: "/srv/x" },
  ]);
});

Deno.test("mmap:// resize truncates or extends the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    await using desc = await new IoRegistry().open(`mmap://${path}`, { write: true });
    await desc.resize!(1);
    assert.equal(await desc.size(), 1);
    await desc.resize!(4);
    assert.deepEqual([...await desc.read(0, 4)], [1, 0, 0, 0]);
  });
});
