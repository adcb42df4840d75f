/**
 * The shell against a real radare2: `rap shell -qc CMD FILE` must print what
 * `r2 -n -qc CMD FILE` prints, byte for byte (standard output; radare2 runs with
 * `-e scr.color=0`, since it colours even a pipe when TERM says the terminal can). The tests
 * that need radare2 skip without `r2` on PATH; the expected outputs written out below run
 * everywhere (they were taken from radare2 6.2.1).
 */
import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { OutputBuffer, Shell } from "../lib/shell/mod.ts";
import { HAS_PYTHON, startPeer } from "./_peer.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

const HAS_R2 = (() => {
  try {
    return new Deno.Command("r2", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/** The line of issue 14's "done when", and what radare2 6.2.1 prints for it. */
const DONE_WHEN = "?v -1;?v 0xffffffffffffffff;s 0x20000000000001;s;px 48~[0,2]";
const DONE_WHEN_OUTPUT = "0xffffffffffffffff\n0xffffffffffffffff\n0x20000000000001\n" +
  "- -\n0x20000000000001 ffff\n0x20000000000011 ffff\n0x20000000000021 ffff\n";

/** A program's standard output (its standard input empty, its messages left out). */
async function stdoutOfProgram(program: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return decoder.decode(out.stdout);
}

/** `r2 -n -qc command file`: its standard output. */
const r2 = (command: string, file: string) =>
  stdoutOfProgram("r2", ["-e", "scr.color=0", "-n", "-qc", command, file]);

/** `rap shell -qc command file`: its standard output. */
const rap = (command: string, file: string) =>
  stdoutOfProgram(Deno.execPath(), ["run", "-A", CLI, "shell", "-qc", command, file]);

/** What a shell prints on standard output for `line` (its messages left out). */
async function stdoutOf(shell: Shell, line: string): Promise<string> {
  const out = new OutputBuffer({ write() {}, message() {} });
  await shell.execute(line, out);
  return out.text();
}

/** Sample files: 256 bytes 00..ff, and a short string with control bytes and a NUL. */
async function withSamples(
  test: (files: { seq: string; str: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rap_r2_" });
  try {
    const seq = `${dir}/seq.bin`;
    const str = `${dir}/str.bin`;
    await Deno.writeFile(seq, Uint8Array.from({ length: 256 }, (_, i) => i));
    await Deno.writeFile(str, new TextEncoder().encode("Hel\\lo\nWorld\tX\rY\x01abc\0def"));
    await test({ seq, str });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rap shell -qc prints radare2's output for the line of issue 14 (written out)", async () => {
  await withSamples(async ({ seq }) => {
    assert.equal(await rap(DONE_WHEN, seq), DONE_WHEN_OUTPUT);
  });
});

Deno.test({
  name: "rap shell -qc and r2 -n -qc print the same bytes for the line of issue 14",
  ignore: !HAS_R2,
  async fn() {
    await withSamples(async ({ seq }) => {
      assert.equal(await r2(DONE_WHEN, seq), DONE_WHEN_OUTPUT);
      assert.equal(await rap(DONE_WHEN, seq), await r2(DONE_WHEN, seq));
    });
  },
});

/** The `$ rap shell -qc '...' FILE` examples of docs/shell.md and the lines shown after each. */
async function docExamples(): Promise<{ command: string; shown: string[] }[]> {
  const text = await Deno.readTextFile(new URL("../docs/shell.md", import.meta.url));
  const examples: { command: string; shown: string[] }[] = [];
  for (const block of text.matchAll(/```console\n([\s\S]*?)```/g)) {
    for (const line of block[1].split("\n")) {
      const m = /^\$ rap shell -qc '([^']*)' FILE$/.exec(line);
      if (m) examples.push({ command: m[1], shown: [] });
      else if (line !== "" && examples.length > 0) examples.at(-1)!.shown.push(line);
    }
  }
  return examples;
}

Deno.test("the examples of docs/shell.md print what the page shows", async () => {
  const examples = await docExamples();
  assert.ok(examples.length >= 3);
  await withSamples(async ({ seq }) => {
    for (const { command, shown } of examples) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "shell", "-qc", command, seq],
        stdin: "null",
      }).output();
      const lines = (bytes: Uint8Array) => decoder.decode(bytes).split("\n").filter((l) => l);
      // The page shows both streams; the ERROR lines are the ones on stderr.
      assert.deepEqual(lines(out.stdout), shown.filter((l) => !l.startsWith("ERROR:")), command);
      assert.deepEqual(lines(out.stderr), shown.filter((l) => l.startsWith("ERROR:")), command);
    }
  });
});

