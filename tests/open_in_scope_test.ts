/**
 * `openInScope`: open, then verify. The scope checks run in a `deno run` subprocess under
 * narrow flags (`tests/_open_probe.ts`), since this test runner has every permission and so
 * no scope to leave; real files in temp dirs only.
 */

import { openInScope, PathChangedError, readFileInScope } from "../mod.ts";
import assert from "node:assert/strict";
import { stillAt } from "../lib/io/_scope_check.ts";
import type { ProbeResult, ProbeStep } from "./_open_probe.ts";

const PROBE = new URL("./_open_probe.ts", import.meta.url).pathname;

/** Run the probe's steps under `flags` (with `stdin` piped in, if given). */
async function probe(
  flags: string[],
  steps: ProbeStep[],
  stdin?: string,
): Promise<ProbeResult[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, PROBE, JSON.stringify(steps)],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

interface Tree {
  /** The served directory (real path). */
  dir: string;
  /** A directory outside it, with `secret.txt` (its own temp dir). */
  outside: string;
}

/** DIR with `in.txt`, `sub/in.txt`, links in and out; OUTSIDE with `secret.txt`. */
async function withTree(fn: (tree: Tree) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_scope_in_" }));
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_scope_out_" }));
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "INSIDE");
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/in.txt`, "INSIDE-SUB");
    await Deno.writeTextFile(`${outside}/secret.txt`, "SECRET");
    await Deno.symlink(`${dir}/in.txt`, `${dir}/link_in`);
    await Deno.symlink(`${outside}/secret.txt`, `${dir}/link_out`);
    await Deno.symlink(outside, `${dir}/dir_out`);
    await fn({ dir, outside });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

Deno.test("openInScope() under --allow-read=DIR opens what is inside and refuses links out, naming the flag", async () => {
  await withTree(async ({ dir, outside }) => {
    const results = await probe([`--allow-read=${dir}`], [
      { path: `${dir}/in.txt` },
      { path: `${dir}/link_in` },
      { path: `${dir}/sub/../sub/in.txt` },
      { path: `${dir}/link_out` },
      { path: `${dir}/dir_out/secret.txt` },
      { path: `${dir}/missing.txt` },
    ]);
    assert.deepEqual(results.slice(0, 3).map((r) => r.ok && r.text), [
      "INSIDE",
      "INSIDE",
      "INSIDE-SUB",
    ]);
    for (const r of results.slice(3, 5)) {
      assert.ok(!r.ok && r.name === "PermissionDeniedError", JSON.stringify(r));
      assert.match(r.message, new RegExp(`--allow-read=${outside}/secret.txt`));
      assert.doesNotMatch(r.message, /SECRET/);
    }
    // A path that cannot be resolved is refused, not opened unchecked.
    assert.ok(!results[5].ok && results[5].name === "NotFound", JSON.stringify(results[5]));
  });
});

Deno.test("openInScope() for writing refuses a link out of --allow-write=DIR before writing or truncating anything", async () => {
  await withTree(async ({ dir, outside }) => {
    const victim = `${outside}/secret.txt`;
    const before = await Deno.stat(victim);
    const flags = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const results = await probe(flags, [
      { path: `${dir}/link_out`, write: true, truncate: true, data: "PWNED" },
      { path: `${dir}/dir_out/secret.txt`, write: true, data: "PWNED" },
      { path: `${dir}/in.txt`, write: true, data: "new" },
    ]);
    for (const r of results.slice(0, 2)) {
      assert.ok(!r.ok && r.name === "PermissionDeniedError", JSON.stringify(r));
    }
    assert.deepEqual(results[2], { ok: true, text: "newIDE" });
    assert.equal(await Deno.readTextFile(victim), "SECRET");
    assert.equal((await Deno.stat(victim)).mtime?.getTime(), before.mtime?.getTime());
  });
});

Deno.test("openInScope() creates a missing file only inside DIR, never through a link, and truncates after the check", async () => {
  await withTree(async ({ dir, outside }) => {
    const flags = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    await Deno.symlink(`${outside}/planted.txt`, `${dir}/dangling`);
    const results = await probe(flags, [
      { path: `${dir}/sub/new.txt`, write: true, create: true, data: "made" },
      { path: `${dir}/dir_out/new.txt`, write: true, create: true, data: "made" },
      { path: `${dir}/dangling`, write: true, create: true, data: "made" },
      { path: `${dir}/in.txt`, write: true, truncate: true, data: "t" },
    ]);
    assert.deepEqual(results[0], { ok: true, text: "made" });
    assert.ok(!results[1].ok && results[1].name === "PermissionDeniedError");
    // A dangling link is not followed to create its target outside.
    assert.ok(!results[2].ok, JSON.stringify(results[2]));
    assert.deepEqual(results[3], { ok: true, text: "t" });
    assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["secret.txt"]);
  });
});

Deno.test("the check after the open catches a directory swapped for a link: stillAt() finds another file", async () => {
  await withTree(async ({ dir, outside }) => {
    await Deno.writeTextFile(`${outside}/in.txt`, "SECRET-SAME-NAME");
    using file = await Deno.open(`${dir}/sub/in.txt`);
    const opened = await file.stat();
    assert.ok(stillAt(`${dir}/sub/in.txt`, opened));
    // The racer's move: the directory goes away and a link to OUTSIDE takes its name.
    await Deno.rename(`${dir}/sub`, `${dir}/sub.real`);
    await Deno.symlink(outside, `${dir}/sub`);
    assert.ok(!stillAt(`${dir}/sub/in.txt`, opened));
    // And a file opened through the link is not the one at the real path.
    using through = await Deno.open(`${dir}/sub/in.txt`);
    await Deno.remove(`${dir}/sub`);
    await Deno.rename(`${dir}/sub.real`, `${dir}/sub`);
    assert.ok(!stillAt(`${dir}/sub/in.txt`, await through.stat()));
  });
});

Deno.test("openInScope({ remote: true }) refuses the process's standard input by any path; a local open reads it", async () => {
  await withTree(async ({ dir }) => {
    await Deno.symlink("/dev/stdin", `${dir}/to_stdin`);
    const remote = ["/dev/stdin", "/proc/self/fd/0", "/dev/fd/../fd/0", `${dir}/to_stdin`];
    const results = await probe(
      ["--allow-all"],
      [...remote.map((path) => ({ path, remote: true })), { path: "/dev/stdin" }],
      "STDIN-MARKER",
    );
    for (const [i, r] of results.slice(0, remote.length).entries()) {
      assert.ok(!r.ok, `${remote[i]}: ${JSON.stringify(r)}`);
      assert.match(r.message, /a remote client cannot read the server's standard input/);
    }
    assert.deepEqual(results[remote.length], { ok: true, text: "STDIN-MARKER" });
  });
});

Deno.test("openInScope() with every permission: truncates, creates, and refuses directories and missing files", async () => {
  await withTree(async ({ dir }) => {
    {
      using file = await openInScope(`${dir}/in.txt`, { write: true, truncate: true });
      assert.equal((await file.stat()).size, 0);
    }
    {
      using _ = await openInScope(`${dir}/made.txt`, { write: true, create: true });
    }
    assert.equal(await Deno.readTextFile(`${dir}/made.txt`), "");
    await assert.rejects(openInScope(`${dir}/sub`), Deno.errors.IsADirectory);
    await assert.rejects(openInScope(`${dir}/nope`), Deno.errors.NotFound);
    await assert.rejects(readFileInScope(`${dir}/sub/in.txt`, { maxSize: 3 }), RangeError);
    assert.equal(new PathChangedError("x").name, "PathChangedError");
  });
});
