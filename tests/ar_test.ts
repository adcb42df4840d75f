import assert from "node:assert/strict";
import { IoError, IoRegistry } from "@rap/cli";
import ar from "../plugins/ar.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function header(name: string, size: number): string {
  return name.padEnd(16) + "1700000000".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) +
    "100644".padEnd(8) + String(size).padEnd(10) + "`\n";
}

function join(parts: (string | Uint8Array)[]): Uint8Array {
  const bytes = parts.map((p) => typeof p === "string" ? encode(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** One archive entry: header, data, "\n" pad to an even offset. */
function entry(name: string, data: Uint8Array): Uint8Array {
  return join([header(name, data.length), data, data.length % 2 ? "\n" : ""]);
}

/** A GNU archive: symbol table, long-name table, short and long names. */
function gnuArchive(members: [string, Uint8Array][]): Uint8Array {
  let table = "";
  const entries: Uint8Array[] = [];
  for (const [name, data] of members) {
    if (name.length > 15) {
      entries.push(entry(`/${table.length}`, data));
      table += `${name}/\n`;
    } else {
      entries.push(entry(`${name}/`, data));
    }
  }
  const symbols = new Uint8Array([0, 0, 0, 0]);
  return join([
    "!<arch>\n",
    entry("/", symbols),
    ...(table ? [entry("//", encode(table))] : []),
    ...entries,
  ]);
}

/** A BSD archive: `#1/LEN` names (NUL-padded), a `__.SYMDEF SORTED` table, a short name. */
function bsdArchive(members: [string, Uint8Array][]): Uint8Array {
  const long = (name: string, data: Uint8Array) => {
    const padded = encode(name.padEnd(Math.ceil(name.length / 8) * 8 + 4, "\0"));
    return entry(`#1/${padded.length}`, join([padded, data]));
  };
  return join([
    "!<arch>\n",
    long("__.SYMDEF SORTED", new Uint8Array(8)),
    ...members.map(([name, data]) =>
      name.length <= 15 && !name.includes(" ") ? entry(name, data) : long(name, data)
    ),
  ]);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_ar_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const OBJ = encode("\x7fELF object bytes!"); // odd length: exercises the "\n" pad
const LONG = "a_rather_long_member_name.o";
const LONG_DATA = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff);

Deno.test("ar://ARCHIVE//MEMBER reads GNU short and long-named members on demand", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/libx.a`;
    await Deno.writeFile(
      path,
      gnuArchive([["x.o", OBJ], [LONG, LONG_DATA], ["y.o", encode("yy")]]),
    );
    const registry = new IoRegistry();
    {
      await using desc = await registry.open(`ar://${path}//x.o`);
      assert.equal(desc.plugin, "ar");
      assert.equal(desc.writable, false);
      assert.equal(await desc.size(), OBJ.length);
      assert.deepEqual(await desc.read(0, 100), OBJ);
      assert.deepEqual(await desc.read(OBJ.length - 1, 10), OBJ.subarray(-1));
      assert.equal((await desc.read(OBJ.length, 10)).length, 0);
      await assert.rejects(desc.write(0, encode("x")), /read-only/);
    }
    {
      await using desc = await registry.open(`lib://${path}//${LONG}`);
      assert.deepEqual(await desc.read(0, 2000), LONG_DATA);
    }
    {
      await using desc = await registry.open(`ar://${path}//y.o`);
      assert.equal(decode(await desc.read(0, 10)), "yy");
    }
  });
});

Deno.test("ar:// accepts BSD archives: #1/LEN names, short names, __.SYMDEF skipped", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/libbsd.a`;
    await Deno.writeFile(path, bsdArchive([["short.o", OBJ], ["name with space.o", LONG_DATA]]));
    {
      await using desc = await ar.open(`ar://${path}//short.o`, {});
      assert.deepEqual(await desc.read(0, 100), OBJ);
    }
    {
      await using desc = await ar.open(`ar://${path}//name with space.o`, {});
      assert.equal(await desc.size(), LONG_DATA.length);
      assert.deepEqual(await desc.read(0, 2000), LONG_DATA);
    }
    const all = await ar.openMany!(`arall://${path}`, {});
    assert.deepEqual(all.map((d) => d.uri), [
      `ar://${path}//short.o`,
      `ar://${path}//name with space.o`,
    ]);
    for (const d of all) await d.close();
  });
});