/** Commands whose output must be radare2's, on the 00..ff file and on the string file. */
const ON_SEQ = [
  "px 48 @ 0xfffffffffffffff8",
  "p8 16 @ -8",
  "pxw 16 @ -8",
  "px 32 @ 0x1ffffffffffff0",
  "px 0x20 @ 0xffffffffffffffe8",
  "s -8;s;s+ 16;s;s- 32;s",
  "s 0;s- 1;s;s 0;s--;s;s -1;s++;s",
  "s 0x10;s+ -8;s;s- -4;s;s -8+16;s;s +4-8;s;s++ 2;s;s-- 4;s",
  "s 0x10;px 4 @ -4;px 2 @ +2",
  "s 0x20000000000001;s+ 1;s;s++;s;s--;s",
  "px 4 @@= 0 -4 0x20000000000001",
  "px 2 @@s:0 8 4",
  "?vi -1;?vi 0xffffffffffffffff;?vi 0x20000000000001",
  "?v 10/0;?v 0x10000000000000000;?v ((1+2)*3",
  "p8 4 @ 0x20000000000001;pr 4 @ -2",
  "i",
  "px 48~[0,2]",
  "px 48~[1-3]",
  "px 48~[1-]",
  "px 48~[-1]",
  "px 48~[-2-]",
  "px 48~[0]:1",
  "px 48~:1[0]",
  "px 48~0x[0]",
  "px 48~[0]~0x",
  "px 48~[0]~[2]",
  "px 48~[a]",
  "px 48~[ 0 , 2 ]",
  "px 48~[9]",
  "px 48~[0,9]",
  "px 48~[70]",
  "px 48~[3-1]",
  "px 48~?",
  "px 48~0x?",
  "px 48~0x~?",
  "px 48~?.",
  "px 48~:1..3?",
  "px 48~:1?.",
  "px 48~0x~10",
  "px 48~10,20",
  "px 48~&0x,10",
  "px 48~!0x",
  "px 48~+OFFSET",
  "px 48~^0x",
  "px 48~0x$",
  "px 48~ 1011",
  "px 48~ 0x00000010",
  "px 48~:0",
  "px 48~:1..",
  "px 48~:..2",
  "px 48~:-1",
  "px 48~:-2",
  "px 48~:-3..-1",
  "px 48~0x~:-1",
  "px 48~0x:-2",
  "px 48~0x~:0..2",
  "px 48~:1~:0",
  "px 48~:1..3~:1",
  "px 48~:1..3~[0]",
  "px 48~[0]~:1..2",
];
const ON_STR = [
  "ps",
  "ps 20",
  "ps 30",
  "ps 3",
  "ps 0",
  "ps @ 0x16",
  "ps @ 7",
  "ps -3 @ 4",
  "ps 10 @ 23",
  "ps 10 @ 24",
  "ps 2 @ 0x20",
  "p8 0;p8 -2 @ 4;px 0;pr 0;pxw 0",
  "px -4 @ 4",
  "i",
];

Deno.test({
  name: "print, seek, ? and ~ commands print what r2 -n prints, byte for byte",
  ignore: !HAS_R2,
  async fn() {
    await withSamples(async ({ seq, str }) => {
      for (const [file, commands] of [[seq, ON_SEQ], [str, ON_STR]] as const) {
        for (const command of commands) {
          await using shell = new Shell();
          await shell.run(`o ${file}`);
          assert.equal(await stdoutOf(shell, command), await r2(command, file), command);
        }
      }
    });
  },
});

