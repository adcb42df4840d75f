import assert from "node:assert/strict";
import { IoError, IoRegistry } from "@rap/cli";
import srec from "../plugins/srec.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_srec_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The S19 example from the SREC article, with its published checksums. */
const HELLO = [
  "S00F000068656C6C6F202020202000003C",
  "S11F00007C0802A6900100049421FFF07C6C1B787C8C23783C6000003863000026",
  "S11F001C4BFFFFE5398000007D83637880010014382100107C0803A64E800020E9",
  "S111003848656C6C6F20776F726C642E0A0042",
  "S5030003F9",
  "S9030000FC",
  "",
].join("\n");

/** An S-record line with a computed checksum (an independent encoder for the tests). */
function line(type: number, address: number, data: number[]): string {
  const width = { 1: 2, 2: 3, 3: 4, 5: 2, 7: 4, 8: 3, 9: 2 }[type] ?? 2;
  const bytes = [width + data.length + 1];
  for (let i = width - 1; i >= 0; i--) bytes.push(Math.floor(address / 256 ** i) & 0xff);
  bytes.push(...data);
  const sum = bytes.reduce((a, b) => a + b, 0);
  bytes.push(0xff - (sum & 0xff));
  return `S${type}` + bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
}

Deno.test("srec:// reads the S19 example: 'Hello world.' at 0x38, size = max + 1", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/hello.s19`;
    await Deno.writeTextFile(path, HELLO);
    await using desc = await new IoRegistry().open(`srec://${path}`);
    assert.equal(desc.plugin, "srec");
    assert.equal(desc.writable, false);
    assert.equal(await desc.size(), 0x38 + 14);
    assert.equal(new TextDecoder().decode(await desc.read(0x38, 12)), "Hello world.");
    assert.deepEqual([...await desc.read(0, 4)], [0x7c, 0x08, 0x02, 0xa6]);
    await assert.rejects(desc.write(0, new Uint8Array([1])), IoError);
    assert.equal(await desc.system?.("b"), "0x00000000 - 0x00000045 (size 0x46)");
  });
});

Deno.test("srec:// reads S2 and S3 records, fills gaps with 0xff, accepts CRLF and indentation", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/wide.s37`;
    await Deno.writeTextFile(
      path,
      [
        "  " + line(2, 0x123456, [1, 2]),
        "",
        line(3, 0x12345678, [0xaa, 0xbb, 0xcc]),
        line(7, 0x12345678, []),
      ].join("\r\n") + "\r\n",
    );
    await using desc = await srec.open(`srec://${path}`, {});
    assert.equal(await desc.size(), 0x1234567b);
    assert.deepEqual([...await desc.read(0x123455, 4)], [0xff, 1, 2, 0xff]);
    assert.deepEqual([...await desc.read(0x12345678, 8)], [0xaa, 0xbb, 0xcc]);
    assert.equal(await desc.system?.("r"), "0x00123456 - 0x00123458\n0x12345678 - 0x1234567b");
  });
});

Deno.test("srec:// names the line of a bad checksum and of every other malformed record", async () => {
  await withDir(async (dir) => {
    const lines = HELLO.split("\n");
    const cases: [string, string, RegExp][] = [
      [
        "checksum.s19",
        [lines[0], lines[1], lines[2].slice(0, -2) + "EA", ...lines.slice(3)].join("\n"),
        /line 3: bad checksum 0xEA \(expected 0xE9\)/,
      ],
      [
        "header.s19",
        ["S00F000068656C6C6F202020202000003D", ...lines.slice(1)].join("\n"),
        /line 1: bad checksum 0x3D/,
      ],
      ["truncated.s19", [lines[0], lines[1].slice(0, 30)].join("\n"), /line 2: record holds/],
      ["odd.s19", "S1030", /line 1: invalid hex digits/],
      ["s4.s19", "S403000000FC", /line 1: S4 records are reserved/],
      ["type.s19", "SX030000FC", /line 1: unknown record type "SX"/],
      ["short.s19", line(3, 0, []).slice(0, 4) + "02" + "00FD", /record too short|record holds/],
      ["letter.s19", `${lines[0]}\n:10010000`, /line 2: expected a record starting with "S"/],
      [
        "overlap.s19",
        [lines[1], lines[1]].join("\n"),
        /line 2: data at 0x00000000 overlaps line 1/,
      ],
      ["empty.s19", "", /no S-records/],
    ];
    for (const [name, text, reason] of cases) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      const uri = `srec://${dir}/${name}`;
      await assert.rejects(
        srec.open(uri, {}),
        (e: unknown) =>
          e instanceof IoError && e.message.startsWith(`Cannot open "${uri}": `) &&
          reason.test(e.message),
        name,
      );
    }
    await assert.rejects(srec.open(`srec://${dir}/missing.s19`, {}), /no such file/);
  });
});

Deno.test("srec:// is read-only like radare2 and declares read access", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ro.s19`;
    await Deno.writeTextFile(path, HELLO);
    await assert.rejects(
      srec.open(`srec://${path}`, { write: true }),
      /S-record files are read-only/,
    );
    assert.deepEqual(srec.permissions(`srec://${path}`, {}), [{ name: "read", path }]);
  });
});
