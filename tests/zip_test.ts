import { concatBytes } from "../mod.ts";
import assert from "node:assert/strict";
import { IoError, IoRegistry } from "@rap/cli";
import zip from "../plugins/zip.ts";
import { crc32 } from "../plugins/_checksum.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  return await new Response(
    new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream("deflate-raw"),
    ),
  ).bytes();
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

interface Member {
  name: string | Uint8Array;
  data: Uint8Array;
  /** 0 stored, 8 deflate (default), or any other number written as is. */
  method?: number;
  flags?: number;
  /** Replace the compressed bytes (to corrupt them). */
  compressed?: Uint8Array;
  /** Replace the CRC-32 written in the headers. */
  crc?: number;
}

/** A minimal zip writer: local headers, data, central directory, (zip64) end records. */
async function makeZip(members: Member[], options: { zip64?: boolean } = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const z64 = options.zip64 ?? false;
  for (const m of members) {
    const name = typeof m.name === "string" ? encode(m.name) : m.name;
    const method = m.method ?? 8;
    const body = m.compressed ?? (method === 8 ? await deflateRaw(m.data) : m.data);
    const crc = m.crc ?? crc32(m.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, m.flags ?? 0, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = new Uint8Array(z64 ? 4 + 24 : 0);
    if (z64) {
      const xv = new DataView(extra.buffer);
      xv.setUint16(0, 1, true);
      xv.setUint16(2, 24, true);
      xv.setBigUint64(4, BigInt(m.data.length), true);
      xv.setBigUint64(12, BigInt(body.length), true);
      xv.setBigUint64(20, BigInt(offset), true);
    }
    const entry = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, m.flags ?? 0, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, z64 ? 0xffffffff : body.length, true);
    cv.setUint32(24, z64 ? 0xffffffff : m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(42, z64 ? 0xffffffff : offset, true);
    entry.set(name, 46);
    entry.set(extra, 46 + name.length);
    central.push(entry);
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  parts.push(...central);
  if (z64) {
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setBigUint64(24, BigInt(members.length), true);
    rv.setBigUint64(32, BigInt(members.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    const locator = new Uint8Array(20);
    const locv = new DataView(locator.buffer);
    locv.setUint32(0, 0x07064b50, true);
    locv.setBigUint64(8, BigInt(cdOffset + cdSize), true);
    locv.setUint32(16, 1, true);
    parts.push(record, locator);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, z64 ? 0xffff : members.length, true);
  ev.setUint16(10, z64 ? 0xffff : members.length, true);
  ev.setUint32(12, z64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, z64 ? 0xffffffff : cdOffset, true);
  parts.push(end);
  return concatBytes(parts);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_zip_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function closeAll(descs: { close(): Promise<void> }[]): Promise<void> {
  for (const d of descs) await d.close();
}

const TEXT = encode("hello from a deflated member\n".repeat(40));
const BIN = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);

async function sampleZip(dir: string): Promise<string> {
  const path = `${dir}/sample.zip`;
  await Deno.writeFile(
    path,
    await makeZip([
      { name: "a.txt", data: TEXT },
      { name: "dir/", data: new Uint8Array(0), method: 0 },
      { name: "dir/b.bin", data: BIN, method: 0 },
    ]),
  );
  return path;
}

Deno.test("zip://ARCHIVE//MEMBER reads a deflated and a stored member", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    const registry = new IoRegistry();
    {
      await using desc = await registry.open(`zip://${path}//a.txt`);
      assert.equal(desc.plugin, "zip");
      assert.equal(desc.writable, false);
      assert.equal(await desc.size(), TEXT.length);
      assert.deepEqual(await desc.read(0, 10_000), TEXT);
      await assert.rejects(desc.write(0, encode("x")), IoError);
    }
    {
      await using desc = await registry.open(`zip://${path}//dir/b.bin`);
      assert.deepEqual(await desc.read(0, 1000), BIN);
    }
    {
      await using desc = await registry.open(`jar://${path}//dir/b.bin`);
      assert.deepEqual(await desc.read(10, 2), BIN.subarray(10, 12));
    }
  });
});

Deno.test("zip://ARCHIVE::N opens the N-th entry and rejects bad indexes", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    {
      await using desc = await zip.open(`zip://${path}::2`, {});
      assert.deepEqual(await desc.read(0, 1000), BIN);
    }
    await assert.rejects(zip.open(`zip://${path}::9`, {}), /no entry 9 .*it has 3/);
    await assert.rejects(zip.open(`zip://${path}::x1`, {}), /invalid member index "x1"/);
  });
});