Deno.test("arall:// and liball:// open every member, skipping symbol and name tables", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/liby.a`;
    await Deno.writeFile(path, gnuArchive([["x.o", OBJ], [LONG, LONG_DATA]]));
    const registry = new IoRegistry();
    for (const [scheme, single] of [["arall", "ar"], ["liball", "lib"]]) {
      const descs = await registry.openMany(`${scheme}://${path}`);
      assert.deepEqual(descs.map((d) => d.uri), [
        `${single}://${path}//x.o`,
        `${single}://${path}//${LONG}`,
      ]);
      // They share one file handle; it stays usable until the last one closes.
      await descs[0].close();
      assert.deepEqual(await descs[1].read(0, 2000), LONG_DATA);
      await descs[1].close();
    }
    await assert.rejects(ar.open(`arall://${path}`, {}), /opens every member at once/);
    const one = await ar.openMany!(`ar://${path}//x.o`, {});
    assert.equal(one.length, 1);
    await one[0].close();
  });
});

Deno.test("ar:// without //MEMBER fails and lists the members; a missing member is named", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/libz.a`;
    await Deno.writeFile(path, gnuArchive([["x.o", OBJ], [LONG, LONG_DATA]]));
    await assert.rejects(
      ar.open(`ar://${path}`, {}),
      (e: unknown) =>
        e instanceof IoError && /no member given/.test(e.message) &&
        e.message.endsWith(`the archive has:\nx.o\n${LONG}`),
    );
    await assert.rejects(
      ar.open(`ar://${path}//nope.o`, {}),
      (e: unknown) =>
        e instanceof IoError &&
        e.message === `Cannot open "ar://${path}//nope.o": member "nope.o" not found in ` +
            `archive "${path}"`,
    );
  });
});

Deno.test("ar:// gives a clear IoError for malformed or truncated archives", async () => {
  await withDir(async (dir) => {
    const good = gnuArchive([["x.o", OBJ], [LONG, LONG_DATA]]);
    const badEnd = join(["!<arch>\n", header("x.o/", 2).slice(0, 58), "XX", "hi"]);
    const cases: [string, Uint8Array, RegExp][] = [
      ["text.a", encode("not an archive at all"), /not an ar archive \(bad magic\)/],
      ["empty.a", new Uint8Array(0), /bad magic/],
      ["thin.a", encode("!<thin>\n"), /thin ar archives/],
      ["cut-header.a", good.subarray(0, 8 + 30), /truncated ar header at offset 8/],
      ["cut-data.a", good.subarray(0, good.length - 100), /runs past the end/],
      ["end.a", badEnd, /bad end marker/],
      [
        "size.a",
        join(["!<arch>\n", header("x.o/", 0).replace(/0 {9}`/, "-1        `")]),
        /bad size/,
      ],
      ["nolong.a", join(["!<arch>\n", entry("/0", OBJ)]), /long name without a table/],
    ];
    for (const [name, bytes, reason] of cases) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      const uri = `ar://${dir}/${name}//x.o`;
      await assert.rejects(
        ar.open(uri, {}),
        (e: unknown) =>
          e instanceof IoError && e.message.startsWith(`Cannot open "${uri}": `) &&
          reason.test(e.message),
        name,
      );
    }
    await assert.rejects(ar.open(`ar://${dir}/missing.a//x.o`, {}), /no such file/);
    await assert.rejects(ar.open(`ar://${dir}//x.o`, {}), /is a directory/);
    await assert.rejects(ar.openMany!(`arall://${dir}/text.a`, {}), /bad magic/);
    await Deno.writeFile(`${dir}/none.a`, encode("!<arch>\n"));
    await assert.rejects(ar.openMany!(`arall://${dir}/none.a`, {}), /has no members/);
  });
});

Deno.test("ar:// is read-only and declares read access to the archive", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/libw.a`;
    await Deno.writeFile(path, gnuArchive([["x.o", OBJ]]));
    await assert.rejects(
      ar.open(`ar://${path}//x.o`, { write: true }),
      /ar archives are read-only/,
    );
    await assert.rejects(ar.openMany!(`arall://${path}`, { write: true }), /read-only/);
    assert.deepEqual(ar.permissions(`lib://${path}//x.o`, {}), [{ name: "read", path }]);
    assert.deepEqual(ar.permissions(`liball://${path}`, {}), [{ name: "read", path }]);
  });
});

Deno.test("ar:// reads archives made by binutils ar", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/x.o`, OBJ);
    await Deno.writeFile(`${dir}/${LONG}`, LONG_DATA);
    try {
      const made = await new Deno.Command("ar", {
        args: ["rcs", "libtool.a", "x.o", LONG],
        cwd: dir,
        stderr: "null",
      }).output();
      assert.ok(made.success, "ar failed");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      console.log("skipped: ar is not installed (.ci/run: apt-get install binutils)");
      return;
    }
    const descs = await ar.openMany!(`arall://${dir}/libtool.a`, {});
    assert.deepEqual(descs.map((d) => d.uri.split("//").at(-1)), ["x.o", LONG]);
    assert.deepEqual(await descs[0].read(0, 100), OBJ);
    assert.deepEqual(await descs[1].read(0, 2000), LONG_DATA);
    for (const d of descs) await d.close();
  });
});
