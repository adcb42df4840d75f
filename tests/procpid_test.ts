import { IoError, IoRegistry } from "../mod.ts";
import assert from "node:assert/strict";

const isLinux = Deno.build.os === "linux";
const LIB_IO = new URL("../mod.ts", import.meta.url).href;

interface Mapping {
  start: number;
  end: number;
  perms: string;
  offset?: number;
  name: string;
}

function parse(maps: string): Mapping[] {
  return maps.trim().split("\n").map((line) => {
    const m = /^0x([0-9a-f]+) - 0x([0-9a-f]+) (\S+) ?(.*)$/.exec(line);
    assert.ok(m, `unexpected maps line ${line}`);
    return { start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], name: m[4] };
  });
}

/** Start `sleep 30`, give it to `fn`, then kill it and wait for it. */
async function withSleepingChild(fn: (pid: number) => Promise<void>): Promise<void> {
  const child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    await fn(child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

/** The mappings as the kernel lists them, with file offsets. */
async function kernelMaps(pid: number | "self"): Promise<Mapping[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/maps`);
  return text.trim().split("\n").map((line) => {
    const f = line.split(/\s+/);
    const [start, end] = f[0].split("-").map((h) => parseInt(h, 16));
    return { start, end, perms: f[1], offset: parseInt(f[2], 16), name: f.slice(5).join(" ") };
  });
}

Deno.test({
  name: "procpid://PID reads a child's memory: its first mapping is its ELF header",
  ignore: !isLinux,
  async fn() {
    await withSleepingChild(async (pid) => {
      await using desc = await new IoRegistry().open(`procpid://${pid}`);
      assert.equal(desc.plugin, "procpid");
      assert.equal(await desc.size(), Infinity);
      const exe = await Deno.readLink(`/proc/${pid}/exe`);
      const elf = (await kernelMaps(pid)).find((m) => m.name === exe && m.offset === 0);
      assert.ok(elf, "the child's executable is mapped at file offset 0");
      assert.deepEqual([...await desc.read(elf.start, 4)], [0x7f, 0x45, 0x4c, 0x46]);
      // The maps command lists the same mapping.
      assert.ok(parse(await desc.system!("maps")).some((m) => m.start === elf.start));
    });
  },
});

Deno.test({
  name: "procpid://PID reads unmapped addresses as 0xff, with the full length",
  ignore: !isLinux,
  async fn() {
    await withSleepingChild(async (pid) => {
      await using desc = await new IoRegistry().open(`procpid://${pid}`);
      // Page 1 is below vm.mmap_min_addr: never mapped.
      assert.deepEqual([...await desc.read(0x1000, 16)], new Array(16).fill(0xff));
      // A read across the end of a mapping into a gap: real bytes, then 0xff.
      const maps = await kernelMaps(pid);
      const i = maps.findIndex((m, k) =>
        m.perms.startsWith("r") && k + 1 < maps.length && maps[k + 1].start > m.end
      );
      assert.ok(i >= 0, "some mapping is followed by a gap");
      const end = maps[i].end;
      const bytes = await desc.read(end - 4, 8);
      assert.equal(bytes.length, 8);
      assert.deepEqual([...bytes.subarray(4)], [0xff, 0xff, 0xff, 0xff]);
      const mem = await Deno.open(`/proc/${pid}/mem`);
      try {
        await mem.seek(end - 4, Deno.SeekMode.Start);
        const direct = new Uint8Array(4);
        assert.equal(await mem.read(direct), 4);
        assert.deepEqual([...bytes.subarray(0, 4)], [...direct]);
      } finally {
        mem.close();
      }
    });
  },
});

Deno.test({
  name: "procpid://PID opened for writing writes the child's memory through /proc/PID/mem",
  ignore: !isLinux,
  async fn() {
    await withSleepingChild(async (pid) => {
      const writable = (await kernelMaps(pid)).find((m) => m.perms.startsWith("rw"));
      assert.ok(writable, "the child has a writable mapping");
      const registry = new IoRegistry();
      {
        await using desc = await registry.open(`procpid://${pid}`, { write: true });
        assert.equal(await desc.write(writable.start, new Uint8Array([1, 2, 3, 4])), 4);
      }
      await using again = await registry.open(`procpid://${pid}`);
      assert.deepEqual([...await again.read(writable.start, 4)], [1, 2, 3, 4]);
      await assert.rejects(again.write(writable.start, new Uint8Array([0])), IoError, "read-only");
    });
  },
});

