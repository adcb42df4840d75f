import assert from "node:assert/strict";
import { IoError, IoRegistry } from "@rap/cli";
import gzip, { GZIP_MAX_OUTPUT } from "../plugins/gzip.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function compress(format: CompressionFormat, data: Uint8Array): Promise<Uint8Array> {
  return await new Response(
    new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream(format),
    ),
  ).bytes();
}

async function decompress(format: CompressionFormat, data: Uint8Array): Promise<Uint8Array> {
  return await new Response(
    new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream(format),
    ),
  ).bytes();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_gzip_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("gzip:// reads the decompressed bytes of a gzip file", async () => {
  await withDir(async (dir) => {
    const data = text("The quick brown fox jumps over the lazy dog\n".repeat(100));
    await Deno.writeFile(`${dir}/a.gz`, await compress("gzip", data));
    await using desc = await new IoRegistry().open(`gzip://${dir}/a.gz`);
    assert.equal(desc.plugin, "gzip");
    assert.equal(await desc.size(), data.length);
    assert.deepEqual(await desc.read(0, data.length), data);
    assert.deepEqual(await desc.read(data.length - 4, 100), data.subarray(data.length - 4));
    assert.equal(desc.writable, false);
  });
});

Deno.test("gzip:// also reads zlib data (auto-detected like MAX_WBITS+32)", async () => {
  await withDir(async (dir) => {
    const data = text("zlib wrapped bytes");
    await Deno.writeFile(`${dir}/a.z`, await compress("deflate", data));
    await using desc = await gzip.open(`gzip://${dir}/a.z`, {});
    assert.deepEqual(await desc.read(0, 100), data);
  });
});

Deno.test("gzip:// joins the members of a multi-member gzip file and ignores trailing bytes", async () => {
  await withDir(async (dir) => {
    const joined = new Uint8Array([
      ...await compress("gzip", text("first ")),
      ...await compress("gzip", text("second")),
      0,
      0,
      0,
    ]);
    await Deno.writeFile(`${dir}/m.gz`, joined);
    await using desc = await gzip.open(`gzip://${dir}/m.gz`, {});
    assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "first second");
  });
});

Deno.test("gzip:// reads files made by the gzip tool, with a file name in the header", async () => {
  await withDir(async (dir) => {
    const data = new Uint8Array(100_000);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/r.bin`, data);
    try {
      await new Deno.Command("gzip", { args: ["-9", `${dir}/r.bin`] }).output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      console.log("skipped: gzip is not installed (.ci/run: apt-get install gzip)");
      return;
    }
    await using desc = await gzip.open(`gzip://${dir}/r.bin.gz`, {});
    assert.deepEqual(await desc.read(0, data.length), data);
  });
});

Deno.test("gzip:// writes stay in RAM until close, then the file is recompressed atomically", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/w.gz`;
    await Deno.writeFile(path, await compress("gzip", text("hello world")));
    const desc = await gzip.open(`gzip://${path}`, { write: true });
    assert.equal(desc.writable, true);
    assert.equal(await desc.write(6, text("WORLD")), 5);
    assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "hello WORLD");
    // Nothing is saved before close.
    assert.equal(
      new TextDecoder().decode(await decompress("gzip", await Deno.readFile(path))),
      "hello world",
    );
    await desc.close();
    const saved = await Deno.readFile(path);
    assert.equal(saved[0], 0x1f);
    assert.equal(new TextDecoder().decode(await decompress("gzip", saved)), "hello WORLD");
    // The temporary file is gone.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.gz"]);
  });
});

Deno.test("gzip:// keeps the gzip header (file name) and the zlib container when saving", async () => {
  await withDir(async (dir) => {
    // A gzip header with FNAME "n.txt".
    const raw = await compress("deflate-raw", text("abc"));
    const crc = await compress("gzip", text("abc")); // take the trailer from a real gzip
    const header = new Uint8Array([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, ...text("n.txt"), 0]);
    const path = `${dir}/h.gz`;
    await Deno.writeFile(path, new Uint8Array([...header, ...raw, ...crc.subarray(-8)]));
    {
      await using desc = await gzip.open(`gzip://${path}`, { write: true });
      await desc.write(0, text("x"));
    }
    const saved = await Deno.readFile(path);
    assert.deepEqual(saved.subarray(0, header.length), header);
    assert.equal(new TextDecoder().decode(await decompress("gzip", saved)), "xbc");

    const zpath = `${dir}/z.zz`;
    await Deno.writeFile(zpath, await compress("deflate", text("zzz")));
    {
      await using desc = await gzip.open(`gzip://${zpath}`, { write: true });
      await desc.resize?.(4);
      await desc.write(3, text("!"));
    }
    assert.equal(
      new TextDecoder().decode(await decompress("deflate", await Deno.readFile(zpath))),
      "zzz!",
    );
  });
});

