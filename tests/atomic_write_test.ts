import { atomicWrite, atomicWriteTempPath } from "../mod.ts";
import assert from "node:assert/strict";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_atomic_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("atomicWrite() replaces the file, keeps its mode and leaves no temporary file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    await Deno.writeTextFile(path, "old contents");
    await Deno.chmod(path, 0o640);
    await atomicWrite(path, text("new"));
    assert.equal(await Deno.readTextFile(path), "new");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f.bin"]);
  });
});

Deno.test("atomicWrite() creates a missing file and works without fsync", async () => {
  await withDir(async (dir) => {
    await atomicWrite(`${dir}/new.bin`, text("x"), { sync: false });
    assert.equal(await Deno.readTextFile(`${dir}/new.bin`), "x");
  });
});

Deno.test("atomicWrite() replaces a temporary file left by a crash", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    await Deno.writeTextFile(path, "old");
    await Deno.writeTextFile(atomicWriteTempPath(path), "half-written junk");
    await atomicWrite(path, text("new"));
    assert.equal(await Deno.readTextFile(path), "new");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f.bin"]);
  });
});

Deno.test("atomicWrite() never follows a symbolic link planted at the temporary path", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    await Deno.writeTextFile(path, "old");
    await Deno.writeTextFile(`${dir}/victim`, "precious");
    await Deno.symlink(`${dir}/victim`, atomicWriteTempPath(path));
    await assert.rejects(atomicWrite(path, text("new")), Deno.errors.AlreadyExists);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "precious");
    assert.equal(await Deno.readTextFile(path), "old");
  });
});

Deno.test("atomicWrite() runs saves of one path one after another", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => atomicWrite(path, text(String(i).repeat(1000)))),
    );
    assert.equal(await Deno.readTextFile(path), "4".repeat(1000));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f.bin"]);
  });
});

Deno.test("atomicWrite() leaves the target whole and removes its temporary file when the rename fails", async () => {
  await withDir(async (dir) => {
    // A non-empty directory at the target makes the final rename fail after the data was
    // written to the temporary file.
    await Deno.mkdir(`${dir}/d`);
    await Deno.writeTextFile(`${dir}/d/inner`, "x");
    await assert.rejects(atomicWrite(`${dir}/d`, text("new")));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["d"]);
    assert.equal(await Deno.readTextFile(`${dir}/d/inner`), "x");
  });
});