Deno.test({
  name: "procpid://PID writing an unmapped address fails with an IoError",
  ignore: !isLinux,
  async fn() {
    await withSleepingChild(async (pid) => {
      await using desc = await new IoRegistry().open(`procpid://${pid}`, { write: true });
      await assert.rejects(desc.write(0x1000, new Uint8Array([1])), IoError, "at 0x1000");
    });
  },
});

Deno.test({
  name: "procpid://PID answers the pid and maps commands, and lists help",
  ignore: !isLinux,
  async fn() {
    await withSleepingChild(async (pid) => {
      await using desc = await new IoRegistry().open(`procpid://${pid}`);
      assert.equal(await desc.system!("pid"), `${pid}\n`);
      const maps = await desc.system!("dm");
      assert.match(maps, /^0x[0-9a-f]{16} - 0x[0-9a-f]{16} r/m);
      assert.match(maps, /\[stack\]/);
      assert.match(await desc.system!("help"), /maps/);
      await assert.rejects(desc.system!("kill"), IoError, 'Unknown procpid command "kill"');
    });
  },
});

Deno.test({
  name: "procpid:// with a bad or unknown process id fails with an IoError",
  ignore: !isLinux,
  async fn() {
    const registry = new IoRegistry();
    await assert.rejects(registry.open("procpid://"), IoError, "missing a process id");
    await assert.rejects(registry.open("procpid://12ab"), IoError, 'invalid process id "12ab"');
    await assert.rejects(registry.open("procpid://0"), IoError, "invalid process id");
    await assert.rejects(registry.open("procpid://999999999"), IoError, "no such process");
  },
});

Deno.test("procpid:// declares read (and write) of /proc/PID/mem and read of its maps", async () => {
  const plugin = await new IoRegistry().resolve("procpid://7");
  assert.deepEqual(plugin.permissions("procpid://7", { write: true }), [
    { name: "read", path: "/proc/7/mem" },
    { name: "write", path: "/proc/7/mem" },
    { name: "read", path: "/proc/7/maps" },
  ]);
});

Deno.test({
  name: "self:// reads this process's memory: the Deno executable's ELF header",
  ignore: !isLinux,
  async fn() {
    await using desc = await new IoRegistry().open("self://");
    assert.equal(desc.plugin, "self");
    assert.equal(await desc.system!("pid"), `${Deno.pid}\n`);
    const exe = await Deno.realPath(Deno.execPath());
    const header = (await kernelMaps("self")).find((m) => m.name === exe && m.offset === 0);
    assert.ok(header, "the deno executable is mapped at file offset 0");
    assert.deepEqual([...await desc.read(header.start, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  },
});

Deno.test({
  name: "self:// reads the same bytes as /proc/self/mem for a read-only mapping",
  ignore: !isLinux,
  async fn() {
    await using desc = await new IoRegistry().open("self://");
    const map = (await kernelMaps("self")).find((m) => m.perms === "r--p" && m.name !== "");
    assert.ok(map);
    const length = Math.min(256, map.end - map.start);
    const ours = await desc.read(map.start, length);
    const mem = await Deno.open("/proc/self/mem");
    try {
      await mem.seek(map.start, Deno.SeekMode.Start);
      const direct = new Uint8Array(length);
      assert.equal(await mem.read(direct), length);
      assert.deepEqual(ours, direct);
    } finally {
      mem.close();
    }
    assert.deepEqual([...await desc.read(0x1000, 4)], [0xff, 0xff, 0xff, 0xff]);
  },
});

Deno.test("self:// with anything after the scheme fails with an IoError", async () => {
  await assert.rejects(new IoRegistry().open("self://1"), IoError, 'exactly "self://"');
});

Deno.test({
  name: "self:// without --allow-all fails with a permission error naming --allow-all",
  ignore: !isLinux,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rap_procpid_test_" });
    try {
      const script = `${dir}/open_self.ts`;
      await Deno.writeTextFile(
        script,
        `import { IoRegistry, PermissionDeniedError } from ${JSON.stringify(LIB_IO)};
        try {
          await new IoRegistry().open("self://");
          console.log("opened");
        } catch (error) {
          console.log(error instanceof PermissionDeniedError, error.flag, error.message);
        }`,
      );
      const { stdout } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--allow-read=/proc", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(stdout);
      assert.match(out, /^true --allow-all Cannot open "self:\/\/": .*\(run with --allow-all\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