/** A seeded sample of expressions over radare2's literals and operators. */
function randomExpressions(seed: number, count: number): string[] {
  const atoms = ("0 1 2 7 10 0x10 0xffffffffffffffff 0x8000000000000000 010 0b11 101b 0o7 4K " +
    "1.5K 2M 1G 10h 12t 0t21 1u32 18446744073709551615 9007199254740993 $$ $s $b 64 'A' " +
    "0x20000000000001 0xff..12 1000:0010 1.5 0.5 08 0x1_0000 12abc 0xf..1").split(" ")
    .concat([" 5 "]);
  const ops = ("+ - * / % & | ^ << >> <<< >>> < > && || ^^ == != *- -- ++").split(" ")
    .concat([" + ", " - "]);
  let state = seed;
  const next = (n: number) => (state = (state * 1103515245 + 12345) % 2147483648) % n;
  const gen = (depth: number): string => {
    const r = next(10);
    if (depth > 3 || r < 3) return (next(5) === 0 ? "-" : "") + atoms[next(atoms.length)];
    if (r < 5) return `(${gen(depth + 1)})`;
    if (r < 6) return "!" + gen(depth + 1);
    return gen(depth + 1) + ops[next(ops.length)] + gen(depth + 1);
  };
  return Array.from({ length: count }, () => gen(0));
}

Deno.test({
  name: "?v evaluates a seeded sample of 300 expressions as radare2's r_num_math",
  ignore: !HAS_R2,
  async fn() {
    await withSamples(async ({ seq }) => {
      const lines = randomExpressions(7, 300).map((e) => `"?v ${e}"`);
      const script = `${seq}.r2`;
      await Deno.writeTextFile(script, lines.join("\n") + "\n");
      const out = await stdoutOfProgram("r2", ["-e", "scr.color=0", "-n", "-q", "-i", script, seq]);
      const expected = out.split("\n");
      await using shell = new Shell();
      await shell.run(`o ${seq}`);
      for (const [i, line] of lines.entries()) {
        assert.equal(await stdoutOf(shell, line), expected[i] + "\n", line);
      }
    });
  },
});

/** `=+` a recording RAP server, run `line`, and return what was printed and sent. */
async function recorded(
  run: (line: string) => Promise<string>,
  peer: { port: number; waitFor(name: string): Promise<Record<string, unknown>> },
  connection: number,
): Promise<{ output: string; requests: unknown }> {
  const line = `=+ rap://127.0.0.1:${peer.port}//foo;=0 px 16 @ 0x10;` +
    "=0 p8 4 @@= 1 2;=0 ?e hi;=-";
  const output = await run(line);
  const { requests } = await peer.waitFor(`closed-${connection}`);
  return { output, requests };
}

Deno.test({
  name: "=N cmd @ addr applies the @ locally: the peer gets the command alone, as from radare2",
  ignore: !HAS_PYTHON,
  async fn() {
    await using peer = startPeer("rap_recorder.py", []);
    const { port } = await peer.waitFor("listening") as { port: number };
    const target = { port, waitFor: peer.waitFor };
    await using shell = new Shell();
    await shell.session.open("hex://00112233");
    const ours = await recorded((line) => stdoutOf(shell, line), target, 1);
    assert.deepEqual(ours, {
      output: "reply to px 16\n\nreply to p8 4\n\nreply to p8 4\n\nreply to ?e hi\n\n",
      requests: ["OPEN 0 /foo\0", "CMD px 16", "CMD p8 4", "CMD p8 4", "CMD ?e hi"],
    });
    if (HAS_R2) {
      await withSamples(async ({ seq }) => {
        assert.deepEqual(await recorded((line) => r2(line, seq), target, 2), ours);
      });
    }
  },
});