Deno.test("zip://ARCHIVE alone fails and lists the entries as '<i> <name>'", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    await assert.rejects(
      zip.open(`zip://${path}`, {}),
      (e: unknown) =>
        e instanceof IoError && /no member given/.test(e.message) &&
        e.message.endsWith("the archive has:\n0 a.txt\n1 dir/\n2 dir/b.bin"),
    );
  });
});

Deno.test("zip:// names a missing member in the error", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    await assert.rejects(
      zip.open(`zip://${path}//nope.txt`, {}),
      (e: unknown) =>
        e instanceof IoError &&
        e.message === `Cannot open "zip://${path}//nope.txt": file "nope.txt" not found in ` +
            `archive "${path}"`,
    );
  });
});

Deno.test("ipa://ARCHIVE picks Payload/X.app/X, and fails with the listing without one", async () => {
  await withDir(async (dir) => {
    const ipa = `${dir}/app.ipa`;
    await Deno.writeFile(
      ipa,
      await makeZip([
        { name: "Payload/Foo.app/Info.plist", data: encode("plist") },
        { name: "Payload/Foo.app/Foo", data: encode("\xcf\xfa\xed\xfe binary") },
      ]),
    );
    {
      await using desc = await zip.open(`ipa://${ipa}`, {});
      assert.match(decode(await desc.read(0, 100)), /binary$/);
    }
    const other = `${dir}/other.ipa`;
    await Deno.writeFile(
      other,
      await makeZip([{ name: "Payload/Foo.app/Bar", data: encode("x") }]),
    );
    await assert.rejects(
      zip.open(`ipa://${other}`, {}),
      /Payload\/X\.app\/X.*\n0 Payload\/Foo\.app\/Bar$/s,
    );
  });
});

Deno.test("apk:// opens AndroidManifest.xml and the .dex files, each as zip://ARCHIVE//NAME", async () => {
  await withDir(async (dir) => {
    const apk = `${dir}/app.apk`;
    await Deno.writeFile(
      apk,
      await makeZip([
        { name: "AndroidManifest.xml", data: encode("<manifest/>") },
        { name: "res/icon.png", data: BIN },
        { name: "classes.dex", data: encode("dex\n035\0") },
        { name: "classes2.dex", data: encode("dex\n039\0"), method: 0 },
      ]),
    );
    const registry = new IoRegistry();
    for (const scheme of ["apk", "apkall"]) {
      const descs = await registry.openMany(`${scheme}://${apk}`);
      assert.deepEqual(descs.map((d) => d.uri), [
        `zip://${apk}//AndroidManifest.xml`,
        `zip://${apk}//classes.dex`,
        `zip://${apk}//classes2.dex`,
      ]);
      assert.equal(decode(await descs[2].read(0, 3)), "dex");
      await closeAll(descs);
    }
    // apk:// exists only as a many-scheme, as in radare2.
    await assert.rejects(zip.open(`apk://${apk}`, {}), /opens several members at once/);
  });
});

