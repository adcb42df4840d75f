import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

Deno.test("cyclic:// reads wrap around the ring and the size is unbounded", async () => {
  await using desc = await new IoRegistry().open("cyclic://4");
  assert.equal(desc.plugin, "cyclic");
  assert.equal(await desc.size(), Infinity);
  await desc.write(0, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual([...await desc.read(2, 7)], [3, 4, 1, 2, 3, 4, 1]);
  assert.deepEqual([...await desc.read(4 * 1000 + 1, 2)], [2, 3]);
});

Deno.test("cyclic:// writes go into the ring, so they show at every repeat", async () => {
  await using desc = await new IoRegistry().open("cyclic://0x3");
  assert.equal(await desc.write(3 * 5 + 1, new Uint8Array([9])), 1);
  assert.deepEqual([...await desc.read(0, 6)], [0, 9, 0, 0, 9, 0]);
  // A write longer than the ring wraps over itself: the last bytes win.
  assert.equal(await desc.write(2, new Uint8Array([1, 2, 3, 4])), 4);
  assert.deepEqual([...await desc.read(0, 3)], [2, 3, 4]);
});

Deno.test("cyclic:// is writable even when not opened for writing, as in radare2", async () => {
  await using desc = await new IoRegistry().open("cyclic://2", { write: false });
  assert.ok(desc.writable);
  assert.equal(await desc.write(1, new Uint8Array([5])), 1);
});

Deno.test("cyclic:// with a missing, zero or invalid size fails with an IoError", async () => {
  const registry = new IoRegistry();
  for (const uri of ["cyclic://", "cyclic://0", "cyclic://abc"]) {
    await assert.rejects(registry.open(uri), IoError, uri);
  }
});

Deno.test("cyclic:// refuses reads after close", async () => {
  const desc = await new IoRegistry().open("cyclic://2");
  await desc.close();
  await assert.rejects(desc.read(0, 1), /closed/);
});