Deno.test("gzip:// opened read-only refuses writes and never touches the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ro.gz`;
    const original = await compress("gzip", text("ro"));
    await Deno.writeFile(path, original);
    {
      await using desc = await gzip.open(`gzip://${path}`, {});
      await assert.rejects(desc.write(0, text("x")), IoError);
    }
    assert.deepEqual(await Deno.readFile(path), original);
  });
});

Deno.test("gzip:// gives a clear IoError for bad, truncated or corrupt data", async () => {
  await withDir(async (dir) => {
    const good = await compress("gzip", text("some data to compress ".repeat(50)));
    const cases: [string, Uint8Array, RegExp][] = [
      ["plain.txt", text("not compressed at all"), /Not gzip or zlib data/],
      ["empty.gz", new Uint8Array(0), /Empty file/],
      ["trunc.gz", good.subarray(0, good.length - 12), /Truncated|mismatch/],
      ["header.gz", good.subarray(0, 5), /Truncated gzip header/],
      [
        "crc.gz",
        new Uint8Array([...good.subarray(0, -8), 1, 2, 3, 4, ...good.subarray(-4)]),
        /CRC-32 mismatch/,
      ],
      [
        "corrupt.gz",
        new Uint8Array([...good.subarray(0, 10), 0xff, 0xff, 0xff, ...good.subarray(13)]),
        /Corrupt deflate data|mismatch/,
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      const uri = `gzip://${dir}/${name}`;
      const error = await gzip.open(uri, {}).then(() => undefined, (e) => e);
      assert.ok(error instanceof IoError, name);
      assert.match(
        error.message,
        new RegExp(`^Cannot open "${uri.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}": `),
      );
      assert.match(error.message, reason, name);
    }
    await assert.rejects(gzip.open(`gzip://${dir}/missing.gz`, {}), /no such file/);
    await assert.rejects(gzip.open(`gzip://${dir}`, {}), /is a directory/);
    await assert.rejects(gzip.open("gzip://", {}), /missing a path/);
  });
});

Deno.test("gzip:// refuses a decompression bomb over the 50,000,000-byte cap", async () => {
  await withDir(async (dir) => {
    const bomb = await compress("gzip", new Uint8Array(GZIP_MAX_OUTPUT + 1));
    assert.ok(bomb.length < 100_000);
    await Deno.writeFile(`${dir}/bomb.gz`, bomb);
    await assert.rejects(
      gzip.open(`gzip://${dir}/bomb.gz`, {}),
      (e: unknown) => e instanceof IoError && /exceeds the limit of 50000000 bytes/.test(e.message),
    );
  });
});

Deno.test("gzip:// declares read access, plus the file and its temporary file when writing", () => {
  assert.deepEqual(gzip.permissions("gzip://a.gz", {}), [{ name: "read", path: "a.gz" }]);
  assert.deepEqual(gzip.permissions("gzip://a.gz", { write: true }), [
    { name: "read", path: "a.gz" },
    { name: "write", path: "a.gz" },
    { name: "read", path: "a.gz.rap-save" },
    { name: "write", path: "a.gz.rap-save" },
  ]);
});

Deno.test("gzip:// without read permission names the flag to add", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/p.gz`;
    await Deno.writeFile(path, await compress("gzip", text("p")));
    const io = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      `import { IoRegistry } from ${JSON.stringify(io)};
      try { await new IoRegistry().open(${
        JSON.stringify(`gzip://${path}`)
      }); console.log("opened"); }
      catch (e) { console.log(e.name + ": " + e.message); }`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", `${dir}/probe.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const printed = new TextDecoder().decode(out.stdout);
    assert.match(printed, /PermissionDeniedError/);
    assert.ok(printed.includes(`--allow-read=${path}`), printed);
  });
});