Deno.test("zipall://, jarall://, ipaall:// open every file; zip0:// only the first", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    for (const scheme of ["zipall", "jarall", "ipaall"]) {
      const descs = await zip.openMany!(`${scheme}://${path}`, {});
      assert.deepEqual(descs.map((d) => d.uri), [
        `zip://${path}//a.txt`,
        `zip://${path}//dir/b.bin`,
      ]);
      assert.deepEqual(await descs[1].read(0, 1000), BIN);
      await closeAll(descs);
    }
    const first = await zip.openMany!(`zip0://${path}`, {});
    assert.deepEqual(first.map((d) => d.uri), [`zip://${path}//a.txt`]);
    await closeAll(first);
    // A single-member scheme through openMany opens that one member.
    const one = await zip.openMany!(`zip://${path}::0`, {});
    assert.equal(one.length, 1);
    assert.deepEqual(await one[0].read(0, 10_000), TEXT);
    await closeAll(one);
  });
});

Deno.test("zip:// reads one member without touching a large corrupt neighbour", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/big.zip`;
    // 8 MiB of random bytes posing as deflate data: inflating them fails at once.
    const garbage = randomBytes(8 * 1024 * 1024);
    await Deno.writeFile(
      path,
      await makeZip([
        { name: "huge.bin", data: new Uint8Array(64 * 1024 * 1024), compressed: garbage },
        { name: "good.txt", data: TEXT },
      ]),
    );
    {
      await using desc = await zip.open(`zip://${path}//good.txt`, {});
      assert.deepEqual(await desc.read(0, 10_000), TEXT);
    }
    await assert.rejects(zip.open(`zip://${path}//huge.bin`, {}), /huge\.bin.*(corrupt|inflates)/);
  });
});

Deno.test("zip:// verifies CRC-32 and refuses encrypted members and other methods", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/bad.zip`;
    await Deno.writeFile(
      path,
      await makeZip([
        { name: "crc.txt", data: TEXT, crc: 0x12345678 },
        { name: "crc-stored.bin", data: BIN, method: 0, crc: 1 },
        { name: "secret.txt", data: TEXT, flags: 1 },
        { name: "b.bz2", data: BIN, method: 12, compressed: BIN },
        { name: "short.txt", data: TEXT, compressed: (await deflateRaw(TEXT)).subarray(0, 20) },
        { name: "ok.txt", data: encode("ok") },
      ]),
    );
    const cases: [string, RegExp][] = [
      ["crc.txt", /"crc\.txt": CRC-32 mismatch/],
      ["crc-stored.bin", /CRC-32 mismatch/],
      ["secret.txt", /"secret\.txt" is encrypted, which is not supported/],
      ["b.bz2", /compression method 12 \(bzip2\), which is not supported/],
      ["short.txt", /short\.txt.*(inflates to \d+ bytes|corrupt)/],
    ];
    for (const [name, reason] of cases) {
      const uri = `zip://${path}//${name}`;
      await assert.rejects(
        zip.open(uri, {}),
        (e: unknown) =>
          e instanceof IoError && e.message.startsWith(`Cannot open "${uri}": `) &&
          reason.test(e.message),
        name,
      );
    }
    await using ok = await zip.open(`zip://${path}//ok.txt`, {});
    assert.equal(decode(await ok.read(0, 10)), "ok");
  });
});

