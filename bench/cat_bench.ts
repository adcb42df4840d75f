/**
 * `deno task bench:cat`: whole processes, as a user starts them, from start to exit.
 *
 * ```sh
 * deno task bench:cat                  # 16 MiB and 256 MiB, 5 paired rounds, about 2 minutes
 * deno task bench:cat --big            # also 2 GiB (about 4 GiB of disk in --dir)
 * deno task bench:cat --only rap-null --sizes 256M --runs 9
 * deno task bench:cat --only start --runs 11   # start-up: one byte, and an empty deno run
 * deno run -A bench/cat_bench.ts --help
 * ```
 *
 * Each command runs in its own process: `rap cat rap://…` of a file served by `rap serve`,
 * nbdkit's `file` plugin read by `nbdcopy` (Debian: `apt-get install nbdkit libnbd-bin`),
 * and a plain Deno TCP copy of the same file (`bench/_raw_tcp_copy.ts`), to `/dev/null` and
 * to a file; `rap cat PATH` against coreutils `cat`; `rap cat gzip://…` against `zcat`;
 * and radare2's own client (`r2`, when installed) reading 256 KiB in 4 KiB blocks through
 * our server and through radare2's (`r2 -q rap://:PORT`). The start-up group copies a
 * one-byte file the same three ways, beside a `deno run` of an empty module (the least any
 * Deno program takes, from start to exit). The commands of a group run in
 * turn, round after round (A B C A B C …), so that a drift of the machine's speed hits
 * them alike; a warm-up round, not counted, checks every output against the file. Wall time
 * is measured around the child; peak RSS is GNU time's `%M` (`/usr/bin/time`) of the
 * command itself, and the servers' peak is `VmHWM` of `/proc/PID/status`. A missing
 * baseline is skipped with a note. Figures are printed; nothing is asserted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GZIP_MAX_OUTPUT } from "../plugins/gzip.ts";
import {
  type Child,
  describeMachine,
  formatBytes,
  hasCommand,
  markdownTable,
  median,
  parseSize,
  spawnChild,
} from "./_bench_support.ts";
import { acceptsOn, freePort } from "../tests/_serve_process.ts";

const USAGE = `Usage: deno task bench:cat [options]
       deno run -A bench/cat_bench.ts [options]

  --sizes LIST   file sizes (default 16M,256M)
  --big          add 2G to the sizes (needs about 2 × 2 GiB of disk in --dir)
  --runs N       counted rounds of each group (default 5)
  --only LIST    groups: start, rap-null, rap-file, local, gzip, r2 (default: all)
  --dir DIR      where the files go (default: a new directory under $TMPDIR, removed after)
  --cli PATH     the cli.ts of rap serve and rap cat (default: this checkout's; e.g. an
                 older checkout's, for before-and-after figures)
  -h, --help     this help

Baselines, when installed: nbdkit and nbdcopy (apt-get install nbdkit libnbd-bin), coreutils
cat, zcat and gzip, radare2 (r2), GNU time (/usr/bin/time, for the peak RSS column).
`;

const ROOT = new URL("../", import.meta.url).pathname;
const RAW = `${ROOT}bench/_raw_tcp_copy.ts`;
/** How a user runs the server (`deno task serve`) and the client; `--cli` changes the path. */
let SERVE = ["deno", "run", "--allow-net=127.0.0.1", "--allow-read", `${ROOT}cli.ts`, "serve"];
let RAP_CAT = ["deno", "run", "-A", `${ROOT}cli.ts`, "cat"];
const TIME = "/usr/bin/time";
const GROUPS = ["start", "rap-null", "rap-file", "local", "gzip", "r2"] as const;
type Group = typeof GROUPS[number];

/** One command of a group. */
interface Command {
  /** What the table shows. */
  label: string;
  argv: string[];
  /** Where its stdout goes (`/dev/null` or a file of the bench directory). */
  out: string;
  /** The yardstick the ratio column compares with. */
  yardstick?: boolean;
  /** For the warm-up's check: the same command writing its bytes to stdout instead. */
  checkArgv?: string[];
  /** It writes nothing (an empty program): the warm-up does not compare its output. */
  unchecked?: boolean;
}

/** The figures of one command over the rounds. */
interface Figures {
  walls: number[];
  rss: number[];
}

