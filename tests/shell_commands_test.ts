import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { OutputBuffer, Shell } from "../lib/shell/mod.ts";
import { RECORDINGS_DIR } from "./_recordings.ts";

const decoder = new TextDecoder();

/** The client's stdout lines of a recording (the `# | ` lines after "client stdout"). */
async function recordedStdout(name: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(name, RECORDINGS_DIR));
  const section = text.split("# ---- client stdout ----\n")[1].split("# ---- client stderr")[0];
  return section.split("\n").filter((l) => l.startsWith("# | ")).map((l) => l.slice(4));
}

/** The text of the CMD reply (0x87) packets of a recording, in order, without the NUL. */
async function recordedCmdReplies(name: string): Promise<string[]> {
  const { parseRecording } = await import("./_recordings.ts");
  const text = await Deno.readTextFile(new URL(name, RECORDINGS_DIR));
  return parseRecording(name, text).packets
    .filter((p) => p.direction === "<" && p.bytes[0] === 0x87 && !p.elided)
    .map((p) => decoder.decode(p.bytes.subarray(5, p.bytes.length - 1)));
}

/** The bytes a `px` dump shows, read back from its hex columns. */
function bytesOfDump(dump: string): { address: bigint; bytes: Uint8Array } {
  const rows = dump.split("\n").filter((l) => l.startsWith("0x"));
  const out: number[] = [];
  for (const row of rows) {
    const hex = row.slice(12, 52).replace(/ /g, "");
    for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  }
  return { address: BigInt(rows[0].slice(0, 10)), bytes: new Uint8Array(out) };
}

/** A shell over a writable malloc:// buffer holding `bytes` at `address`. */
async function shellWith(address: bigint, bytes: Uint8Array): Promise<Shell> {
  const shell = new Shell();
  await shell.session.open(`malloc://${Number(address) + bytes.length + 64}`, { write: true });
  await shell.session.writeAt(address, bytes);
  return shell;
}

Deno.test("px prints radare2's exact layout for recording 05 (px 16 at 0x6270)", async () => {
  const [expected] = await recordedCmdReplies("05-remote-cmd-eqplus.hex");
  const { address, bytes } = bytesOfDump(expected);
  assert.equal(address, 0x6270n);
  await using shell = await shellWith(address, bytes);
  assert.equal(await shell.run("s 0x6270; px 16"), expected);
});

Deno.test("px 1024 matches the start and the length of radare2's reply in recording 06", async () => {
  const { parseRecording } = await import("./_recordings.ts");
  const name = "06-iosystem-cmd-and-16k-limit.hex";
  const packets = parseRecording(name, await Deno.readTextFile(new URL(name, RECORDINGS_DIR)))
    .packets;
  // The dump keeps the first bytes of the 4551-byte reply; the READ replies hold the data.
  const reply = packets.find((p) => p.direction === "<" && p.bytes[0] === 0x87 && p.elided)!;
  const length = new DataView(reply.bytes.buffer, reply.bytes.byteOffset).getUint32(1);
  assert.equal(length, 4551);
  const prefix = decoder.decode(reply.bytes.subarray(5));
  const read = packets.find((p) => p.direction === "<" && p.bytes[0] === 0x82)!;
  const data = new Uint8Array(1024);
  data.set(read.bytes.subarray(5));
  await using shell = await shellWith(0n, data);
  const output = await shell.run("px 1024 @ 0");
  assert.equal(new TextEncoder().encode(output).length + 1, length);
  assert.equal(output.slice(0, prefix.length), prefix);
});

Deno.test("px of 1, 16 and 100 bytes matches radare2's partial rows (recording 02)", async () => {
  const lines = await recordedStdout("02-reads-various-sizes.hex");
  const dumps = lines.join("\n").split(/(?=- offset -)/).filter((d) => d.startsWith("- offset"))
    .map((d) => d.trimEnd() + "\n");
  assert.equal(dumps.length, 3);
  for (
    const [command, dump] of [["px 1 @ 0", dumps[0]], ["px 16 @ 0x10", dumps[1]], [
      "px 100 @ 0x100",
      dumps[2],
    ]]
  ) {
    const { address, bytes } = bytesOfDump(dump);
    await using shell = await shellWith(address, bytes);
    assert.equal(await shell.run(command), dump, command);
  }
});

