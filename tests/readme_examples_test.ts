/**
 * The examples of README.md and docs/*.md work as printed: every shell block marked with
 * an HTML comment `<!-- test -->` just above it runs, in order, with bash, in a fresh copy
 * of this checkout (what a fresh clone has), with the `deno` that runs the tests first on
 * PATH. Marks:
 *
 * - `<!-- test -->`: a `sh` block runs as one script (`set -euo pipefail`) and must exit
 *   0; in a `console` block each `$ command` (continued on the next line after a `\\`)
 *   runs and the lines shown under it must appear in its output (stdout and stderr), in
 *   order.
 * - `<!-- test background -->`: the block is a server: it runs in the background until
 *   the end of the page, and the next block starts once it has printed `Listening on`.
 * - `<!-- test r2 -->`, `<!-- test openssl -->`, `<!-- test zip -->`: as `test`, skipped
 *   (with a note) when that program is not installed.
 * - `<!-- test file=NAME -->`: the block (e.g. `ts`) is written to the file NAME, for the
 *   next blocks to run.
 *
 * The only changes made to the text: the ports 9990 to 9999 become free ports, and a
 * `cli.ts serve` without `--port` (the default, 9999) gets `--port` with 9999's free port,
 * so that the test never meets another server on the machine.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "./_serve_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PAGES = ["README.md", ...[...Deno.readDirSync(`${ROOT}docs`)].map((e) => `docs/${e.name}`)]
  .filter((p) => p.endsWith(".md")).sort();

/** One marked block of a page. */
interface Example {
  /** The words after `test` in the mark (`background`, `r2` ...). */
  marks: string[];
  /** `sh` or `console`. */
  lang: string;
  /** Its text. */
  text: string;
  /** The line of the page it starts on. */
  line: number;
}

/** The marked blocks of a page. */
function examples(page: string): Example[] {
  const lines = Deno.readTextFileSync(`${ROOT}${page}`).split("\n");
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const mark = /^<!-- test((?: [\w.=-]+)*) -->$/.exec(lines[i]);
    if (!mark) continue;
    let start = i + 1;
    while (lines[start] === "") start++; // deno fmt puts an empty line after the mark
    const fence = /^```(\w+)$/.exec(lines[start] ?? "");
    if (!fence) throw new Error(`${page}:${i + 1}: a test mark must be followed by a code block`);
    const end = lines.indexOf("```", start + 1);
    out.push({
      marks: mark[1].trim().split(" ").filter(Boolean),
      lang: fence[1],
      text: lines.slice(start + 1, end).join("\n"),
      line: start + 1,
    });
    i = end;
  }
  return out;
}

const has = (tool: string) =>
  new Deno.Command("bash", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync()
    .success;
const TOOLS = { r2: has("r2"), openssl: has("openssl"), xxd: has("xxd"), zip: has("zip") };

/** A copy of the checkout's files, as a fresh clone has them. */
async function freshCopy(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rap_readme_" });
  const files = new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
  }).outputSync();
  for (const file of new TextDecoder().decode(files.stdout).split("\0").filter(Boolean)) {
    const from = `${ROOT}${file}`;
    try {
      Deno.statSync(from);
    } catch {
      continue; // deleted in the work tree
    }
    const to = `${dir}/${file}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(from, to);
  }
  return dir;
}

const decoder = new TextDecoder();

/** The environment of the examples: the test's deno first on PATH, no colours. */
function env(): Record<string, string> {
  const bin = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
  return { PATH: `${bin}:${Deno.env.get("PATH")}`, NO_COLOR: "1", HOME: Deno.env.get("HOME")! };
}

/** A bash script as the examples run: strict, in `cwd`, with {@linkcode env} alone. */
function bashCommand(script: string, cwd: string): Deno.Command {
  return new Deno.Command("bash", {
    args: ["-c", `set -euo pipefail\n${script}`],
    cwd,
    env: env(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function bash(script: string, cwd: string): Promise<{ code: number; output: string }> {
  const out = await bashCommand(script, cwd).output();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** Run a `console` block: each `$ command`, its shown lines in its output, in order. */
async function runConsole(example: Example, cwd: string, where: string): Promise<void> {
  const steps: { command: string; expected: string[] }[] = [];
  let continued = false;
  for (const line of example.text.split("\n")) {
    if (continued) steps.at(-1)!.command += `\n${line}`;
    else if (line.startsWith("$ ")) steps.push({ command: line.slice(2), expected: [] });
    else if (line.trim() !== "" && steps.length > 0) steps.at(-1)!.expected.push(line);
    // A command line that ends with a backslash goes on on the next line, as in bash.
    continued = (continued || line.startsWith("$ ")) && line.endsWith("\\");
  }
  for (const { command, expected } of steps) {
    const { output } = await bash(command, cwd);
    const got = output.split("\n").map((l) => l.trimEnd());
    let at = 0;
    for (const want of expected) {
      const found = got.indexOf(want.trimEnd(), at);
      assert.ok(found >= 0, `${where}: "${command}" did not print\n${want}\nin:\n${output}`);
      at = found + 1;
    }
  }
}

/** A server block: started in the background, ready once it printed `Listening on`. */
async function startBackground(text: string, cwd: string, where: string) {
  const child = bashCommand(text, cwd).spawn();
  const logs: string[] = [];
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void logs.push(t) }),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("Listening on")) {
    const { value, done } = await reader.read();
    if (done) {
      await stderr;
      throw new Error(`${where}: the server ended before listening:\n${seen}${logs.join("")}`);
    }
    seen += value;
  }
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    async stop() {
      try {
        // bash runs deno as its child: end the whole group of the block.
        Deno.kill(-child.pid, "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
      await child.status;
      await rest;
      await stderr;
    },
  };
}

/** The lines of a page outside its code blocks, with their numbers. */
function proseLines(page: string): { line: number; text: string }[] {
  let code = false;
  const out: { line: number; text: string }[] = [];
  Deno.readTextFileSync(`${ROOT}${page}`).split("\n").forEach((text, i) => {
    if (text.startsWith("```")) code = !code;
    else if (!code) out.push({ line: i + 1, text });
  });
  return out;
}