/** A finished run. */
interface Run {
  wall: number;
  rss: number | undefined;
}

let hasTime = false;

/** Run `argv` with stdout to `out`, timed from outside; throws if it fails. */
async function timed(argv: string[], out: string): Promise<Run> {
  const shell = ["sh", "-c", 'exec "$@" > "$0"', out, ...argv];
  const rssFile = await Deno.makeTempFile({ prefix: "cat_bench_rss" });
  const full = hasTime ? [TIME, "-f", "%M", "-o", rssFile, ...shell] : shell;
  try {
    const started = performance.now();
    const result = await new Deno.Command(full[0], {
      args: full.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const wall = (performance.now() - started) / 1000;
    if (!result.success) {
      const why = new TextDecoder().decode(result.stderr).trim().split("\n").slice(-3).join(" / ");
      throw new Error(`${argv.join(" ")} failed (exit ${result.code}): ${why}`);
    }
    const kib = hasTime ? Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop()) : NaN;
    return { wall, rss: Number.isFinite(kib) ? kib * 1024 : undefined };
  } finally {
    await Deno.remove(rssFile).catch(() => {});
  }
}

/** Whether two files hold the same bytes (`cmp -s`). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const result = await new Deno.Command("cmp", { args: ["-s", a, b] }).output();
  return result.success;
}

/**
 * Run the commands of a group: a warm-up round (outputs to a file are compared with
 * `expect`), then `runs` rounds in turn, each round starting one command later.
 */
async function runGroup(
  commands: Command[],
  runs: number,
  expect: string | undefined,
  scratch: string,
): Promise<Figures[]> {
  for (const c of commands) {
    const check = expect !== undefined && !c.unchecked;
    const out = c.out === "/dev/null" && check ? scratch : c.out;
    await timed(check ? c.checkArgv ?? c.argv : c.argv, out);
    if (check && !(await sameBytes(out, expect))) {
      throw new Error(`${c.label}: its output differs from ${expect}`);
    }
    if (out !== "/dev/null") await Deno.remove(out).catch(() => {});
  }
  const figures = commands.map((): Figures => ({ walls: [], rss: [] }));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < commands.length; k++) {
      const i = (k + round) % commands.length;
      const c = commands[i];
      const run = await timed(c.argv, c.out);
      if (c.out !== "/dev/null") await Deno.remove(c.out).catch(() => {});
      figures[i].walls.push(run.wall);
      if (run.rss !== undefined) figures[i].rss.push(run.rss);
    }
  }
  return figures;
}

/** The table of a group: median wall, spread, peak RSS, and the paired ratio. */
function groupTable(commands: Command[], figures: Figures[]): string {
  const base = commands.findIndex((c) => c.yardstick);
  const rows = commands.map((c, i) => {
    const f = figures[i];
    const ratio = base < 0 || base === i
      ? ""
      : `${median(f.walls.map((w, r) => w / figures[base].walls[r])).toFixed(2)}×`;
    return [
      `\`${c.label}\``,
      `${median(f.walls).toFixed(3)} s`,
      `${Math.min(...f.walls).toFixed(3)}–${Math.max(...f.walls).toFixed(3)} s`,
      f.rss.length > 0 ? `${(median(f.rss) / 2 ** 20).toFixed(1)} MiB` : "—",
      ratio,
    ];
  });
  const yardstick = base < 0 ? "ratio" : `× ${commands[base].label.split(" ")[0]} (paired)`;
  return markdownTable(
    ["command", "median wall", "spread (min–max)", "peak RSS", yardstick],
    rows,
  );
}

/** The peak RSS of a running process (`VmHWM`). */
async function peakOf(pid: number): Promise<string> {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(await Deno.readTextFile(`/proc/${pid}/status`));
    return m ? `${(Number(m[1]) / 1024).toFixed(1)} MiB` : "?";
  } catch {
    return "?";
  }
}

/** Write `size` bytes of random data to `path`, 1 MiB at a time. */
async function writeRandom(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1 << 20);
  for (let at = 0; at < size; at += block.length) {
    for (let i = 0; i < block.length; i += 65536) {
      crypto.getRandomValues(block.subarray(i, i + 65536));
    }
    const part = block.subarray(0, Math.min(block.length, size - at));
    for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
  }
}