Deno.test("px after wx matches recording 11 (px 16 @ 0 and px 4 @ 0x20)", async () => {
  const lines = await recordedStdout("11-full-session-r2client.hex");
  const start = lines.findIndex((l) => l.startsWith("- offset -"));
  const expected = lines.slice(start, start + 4).map((l) => l + "\n");
  await using shell = new Shell();
  await shell.session.open("malloc://64", { write: true });
  await shell.run("wx 000102030405060708090a0b0c0d0e0f; wx 22232425 @ 0x22");
  assert.equal(await shell.run("px 16 @ 0"), expected[0] + expected[1]);
  assert.equal(await shell.run("wx 6869 @ 0x20;px 4 @ 0x20"), expected[2] + expected[3]);
});

Deno.test("px on an unaligned address labels the columns with the low address digits", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://" + "41".repeat(20));
  assert.equal(
    await shell.run("px 4 @ 5"),
    "- offset -   5 6  7 8  9 A  B C  D E  F10 1112 1314  56789ABCDEF01234\n" +
      "0x00000005  4141 4141                                AAAA\n",
  );
});

Deno.test("px pads past the end of the file with 0xff, as radare2", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://4142");
  assert.equal(await shell.run("p8 4"), "4142ffff\n");
  assert.equal(await shell.run("px 0"), "");
});

Deno.test("pxw prints little-endian words with the ASCII column and no header", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://7f454c4602010100000000000000000003000000");
  assert.equal(
    await shell.run("pxw 22"),
    "0x00000000  0x464c457f 0x00010102 0x00000000 0x00000000  .ELF............\n" +
      "0x00000010  0x00000003                                   ....\n",
  );
});

Deno.test("p8, pr and ps print hex, raw bytes and strings as radare2", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://68695c0a0100ff");
  assert.equal(await shell.run("p8 7"), "68695c0a0100ff\n");
  const out = new OutputBuffer();
  await shell.execute("pr 7", out);
  assert.deepEqual([...out.bytes()], [0x68, 0x69, 0x5c, 0x0a, 0x01, 0x00, 0xff]);
  // ps: the newline printed, a backslash doubled, the end at the first other non-printable.
  assert.equal(await shell.run("ps"), "hi\\\\\n\n");
  // ps n: every byte, escaped; past the end NULs, as radare2's decode_text reads them.
  assert.equal(await shell.run("ps 9"), "hi\\\\\n\\x01\\x00\\xff\\x00\\x00\n");
  assert.equal(await shell.run("ps 2 @ 0x10"), "\\xff\\xff\n"); // past the end: 0xff
  assert.equal(await shell.run("ps 0"), "\n");
  assert.equal(await shell.run("p8 0"), ""); // radare2 prints nothing
  assert.equal(await shell.run("p8 -2 @ 4"), "5c0a\n"); // the 2 bytes before the seek
});

