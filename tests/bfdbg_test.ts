import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

async function withProgram(
  program: string,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_bfdbg_test_" });
  try {
    await Deno.writeTextFile(`${dir}/prog.bf`, program);
    await fn(`${dir}/prog.bf`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Cell 1 = 8 * 8 + 1 = 65 ("A"), printed; cell 2 = 3; the pointer ends on cell 2.
const PRINT_A = "++++++++ [>++++++++<-] >+. >+++ (comment: every other character is ignored)";

Deno.test("bfdbg:// runs the program at open and shows its tape as the file", async () => {
  await withProgram(PRINT_A, async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.equal(desc.plugin, "bfdbg");
    assert.equal(await desc.size(), 30000);
    assert.deepEqual([...await desc.read(0, 4)], [0, 65, 3, 0]);
    assert.equal(await desc.system!("output"), "A");
    assert.equal(await desc.system!("ptr"), "2\n");
    assert.match(await desc.system!("state"), /halted\n$/);
  });
});

Deno.test("bfdbg:// reads are short only at the end of the tape", async () => {
  await withProgram("+", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.equal((await desc.read(29998, 10)).length, 2);
    assert.equal((await desc.read(30000, 10)).length, 0);
  });
});

Deno.test("bfdbg:// reset zeroes the tape and step executes one command at a time", async () => {
  await withProgram("+++>++", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.deepEqual([...await desc.read(0, 2)], [3, 2]);
    assert.equal(await desc.system!("reset"), "pc=0 ptr=0 steps=0 input=0 running\n");
    assert.deepEqual([...await desc.read(0, 2)], [0, 0]);
    assert.equal(await desc.system!("step"), "pc=1 ptr=0 steps=1 input=0 running\n");
    assert.equal(await desc.system!("step 3"), "pc=4 ptr=1 steps=4 input=0 running\n");
    assert.deepEqual([...await desc.read(0, 2)], [3, 0]);
    assert.equal(await desc.system!("run"), "pc=6 ptr=1 steps=6 input=0 halted\n");
    assert.deepEqual([...await desc.read(0, 2)], [3, 2]);
  });
});

Deno.test("bfdbg:// input gives the program its input; reset and run replay it", async () => {
  // Copy input bytes to the tape until a 0 (end of input reads as 0).
  await withProgram(",[>,]", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.deepEqual([...await desc.read(0, 3)], [0, 0, 0]);
    assert.equal(await desc.system!("input hi\\n"), "3 input bytes\n");
    await desc.system!("reset");
    assert.match(await desc.system!("run"), /input=0 halted/);
    assert.deepEqual([...await desc.read(0, 4)], [0x68, 0x69, 0x0a, 0]);
    await desc.system!("reset");
    await desc.system!("run");
    assert.deepEqual([...await desc.read(0, 4)], [0x68, 0x69, 0x0a, 0]);
  });
});

Deno.test("bfdbg:// opened for writing pokes tape cells; read-only refuses", async () => {
  await withProgram("", async (path) => {
    const registry = new IoRegistry();
    {
      await using desc = await registry.open(`bfdbg://${path}`, { write: true });
      assert.equal(await desc.write(29999, new Uint8Array([7, 8])), 1);
      assert.deepEqual([...await desc.read(29998, 2)], [0, 7]);
    }
    await using readOnly = await registry.open(`bfdbg://${path}`);
    await assert.rejects(readOnly.write(0, new Uint8Array([1])), IoError, "read-only");
  });
});

Deno.test("bfdbg:// stops an endless program at the step limit; run continues it", async () => {
  await withProgram("+[]", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.equal(await desc.system!("state"), "pc=2 ptr=0 steps=1000000 input=0 running\n");
    assert.match(await desc.system!("run 10"), /steps=1000010 .*running/);
  });
});

Deno.test("bfdbg:// a pointer moved off the tape stops the machine with an error", async () => {
  await withProgram("+<+", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    assert.match(
      await desc.system!("state"),
      /^pc=1 ptr=0 steps=1 input=0 error: pointer moved before the start of the tape at offset 1/,
    );
    assert.deepEqual([...await desc.read(0, 1)], [1]);
  });
});

Deno.test("bfdbg:// with unmatched brackets or a missing file fails with an IoError", async () => {
  await withProgram("+[>+", async (path) => {
    const registry = new IoRegistry();
    await assert.rejects(registry.open(`bfdbg://${path}`), IoError, 'Unmatched "[" at offset 1');
    await assert.rejects(registry.open(`bfdbg://${path}.missing`), IoError, "no such file");
    await assert.rejects(registry.open("bfdbg://"), IoError, "missing a path");
  });
});

Deno.test("bfdbg:// unknown commands and bad counts fail with an IoError", async () => {
  await withProgram("+", async (path) => {
    await using desc = await new IoRegistry().open(`bfdbg://${path}`);
    await assert.rejects(desc.system!("frobnicate"), IoError, 'Unknown bfdbg command "frobnicate"');
    await assert.rejects(desc.system!("step x"), IoError, 'Invalid count "x"');
    await assert.rejects(desc.system!("ptr 30000"), IoError, "off the tape");
    assert.match(await desc.system!("help"), /reset/);
    assert.equal(await desc.system!("ptr 5"), "5\n");
  });
});

Deno.test("bfdbg:// declares read access to the program file only", async () => {
  const plugin = await new IoRegistry().resolve("bfdbg:///tmp/p.bf");
  assert.deepEqual(plugin.permissions("bfdbg:///tmp/p.bf", { write: true }), [
    { name: "read", path: "/tmp/p.bf" },
  ]);
});
