import assert from "node:assert/strict";
import { IoError, IoRegistry } from "@rap/cli";
import ihex from "../plugins/ihex.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_ihex_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The classic example from the Intel HEX article, with its published checksums. */
const CLASSIC = [
  ":10010000214601360121470136007EFE09D2190140",
  ":100110002146017E17C20001FF5F16002148011928",
  ":10012000194E79234623965778239EDA3F01B2CAA7",
  ":100130003F0156702B5E712B722B732146013421C7",
  ":00000001FF",
  "",
].join("\n");

function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

const CLASSIC_BYTES = hexBytes(
  CLASSIC.split("\n").slice(0, 4).map((l) => l.slice(9, -2)).join(""),
);

/** Every line's bytes sum to 0 mod 256 (an independent check of written checksums). */
function checksumsOk(text: string): boolean {
  return text.trim().split(/\r?\n/).every((line) => {
    let sum = 0;
    for (let i = 1; i < line.length; i += 2) sum += parseInt(line.slice(i, i + 2), 16);
    return (sum & 0xff) === 0;
  });
}

Deno.test("ihex:// reads the classic example: data at its addresses, 0xff gaps, size = max + 1", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/classic.hex`;
    await Deno.writeTextFile(path, CLASSIC);
    await using desc = await new IoRegistry().open(`ihex://${path}`);
    assert.equal(desc.plugin, "ihex");
    assert.equal(desc.writable, false);
    assert.equal(await desc.size(), 0x140);
    assert.deepEqual(await desc.read(0x100, 64), CLASSIC_BYTES);
    assert.deepEqual([...await desc.read(0xfe, 4)], [0xff, 0xff, 0x21, 0x46]);
    assert.deepEqual([...await desc.read(0x13e, 10)], [0x34, 0x21]);
    await assert.rejects(desc.write(0, new Uint8Array([1])), /opened read-only/);
    assert.equal(await desc.system?.("b"), "0x00000100 - 0x0000013f (size 0x140)");
    assert.equal(await desc.system?.("r"), "0x00000100 - 0x00000140");
    assert.deepEqual(JSON.parse(await desc.system?.("j") ?? ""), {
      min: 0x100,
      max: 0x13f,
      size: 0x140,
      ranges: [{ from: 0x100, to: 0x140 }],
    });
  });
});

Deno.test("ihex:// handles types 02, 03, 04, 05, lowercase, CRLF, blank lines and 64 KiB wrap", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/types.hex`;
    await Deno.writeTextFile(
      path,
      [
        "  :020000021000EC", // segment base 0x10000
        ":0200000001AA53", // 0x10000
        "",
        ":0400000300001000E9", // start segment address CS:IP = 0000:1000
        ":02000004000AF0", // linear base 0xA0000
        ":03fffe00c1c2c3ba", // lowercase; wraps: 0xAFFFE..0xAFFFF, then 0xA0000
        ":04000005000A0000ED", // start linear address
        ":00000001FF",
        "garbage after the end of file record is ignored",
      ].join("\r\n"),
    );
    await using desc = await ihex.open(`ihex://${path}`, {});
    assert.deepEqual([...await desc.read(0x10000, 2)], [0x01, 0xaa]);
    assert.deepEqual([...await desc.read(0xafffe, 2)], [0xc1, 0xc2]);
    assert.deepEqual([...await desc.read(0xa0000, 2)], [0xc3, 0xff]);
    assert.equal(await desc.size(), 0xb0000);
  });
});

Deno.test("ihex:// names the line of a bad checksum and of every other malformed record", async () => {
  await withDir(async (dir) => {
    const lines = CLASSIC.split("\n");
    const cases: [string, string, RegExp][] = [
      [
        "checksum.hex",
        [lines[0], lines[1].slice(0, -2) + "29", ...lines.slice(2)].join("\n"),
        /line 2: bad checksum 0x29 \(expected 0x28\)/,
      ],
      [
        "last.hex",
        [...lines.slice(0, 3), lines[3].slice(0, -2) + "C8"].join("\n"),
        /line 4: bad checksum 0xC8 \(expected 0xC7\)/,
      ],
      ["truncated.hex", [lines[0], lines[1].slice(0, 21)].join("\n"), /line 2: record holds/],
      ["odd.hex", ":0000000", /line 1: invalid hex digits/],
      ["short.hex", ":0000", /line 1: record too short/],
      [
        "colon.hex",
        [lines[0], "10010000"].join("\n"),
        /line 2: expected a record starting with ":"/,
      ],
      ["type.hex", ":00000006FA", /line 1: unknown record type 0x06/],
      ["ela.hex", ":0100000400FB", /line 1: invalid type 04 record/],
      [
        "overlap.hex",
        [lines[0], lines[0]].join("\n"),
        /line 2: data at 0x00000100 overlaps line 1/,
      ],
      ["empty.hex", "\n\n", /no Intel HEX records/],
    ];
    for (const [name, text, reason] of cases) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      const uri = `ihex://${dir}/${name}`;
      await assert.rejects(
        ihex.open(uri, {}),
        (e: unknown) =>
          e instanceof IoError && e.message.startsWith(`Cannot open "${uri}": `) &&
          reason.test(e.message),
        name,
      );
    }
    await assert.rejects(ihex.open(`ihex://${dir}/missing.hex`, {}), /no such file/);
    await assert.rejects(ihex.open("ihex://", {}), /missing a path/);
  });
});