/** Write `size` bytes of log-like text (compressible, as files that get gzipped are). */
async function writeText(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let chunk = "";
  let written = 0;
  for (let i = 0; written < size; i++) {
    chunk += `${i.toString(16).padStart(8, "0")} GET /file/${(i * 7919) % 100003} 200 ${
      (i * 31) % 9973
    }\n`;
    if (chunk.length >= 1 << 20 || written + chunk.length >= size) {
      const bytes = encoder.encode(chunk).subarray(0, size - written);
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      written += bytes.length;
      chunk = "";
    }
  }
}

/** What the bench found missing, printed at the end. */
const skipped: string[] = [];

/**
 * The rap://, nbd and raw groups of one size; `extra` commands join the /dev/null group
 * (the start-up group's empty `deno run`).
 */
async function networkGroups(
  file: string,
  size: number,
  groups: Set<Group>,
  runs: number,
  dir: string,
  extra: Command[] = [],
): Promise<void> {
  if (!groups.has("rap-null") && !groups.has("rap-file")) return;
  const children: Child[] = [];
  const peaks: string[] = [];
  try {
    const serve = await spawnChild(SERVE[0], [...SERVE.slice(1), "--port", "0"], {
      ready: /Listening on rap:\/\/[^:]+:(\d+)\//,
    });
    children.push(serve);
    const raw = await spawnChild("deno", [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      RAW,
      "serve",
      file,
    ], { ready: /port (\d+)/ });
    children.push(raw);
    let nbdPort: number | undefined;
    if (await hasCommand("nbdkit") && await hasCommand("nbdcopy")) {
      nbdPort = freePort();
      const args = ["-f", "-r", "-i", "127.0.0.1", "-p", String(nbdPort), "file", file];
      const nbdkit = await spawnChild("nbdkit", args);
      children.push(nbdkit);
      await acceptsOn(nbdPort);
      peaks.push(`nbdkit ${nbdkit.pid}`);
    } else {
      skipped.push("nbdkit/nbdcopy, not installed (apt-get install nbdkit libnbd-bin)");
    }
    const uri = `rap://127.0.0.1:${serve.ready![1]}/${file}`;
    for (const target of ["null", "file"] as const) {
      if (!groups.has(`rap-${target}`)) continue;
      const out = target === "null" ? "/dev/null" : `${dir}/out.bin`;
      const shown = target === "null" ? "> /dev/null" : "> out.bin";
      const commands: Command[] = [
        { label: `rap cat ${uri.replace(dir, "DIR")} ${shown}`, argv: [...RAP_CAT, uri], out },
      ];
      if (nbdPort !== undefined) {
        const dest = target === "null" ? "null:" : out;
        commands.push({
          label: `nbdcopy nbd://127.0.0.1:${nbdPort} ${target === "null" ? "null:" : "out.bin"}`,
          argv: ["nbdcopy", `nbd://127.0.0.1:${nbdPort}`, dest],
          out: target === "null" ? "/dev/null" : `${dir}/nbd_stdout.txt`,
          yardstick: true,
          checkArgv: ["nbdcopy", `nbd://127.0.0.1:${nbdPort}`, "-"],
        });
      }
      commands.push({
        label: `raw Deno TCP copy ${shown}`,
        argv: ["deno", "run", "--allow-net=127.0.0.1", RAW, "get", raw.ready![1]],
        out,
      });
      if (target === "null") commands.push(...extra);
      const figures = target === "file"
        ? await runFileGroup(commands, runs, file, dir)
        : await runGroup(commands, runs, file, `${dir}/check.bin`);
      console.log(`\n### ${formatBytes(size)} to ${target === "null" ? "/dev/null" : "a file"}\n`);
      console.log(groupTable(commands, figures));
    }
    const servers = [`rap serve ${serve.pid}`, `raw sender ${raw.pid}`, ...peaks];
    const shown = await Promise.all(servers.map(async (s) => {
      const [name, pid] = [s.slice(0, s.lastIndexOf(" ")), Number(s.slice(s.lastIndexOf(" ")))];
      return `${name} ${await peakOf(pid)}`;
    }));
    console.log(`\nServers' peak RSS over these runs: ${shown.join(", ")}.`);
  } finally {
    for (const child of children.reverse()) await child.stop();
  }
}

/**
 * The file group: nbdcopy writes its destination itself, so the outputs are checked
 * where each command put them.
 */