Deno.test("zip:// gives a clear IoError for files that are not zip archives", async () => {
  await withDir(async (dir) => {
    const good = await makeZip([{ name: "a", data: TEXT }]);
    const cases: [string, Uint8Array, RegExp][] = [
      ["text.zip", encode("just some text, no archive here"), /not a zip archive/],
      ["tiny.zip", encode("PK"), /not a zip archive \(too short\)/],
      ["cut.zip", good.subarray(0, good.length - 30), /not a zip archive/],
      [
        "cd.zip",
        new Uint8Array([...good.subarray(0, good.length - 22 - 40), ...good.subarray(-22 - 30)]),
        /central directory|zip archive/,
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      await assert.rejects(
        zip.open(`zip://${dir}/${name}//a`, {}),
        (e: unknown) => e instanceof IoError && reason.test(e.message),
        name,
      );
    }
    await assert.rejects(zip.open(`zip://${dir}/missing.zip//a`, {}), /no such file/);
    await assert.rejects(zip.open("zip://", {}), /missing an archive path/);
    await assert.rejects(zip.openMany!(`zipall://${dir}/text.zip`, {}), IoError);
  });
});

Deno.test("zip:// refuses write mode like radare2 and declares only read access", async () => {
  await withDir(async (dir) => {
    const path = await sampleZip(dir);
    await assert.rejects(
      zip.open(`zip://${path}//a.txt`, { write: true }),
      /opening zip archives in write mode is not supported/,
    );
    await assert.rejects(zip.openMany!(`zipall://${path}`, { write: true }), /write mode/);
    assert.deepEqual(zip.permissions(`zip://${path}//a.txt`, {}), [{ name: "read", path }]);
    assert.deepEqual(zip.permissions(`zip://${path}::1`, {}), [{ name: "read", path }]);
    assert.deepEqual(zip.permissions(`zipall://${path}`, {}), [{ name: "read", path }]);
  });
});

Deno.test("zip:// reads zip64 archives, archives with a prepended stub, and CP437 names", async () => {
  await withDir(async (dir) => {
    const z64 = `${dir}/z64.zip`;
    await Deno.writeFile(
      z64,
      await makeZip([{ name: "a", data: BIN, method: 0 }, { name: "b", data: TEXT }], {
        zip64: true,
      }),
    );
    {
      await using desc = await zip.open(`zip://${z64}//b`, {});
      assert.deepEqual(await desc.read(0, 10_000), TEXT);
    }
    const sfx = `${dir}/sfx.exe`;
    await Deno.writeFile(
      sfx,
      new Uint8Array([
        ...encode("MZ stub ".repeat(100)),
        ...await makeZip([{ name: "a", data: TEXT }]),
      ]),
    );
    {
      await using desc = await zip.open(`zip://${sfx}//a`, {});
      assert.deepEqual(await desc.read(0, 10_000), TEXT);
    }
    const cp = `${dir}/cp437.zip`;
    await Deno.writeFile(
      cp,
      await makeZip([{ name: new Uint8Array([0x81, 0x62, 0x65, 0x72]), data: BIN }]),
    );
    {
      await using desc = await zip.open(`zip://${cp}//über`, {});
      assert.equal(await desc.size(), BIN.length);
    }
  });
});

Deno.test("zip:// reads archives made by the zip tool", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src/sub`, { recursive: true });
    await Deno.writeFile(`${dir}/src/text.txt`, TEXT);
    const random = randomBytes(200_000);
    await Deno.writeFile(`${dir}/src/sub/random.bin`, random);
    await Deno.writeFile(`${dir}/src/sub/empty`, new Uint8Array(0));
    try {
      const made = await new Deno.Command("zip", {
        args: ["-q", "-r", `${dir}/tool.zip`, "text.txt", "sub"],
        cwd: `${dir}/src`,
      }).output();
      assert.ok(made.success, "zip failed");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      console.log("skipped: the zip tool is not installed (.ci/run: apt-get install zip)");
      return;
    }
    const descs = await zip.openMany!(`zipall://${dir}/tool.zip`, {});
    const byName = new Map(descs.map((d) => [d.uri.slice(`zip://${dir}/tool.zip//`.length), d]));
    assert.deepEqual([...byName.keys()].sort(), ["sub/empty", "sub/random.bin", "text.txt"]);
    assert.deepEqual(await byName.get("text.txt")!.read(0, 10_000), TEXT);
    assert.deepEqual(await byName.get("sub/random.bin")!.read(0, random.length), random);
    assert.equal(await byName.get("sub/empty")!.size(), 0);
    await closeAll(descs);
  });
});