Deno.test("ihex:// writes are saved on close as regenerated records with correct checksums", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/w.hex`;
    await Deno.writeTextFile(path, ":0400100001020304E2\n:00000001FF\n");
    const desc = await ihex.open(`ihex://${path}`, { write: true });
    assert.equal(desc.writable, true);
    assert.equal(await desc.write(0x12, new Uint8Array([0xaa])), 1);
    assert.equal(await desc.write(0x1fffe, new Uint8Array([0x10, 0x20, 0x30])), 3);
    assert.equal(await desc.size(), 0x20001);
    // Nothing is written before close.
    assert.equal(await Deno.readTextFile(path), ":0400100001020304E2\n:00000001FF\n");
    await desc.close();
    const saved = await Deno.readTextFile(path);
    assert.equal(
      saved,
      [
        ":040010000102AA043B",
        ":020000040001F9",
        ":02FFFE001020D1",
        ":020000040002F8",
        ":0100000030CF",
        ":00000001FF",
        "",
      ].join("\n"),
    );
    assert.ok(checksumsOk(saved));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.hex"]);
    // The saved file reads back the same.
    await using again = await ihex.open(`ihex://${path}`, {});
    assert.deepEqual([...await again.read(0x10, 4)], [1, 2, 0xaa, 4]);
    assert.deepEqual([...await again.read(0x1fffe, 3)], [0x10, 0x20, 0x30]);
  });
});

Deno.test("ihex:// keeps the record length, line ending and start addresses when saving", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/keep.hex`;
    const data = Uint8Array.from({ length: 40 }, (_, i) => i);
    // 32-byte records, CRLF, a type 05 record.
    const rec = (addr: number, bytes: Uint8Array) => {
      let sum = bytes.length + (addr >> 8) + (addr & 0xff);
      let s = `:${bytes.length.toString(16).padStart(2, "0")}${
        addr.toString(16).padStart(4, "0")
      }00`;
      for (const b of bytes) {
        sum += b;
        s += b.toString(16).padStart(2, "0");
      }
      return (s + ((0x100 - (sum & 0xff)) & 0xff).toString(16).padStart(2, "0")).toUpperCase();
    };
    await Deno.writeTextFile(
      path,
      [
        rec(0, data.subarray(0, 32)),
        rec(32, data.subarray(32)),
        ":0400000500000100F6",
        ":00000001FF",
        "",
      ]
        .join("\r\n"),
    );
    {
      await using desc = await ihex.open(`ihex://${path}`, { write: true });
      await desc.write(0, new Uint8Array([0xff]));
    }
    const saved = await Deno.readTextFile(path);
    const lines = saved.split("\r\n");
    assert.equal(lines[0].length, 1 + 2 * (5 + 32));
    assert.equal(lines[1], rec(32, data.subarray(32)));
    assert.equal(lines[2], ":0400000500000100F6");
    assert.equal(lines[3], ":00000001FF");
    assert.ok(checksumsOk(saved));
  });
});

Deno.test("ihex:// opened read-only never rewrites the file, and writes past 4 GiB fail", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ro.hex`;
    await Deno.writeTextFile(path, CLASSIC);
    {
      await using desc = await ihex.open(`ihex://${path}`, {});
      await assert.rejects(desc.write(0x100, new Uint8Array([0])), IoError);
    }
    assert.equal(await Deno.readTextFile(path), CLASSIC);
    {
      await using desc = await ihex.open(`ihex://${path}`, { write: true });
      await assert.rejects(
        desc.write(2 ** 32 - 1, new Uint8Array(2)),
        /addresses end at 0xffffffff/,
      );
    }
    // Nothing changed, so nothing was saved.
    assert.equal(await Deno.readTextFile(path), CLASSIC);
  });
});

Deno.test("ihex:// declares read access, plus the file and its temporary file when writing", () => {
  assert.deepEqual(ihex.permissions("ihex://fw.hex", {}), [{ name: "read", path: "fw.hex" }]);
  assert.deepEqual(ihex.permissions("ihex://fw.hex", { write: true }), [
    { name: "read", path: "fw.hex" },
    { name: "write", path: "fw.hex" },
    { name: "read", path: "fw.hex.rap-save" },
    { name: "write", path: "fw.hex.rap-save" },
  ]);
});