async function runFileGroup(
  commands: Command[],
  runs: number,
  expect: string,
  dir: string,
): Promise<Figures[]> {
  const dest = `${dir}/out.bin`;
  for (const c of commands) {
    await Deno.writeFile(dest, new Uint8Array(0));
    await timed(c.argv, c.out);
    if (!(await sameBytes(dest, expect))) throw new Error(`${c.label}: out.bin differs`);
  }
  const figures = commands.map((): Figures => ({ walls: [], rss: [] }));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < commands.length; k++) {
      const i = (k + round) % commands.length;
      await Deno.writeFile(dest, new Uint8Array(0)); // outside the timing: each starts empty
      const run = await timed(commands[i].argv, commands[i].out);
      figures[i].walls.push(run.wall);
      if (run.rss !== undefined) figures[i].rss.push(run.rss);
    }
  }
  await Deno.remove(dest).catch(() => {});
  return figures;
}

/**
 * Start-up: a one-byte file copied by `rap cat`, nbdcopy and the raw Deno copy, beside a
 * `deno run` of an empty module, the floor of any Deno program on this machine.
 */
async function startGroup(runs: number, dir: string): Promise<void> {
  const file = `${dir}/1.bin`;
  await writeRandom(file, 1);
  const empty = `${dir}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const floor: Command = {
    label: "deno run DIR/empty.ts",
    argv: ["deno", "run", empty],
    out: "/dev/null",
    unchecked: true,
  };
  try {
    await networkGroups(file, 1, new Set(["rap-null"]), runs, dir, [floor]);
  } finally {
    await Deno.remove(file);
    await Deno.remove(empty);
  }
}

/** Local `cat PATH` and `cat gzip://` against coreutils. */
async function localGroups(
  file: string,
  size: number,
  groups: Set<Group>,
  runs: number,
  dir: string,
): Promise<void> {
  if (groups.has("local")) {
    const commands: Command[] = [
      { label: `rap cat DIR/${size}.bin > /dev/null`, argv: [...RAP_CAT, file], out: "/dev/null" },
      { label: `cat DIR/${size}.bin > /dev/null`, argv: ["cat", file], out: "/dev/null" },
    ];
    commands[1].yardstick = true;
    const figures = await runGroup(commands, runs, file, `${dir}/check.bin`);
    console.log(`\n### ${formatBytes(size)} local file to /dev/null\n`);
    console.log(groupTable(commands, figures));
  }
  if (!groups.has("gzip")) return;
  if (!(await hasCommand("gzip")) || !(await hasCommand("zcat", ["--help"]))) {
    skipped.push("gzip/zcat, not installed");
    return;
  }
  // gzip:// inflates into memory, at most 50,000,000 bytes (radare2's MAXOUT).
  if (size > GZIP_MAX_OUTPUT) {
    skipped.push(
      `gzip at ${formatBytes(size)} (gzip:// inflates at most ${GZIP_MAX_OUTPUT} bytes)`,
    );
    return;
  }
  const text = `${dir}/${size}.txt`;
  await writeText(text, size);
  const gz = `${text}.gz`;
  const zipped = await new Deno.Command("gzip", { args: ["-k", "-f", "-6", text] }).output();
  if (!zipped.success) throw new Error("gzip failed");
  const commands: Command[] = [
    {
      label: `rap cat gzip://DIR/${size}.txt.gz > /dev/null`,
      argv: [...RAP_CAT, `gzip://${gz}`],
      out: "/dev/null",
    },
    { label: `zcat DIR/${size}.txt.gz > /dev/null`, argv: ["zcat", gz], out: "/dev/null" },
  ];
  commands[1].yardstick = true;
  const figures = await runGroup(commands, runs, text, `${dir}/check.bin`);
  console.log(
    `\n### gzip: ${formatBytes(size)} of text (${
      formatBytes((await Deno.stat(gz)).size)
    } gzipped)\n`,
  );
  console.log(groupTable(commands, figures));
  await Deno.remove(text);
  await Deno.remove(gz);
}

/**
 * radare2's own client reading 256 KiB in 4 KiB blocks (`pr 4096 @@s:0 262144 4096`)
 * through our server and through radare2's; the start-up (an `r2` that connects, opens and
 * quits) is measured alike and taken off, so the ratio is that of the reads.
 */
async function r2Group(runs: number, dir: string): Promise<void> {
  if (!(await hasCommand("r2", ["-v"]))) {
    skipped.push("radare2 (r2), not installed");
    return;
  }
  const file = `${dir}/r2_256k.bin`;
  await writeRandom(file, 256 * 1024);
  const ours = await spawnChild(SERVE[0], [...SERVE.slice(1), "--port", "0"], {
    ready: /Listening on rap:\/\/[^:]+:(\d+)\//,
  });
  const r2Port = freePort();
  const theirs = await spawnChild("r2", ["-q", `rap://:${r2Port}`]);
  try {
    await acceptsOn(r2Port);
    const read = ["-q", "-c", "pr 4096 @@s:0 262144 4096 > /dev/null"];
    const open = ["-q", "-c", "q"];
    const at = (port: number | string) => `rap://127.0.0.1:${port}/${file}`;
    const commands: Command[] = [
      {
        label: "r2 reads via rap serve",
        argv: ["r2", ...read, at(ours.ready![1])],
        out: "/dev/null",
      },
      {
        label: "r2 opens via rap serve",
        argv: ["r2", ...open, at(ours.ready![1])],
        out: "/dev/null",
      },
      { label: "r2 reads via r2 rap://:P", argv: ["r2", ...read, at(r2Port)], out: "/dev/null" },
      { label: "r2 opens via r2 rap://:P", argv: ["r2", ...open, at(r2Port)], out: "/dev/null" },
    ];
    const figures = await runGroup(commands, runs, undefined, "");
    const m = figures.map((f) => median(f.walls));
    const oursReads = m[0] - m[1];
    const theirsReads = m[2] - m[3];
    console.log("\n### radare2's client, 256 KiB in 4 KiB blocks (64 SEEK+READ pairs)\n");
    console.log(groupTable(commands, figures));
    console.log(
      `\nWhole processes: ${m[0].toFixed(3)} s through rap serve, ${m[2].toFixed(3)} s through ` +
        `radare2's server: ${(m[2] / m[0]).toFixed(0)}× faster through ours.`,
    );
    console.log(
      `Reads alone (median of the reading runs minus that of the opening ones): ` +
        `${(oursReads * 1000).toFixed(0)} ms through rap serve, ` +
        `${(theirsReads * 1000).toFixed(0)} ms through radare2's server: ` +
        `${(theirsReads / oursReads).toFixed(0)}× faster through ours.`,
    );
  } finally {
    await theirs.stop();
    await ours.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sizes: { type: "string", default: "16M,256M" },
      big: { type: "boolean" },
      runs: { type: "string", default: "5" },
      only: { type: "string" },
      dir: { type: "string" },
      cli: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.cli !== undefined) {
    SERVE = [...SERVE.slice(0, 4), values.cli, "serve"];
    RAP_CAT = [...RAP_CAT.slice(0, 3), values.cli, "cat"];
  }
  const sizes = values.sizes.split(",").map(parseSize);
  if (values.big) sizes.push(2 * 2 ** 30);
  const runs = Math.max(1, Number(values.runs));
  const groups = new Set<Group>(
    values.only === undefined ? GROUPS : values.only.split(",") as Group[],
  );
  for (const g of groups) {
    if (!GROUPS.includes(g)) throw new RangeError(`Unknown group "${g}" (--only ${GROUPS})`);
  }
  hasTime = await hasCommand(TIME, ["-f", "%M", "true"]);
  if (!hasTime) skipped.push("GNU time (/usr/bin/time), not installed: no peak RSS column");
  const dir = values.dir ?? await Deno.makeTempDir({ prefix: "rap_cat_bench" });
  await Deno.mkdir(dir, { recursive: true });
  console.log(
    `${describeMachine()}; ${runs} rounds per group after a warm-up; files in DIR=${dir}`,
  );
  try {
    if (groups.has("start")) await startGroup(runs, dir);
    for (const size of sizes) {
      const file = `${dir}/${size}.bin`;
      await writeRandom(file, size);
      await networkGroups(file, size, groups, runs, dir);
      await localGroups(file, size, groups, runs, dir);
      await Deno.remove(file);
    }
    if (groups.has("r2")) await r2Group(runs, dir);
  } finally {
    if (values.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (skipped.length > 0) console.log(`\nSkipped: ${skipped.join("; ")}.`);
}

if (import.meta.main) await main();
