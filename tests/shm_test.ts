import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

const LIB_IO = new URL("../mod.ts", import.meta.url).href;
const hasDevShm = await Deno.stat("/dev/shm").then((s) => s.isDirectory).catch(() => false);

async function withShmObject(
  bytes: Uint8Array | undefined,
  fn: (name: string, path: string) => Promise<void>,
): Promise<void> {
  const name = `rap_shm_test_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
  const path = `/dev/shm/${name}`;
  if (bytes) await Deno.writeFile(path, bytes);
  try {
    await fn(name, path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

Deno.test({
  name: "shm://NAME reads the POSIX shared memory object /dev/shm/NAME",
  ignore: !hasDevShm,
  async fn() {
    await withShmObject(new Uint8Array([1, 2, 3, 4]), async (name) => {
      const registry = new IoRegistry();
      for (const uri of [`shm://${name}`, `shm:///${name}`]) {
        await using desc = await registry.open(uri);
        assert.equal(desc.plugin, "shm");
        assert.equal(desc.writable, false);
        assert.equal(await desc.size(), 4);
        assert.deepEqual([...await desc.read(2, 8)], [3, 4]);
        await assert.rejects(desc.write(0, new Uint8Array([0])), IoError, "read-only");
      }
    });
  },
});

Deno.test({
  name: "shm://NAME opened for writing writes through to the object at once",
  ignore: !hasDevShm,
  async fn() {
    await withShmObject(new Uint8Array(8), async (name, path) => {
      await using desc = await new IoRegistry().open(`shm://${name}`, { write: true });
      assert.equal(await desc.write(6, new Uint8Array([0xaa, 0xbb, 0xcc])), 3);
      // Seen by anyone who opens the object, while our descriptor is still open.
      assert.deepEqual([...await Deno.readFile(path)], [0, 0, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc]);
    });
  },
});

Deno.test({
  name: "shm://NAME with create makes a missing object; without it the open fails",
  ignore: !hasDevShm,
  async fn() {
    await withShmObject(undefined, async (name, path) => {
      const registry = new IoRegistry();
      await assert.rejects(registry.open(`shm://${name}`), IoError, "no such file");
      {
        await using desc = await registry.open(`shm://${name}`, { write: true, create: true });
        assert.equal(await desc.size(), 0);
        await desc.write(0, new Uint8Array([5]));
      }
      assert.deepEqual([...await Deno.readFile(path)], [5]);
    });
  },
});

Deno.test("shm:// with an empty, nested or dot name fails with an IoError", async () => {
  const registry = new IoRegistry();
  for (const uri of ["shm://", "shm:///", "shm://a/b", "shm://..", "shm://."]) {
    await assert.rejects(registry.open(uri), IoError, uri);
  }
});

Deno.test("shm:// declares read (and write) access to /dev/shm/NAME", async () => {
  const plugin = await new IoRegistry().resolve("shm://x");
  assert.deepEqual(plugin.permissions("shm://x", {}), [{ name: "read", path: "/dev/shm/x" }]);
  assert.deepEqual(plugin.permissions("shm:///x", { write: true }), [
    { name: "read", path: "/dev/shm/x" },
    { name: "write", path: "/dev/shm/x" },
  ]);
  assert.match(plugin.description, /SysV/);
});

Deno.test({
  name: "shm:// without --allow-all fails with a permission error naming --allow-all",
  ignore: !hasDevShm,
  async fn() {
    await withShmObject(new Uint8Array([1]), async (name, path) => {
      const dir = await Deno.makeTempDir({ prefix: "rap_shm_test_" });
      try {
        const script = `${dir}/open_shm.ts`;
        await Deno.writeTextFile(
          script,
          `import { IoRegistry, PermissionDeniedError } from ${JSON.stringify(LIB_IO)};
          try {
            await new IoRegistry().open(${JSON.stringify(`shm://${name}`)});
            console.log("opened");
          } catch (error) {
            console.log(error instanceof PermissionDeniedError, error.flag, error.message);
          }`,
        );
        const { stdout } = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--no-prompt", `--allow-read=${path}`, script],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(
          new TextDecoder().decode(stdout).trim(),
          `true --allow-all Cannot open "shm://${name}": Deno opens ${path} only for programs ` +
            "with all permissions (run with --allow-all)",
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