Deno.test("wx, w and wz write at the seek of a temp file and survive reopening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/data.bin`;
    await Deno.writeFile(path, new Uint8Array(32));
    {
      await using shell = new Shell({ writable: true });
      await shell.run(`o ${path}`);
      assert.equal(await shell.run("wx 41 42 @ 2; w hi\\n @ 8; s 0x10; wz ok; s"), "0x10\n");
    }
    const bytes = await Deno.readFile(path);
    assert.equal(decoder.decode(bytes.subarray(2, 4)), "AB");
    assert.equal(decoder.decode(bytes.subarray(8, 11)), "hi\n");
    assert.deepEqual([...bytes.subarray(16, 19)], [0x6f, 0x6b, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writing to a read-only file fails with one line naming oo+, which fixes it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ro.bin`;
    await Deno.writeFile(path, new Uint8Array(8));
    await using shell = new Shell();
    await shell.run(`o ${path}`);
    const error = await shell.run("wx 41");
    assert.match(error, /^ERROR: .*read-only.*oo\+\)\n$/);
    assert.equal(await shell.run("oo+; wx 4142; p8 2"), "4142\n");
    assert.match(await shell.run("o"), /^ 4 \* rwx 0x00000008 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad hex, bad numbers and unknown commands each give one clear line", async () => {
  await using shell = new Shell();
  await shell.session.open("malloc://16", { write: true });
  assert.equal(await shell.run("wx 4"), 'ERROR: Invalid hexpair string "4"\n');
  assert.equal(await shell.run("s zz"), 'ERROR: Invalid number "zz"\n');
  assert.equal(await shell.run("pd 10"), 'ERROR: Unknown command "pd" (type ? for help)\n');
  assert.equal(await shell.run("pxq"), 'ERROR: Unknown command "pxq" (type ? for help)\n');
});

Deno.test("s, s+, s-, b and expressions with $$, $s and $b", async () => {
  await using shell = new Shell();
  await shell.session.open("malloc://0x100");
  assert.equal(await shell.run("s"), "0x0\n");
  assert.equal(await shell.run("s 0x10+4; s"), "0x14\n");
  assert.equal(await shell.run("s+ 0x10; s"), "0x24\n");
  assert.equal(await shell.run("s- 4; s"), "0x20\n");
  assert.equal(await shell.run("s $$*2; s"), "0x40\n");
  assert.equal(await shell.run("s $s-16; s"), "0xf0\n");
  assert.equal(await shell.run("b"), "0x100\n");
  assert.equal(await shell.run("b 32; b; s 0; s++; s"), "0x20\n0x20\n");
  assert.equal(await shell.run("?v $b+$$"), "0x40\n");
  assert.equal(await shell.run("?vi 0x10"), "16\n");
  assert.equal(await shell.run("b 0"), "ERROR: Block size must be 1 to 32M, got 0\n");
});

Deno.test("@ seeks for one command only and ; runs several commands", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://00112233445566778899");
  assert.equal(await shell.run("s 2; p8 2 @ 8; p8 2; s"), "8899\n2233\n0x2\n");
  assert.equal(await shell.run('"?e a;b"; ?e c'), "a;b\nc\n");
});

Deno.test("~ filters output lines: words, negation, counts, line ranges and columns", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://" + "00".repeat(48));
  assert.equal(
    await shell.run("px 48~0x00000010"),
    (await shell.run("px 48")).split("\n")[2] + "\n",
  );
  assert.equal(await shell.run("px 48~?"), "4\n");
  assert.equal(await shell.run("px 48~!0x"), (await shell.run("px 48")).split("\n")[0] + "\n");
  assert.equal(await shell.run("px 48~:1..3~[0]"), "0x00000000\n0x00000010\n");
  assert.equal(
    await shell.run("px 48 @ 0~:-1"),
    "0x00000020  0000 0000 0000 0000 0000 0000 0000 0000  ................\n",
  );
  // radare2 counts a negative range from the end of the whole output, a positive one over
  // the matching lines: the last of 4 lines is never among the 3 that match "0x".
  assert.equal(await shell.run("px 48 @ 0~0x~:-1"), "");
});

Deno.test("~[a,b], ~[a-b] and ~[a-] pick columns as radare2's grep (its output written out)", async () => {
  await using shell = new Shell();
  await shell.session.open(
    "hex://" + Array.from({ length: 48 }, (_, i) => i.toString(16).padStart(2, "0")).join(""),
  );
  assert.equal(
    await shell.run("px 48~[0,2]"),
    "- -\n0x00000000 0203\n0x00000010 1213\n0x00000020 2223\n",
  );
  assert.equal(
    await shell.run("px 48~[1-3]"),
    "offset - 0\n0001 0203 0405\n1011 1213 1415\n2021 2223 2425\n",
  );
  // Columns split at any of " |,;=\t": the last row's ASCII column holds a ",".
  assert.equal(
    await shell.run("px 48~[-1]"),
    "0123456789ABCDEF\n................\n" +
      "................\n-./\n",
  );
  assert.equal(
    await shell.run("px 48~[ 0 , 9 ]~0x"),
    "0x00000000 ................\n" +
      "0x00000010 ................\n0x00000020 !\"#$%&'()*+\n",
  );
  assert.equal(await shell.run("px 48~[70]~:0"), (await shell.run("px 48")).split("\n")[0] + "\n");
  assert.equal(await shell.run("px 48~0x~10"), (await shell.run("px 48")).split("\n")[2] + "\n");
  assert.equal(await shell.run("px 48~0x~?"), "3\n");
  assert.equal(await shell.run("px 48~:1..3?"), "1\n"); // radare2 counts the first only
  assert.equal(await shell.run("px 48~ 0x00000010"), ""); // the space is part of the word
  assert.match(
    await shell.run("px 48~{}"),
    /^ERROR: The ~ filter "~\{\}" \(JSON\) is not supported/,
  );
});

Deno.test("> and >> write a command's output to a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using shell = new Shell();
    await shell.session.open("hex://cafebabe");
    assert.equal(await shell.run(`p8 2 > ${dir}/out.txt`), "");
    assert.equal(await shell.run(`p8 2 @ 2 >> ${dir}/out.txt`), "");
    assert.equal(await Deno.readTextFile(`${dir}/out.txt`), "cafe\nbabe\n");
    await shell.run(`pr 4 > ${dir}/raw.bin`);
    assert.deepEqual([...await Deno.readFile(`${dir}/raw.bin`)], [0xca, 0xfe, 0xba, 0xbe]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wtf dumps bytes from the seek into a local file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using shell = new Shell();
    await shell.session.open("hex://0001020304050607");
    assert.equal(
      await shell.run(`wtf ${dir}/dump.bin 4 @ 2`),
      `INFO: Dumped 4 bytes from 0x00000002 into ${dir}/dump.bin\n`,
    );
    assert.deepEqual([...await Deno.readFile(`${dir}/dump.bin`)], [2, 3, 4, 5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("o lists files in radare2's format, o- closes them, op switches", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://16; o+ hex://41");
  assert.equal(
    await shell.run("o"),
    " 3 - rwx 0x00000010 malloc://16\n 4 * rwx 0x00000001 hex://41\n",
  );
  assert.equal(await shell.run("op 3; o~*"), " 3 * rwx 0x00000010 malloc://16\n");
  assert.equal(await shell.run("o-4; o"), " 3 * rwx 0x00000010 malloc://16\n");
  assert.equal(await shell.run("o-9"), "ERROR: No open file with fd 9\n");
  assert.match(await shell.run("o nope://x"), /^ERROR: Cannot open "nope:\/\/x": no plugin/);
  assert.equal(await shell.run("o-*; o"), "");
  assert.equal(await shell.run("p8 1"), "ff\n");
});

Deno.test("i describes the current file", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://2048");
  assert.equal(
    await shell.run("i"),
    "fd       3\nfile     malloc://2048\nsize     0x800\nhumansz  2K\nmode     rwx\n" +
      "iorw     true\nblock    0x100\n", // r2 -n -qc i malloc://2048, byte for byte
  );
  await shell.run("o-3");
  assert.match(await shell.run("i"), /^ERROR: No file is open/);
});

Deno.test("?e, ?V, ? and q", async () => {
  await using shell = new Shell();
  assert.equal(await shell.run("?e hello world"), "hello world\n");
  assert.match(await shell.run("?V"), /^\d+\.\d+\.\d+ rap \(deno /);
  assert.match(await shell.run("?"), /\| px \[n\] +hexdump/);
  assert.equal(await shell.run("q; ?e not printed"), "");
  assert.equal(shell.quitRequested, true);
});

Deno.test(":cmd and =!cmd report plugins without commands clearly", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://8");
  assert.equal(
    await shell.run(":help"),
    'ERROR: The "malloc" plugin has no commands (=!cmd, :cmd)\n',
  );
  assert.equal(
    await shell.run("=!help"),
    'ERROR: The "malloc" plugin has no commands (=!cmd, :cmd)\n',
  );
});

Deno.test("!cmd runs a command in the host's shell", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await using shell = new Shell();
  assert.equal(await shell.run("!echo hi"), "hi\n");
});