Deno.test("README.md is a front page: under 15 KB, no line over 100 outside code", () => {
  const size = Deno.statSync(`${ROOT}README.md`).size;
  assert.ok(size < 15 * 1024, `README.md is ${size} bytes`);
  const long = proseLines("README.md").filter((l) => [...l.text].length > 100);
  assert.deepEqual(long.map((l) => `README.md:${l.line}`), []);
  // Every page it links to is there, and so is every heading a link points at.
  const text = Deno.readTextFileSync(`${ROOT}README.md`);
  for (const [, page, anchor] of text.matchAll(/\]\((docs\/[\w.-]+\.md)(?:#([\w-]+))?\)/g)) {
    const target = Deno.readTextFileSync(`${ROOT}${page}`);
    if (anchor === undefined) continue;
    const anchors = [...target.matchAll(/^#+ (.*)$/gm)].map((m) =>
      m[1].toLowerCase().replace(/[^\w\s-]/g, "").trim().replace(/\s/g, "-")
    );
    assert.ok(anchors.includes(anchor), `${page}#${anchor}: no such heading`);
  }
});

Deno.test("docs/commands.md, shell.md and benchmarks.md: no line over 100 outside code", () => {
  for (const page of ["docs/commands.md", "docs/shell.md", "docs/benchmarks.md"]) {
    const long = proseLines(page).filter((l) => [...l.text].length > 100);
    assert.deepEqual(long.map((l) => `${page}:${l.line}`), []);
  }
});

for (const page of PAGES) {
  const blocks = examples(page);
  if (blocks.length === 0) continue;
  Deno.test(`the examples of ${page} work as printed`, async (t) => {
    const dir = await freshCopy();
    const servers: { stop(): Promise<void> }[] = [];
    const ports = new Map<string, string>();
    const withPorts = (text: string) =>
      text.replace(/\b99\d\d\b/g, (p) => {
        if (!ports.has(p)) ports.set(p, String(freePort()));
        return ports.get(p)!;
      });
    try {
      for (const example of blocks) {
        const where = `${page}:${example.line}`;
        const missing = example.marks.filter((m) => m in TOOLS && !TOOLS[m as keyof typeof TOOLS]);
        if (missing.length > 0) {
          console.warn(`${where}: skipped, ${missing.join(", ")} not installed`);
          continue;
        }
        const text = withPorts(
          /cli\.ts serve/.test(example.text) && !/--port/.test(example.text)
            ? example.text.replace(/cli\.ts serve/, "cli.ts serve --port 9999")
            : example.text,
        );
        const file = example.marks.find((m) => m.startsWith("file="))?.slice(5);
        await t.step(where, async () => {
          if (file !== undefined) {
            await Deno.writeTextFile(`${dir}/${file}`, example.text + "\n");
          } else if (example.marks.includes("background")) {
            // setsid: the block's processes get a group of their own, ended together.
            servers.push(await startBackground(`exec setsid bash -c ${quote(text)}`, dir, where));
          } else if (example.lang === "console") {
            await runConsole({ ...example, text }, dir, where);
          } else {
            const { code, output } = await bash(text, dir);
            assert.equal(code, 0, `${where} failed:\n${output}`);
          }
        });
      }
    } finally {
      for (const server of servers.reverse()) await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/** Quote text for bash. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
