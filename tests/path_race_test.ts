/**
 * The symbolic-link race, from outside: a python3 racer (tests/peers/path_racer.py) swaps a
 * directory inside the served scope for a link to a directory outside it, as fast as it
 * can, while a python3 client OPENs a file inside that directory again and again over plain
 * RAP against a `cli.ts serve` subprocess under `--allow-read=SCOPE` (and
 * `--allow-write=SCOPE`). Not one OPEN may return outside bytes, no file outside may
 * change, and a byte-checking client on another file sees no error all along. Temp dirs
 * only; the outside victim of the write case lives in a temp dir of its own, and /etc is
 * only ever a link target for reading.
 */

import { Perm, RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";
import { HAS_PYTHON, runPeer, startPeer } from "./_peer.ts";

/** How long each race runs (RAP_RACE_SECONDS overrides it, for longer measurements). */
const SECONDS = Number(Deno.env.get("RAP_RACE_SECONDS") ?? 3);

interface RaceSetup {
  /** The served directory. */
  scope: string;
  /** The directory the racer swaps (inside the scope). */
  swapped: string;
  /** The file the client opens, inside the swapped directory. */
  target: string;
  /** Where the racer's link points. */
  outsideDir: string;
  /** The file with that name there. */
  outsideFile: string;
  /** A copy of the target's bytes outside the swapped directory (what inside looks like). */
  expected: string;
  /** A file of random bytes in the scope, for the checker client. */
  checked: string;
}

/** Make SCOPE/dir/NAME and SCOPE/checked.bin; OUTSIDE/NAME in its own temp dir (or /etc). */
async function withRace(
  name: string,
  outsideDir: string | undefined,
  fn: (setup: RaceSetup) => Promise<void>,
): Promise<void> {
  const scope = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_race_scope_" }));
  const ownOutside = outsideDir === undefined
    ? await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_race_outside_" }))
    : undefined;
  const outside = outsideDir ?? ownOutside!;
  try {
    await Deno.mkdir(`${scope}/dir`);
    const inside = `INSIDE-FILE ${"i".repeat(40)}\n`;
    await Deno.writeTextFile(`${scope}/dir/${name}`, inside);
    await Deno.writeTextFile(`${scope}/expected.txt`, inside);
    if (ownOutside) {
      await Deno.writeTextFile(`${ownOutside}/${name}`, `OUTSIDE-SECRET ${"o".repeat(40)}\n`);
    }
    await Deno.writeFile(
      `${scope}/checked.bin`,
      crypto.getRandomValues(new Uint8Array(64 * 1024)),
    );
    await fn({
      scope,
      swapped: `${scope}/dir`,
      target: `${scope}/dir/${name}`,
      outsideDir: outside,
      outsideFile: `${outside}/${name}`,
      expected: `${scope}/expected.txt`,
      checked: `${scope}/checked.bin`,
    });
  } finally {
    await Deno.remove(scope, { recursive: true });
    if (ownOutside) await Deno.remove(ownOutside, { recursive: true });
  }
}

interface RaceCounts {
  opens: number;
  refused: number;
  inside: number;
  outside: number;
  other: number;
  errors: string[];
}

/**
 * Serve SCOPE, start the racer and the checker, run the opening client for SECONDS; return
 * its counts after asserting that the race really ran and the checker saw nothing wrong.
 */
async function race(
  setup: RaceSetup,
  options: { write?: boolean; mode?: "exchange" | "rename" } = {},
): Promise<RaceCounts> {
  const flags = ["--allow-net=127.0.0.1", `--allow-read=${setup.scope}`];
  if (options.write) flags.push(`--allow-write=${setup.scope}`);
  // -w: the server honours the clients' W, so only the permission scope stops the writes.
  await using server = await startServe({ flags, args: options.write ? ["-w"] : [] });
  const port = server.port;
  await using racer = startPeer("path_racer.py", [
    "swap",
    setup.swapped,
    setup.outsideDir,
    "--seconds",
    SECONDS + 30,
    "--mode",
    options.mode ?? "exchange",
  ]);
  await racer.waitFor("racing");
  await using checker = startPeer("rap_peer.py", [
    "check",
    "127.0.0.1",
    port,
    setup.checked,
    "--seconds",
    SECONDS,
  ]);
  const counts = await runPeer("path_racer.py", [
    "opens",
    "127.0.0.1",
    port,
    setup.target,
    "--seconds",
    SECONDS,
    "--inside",
    setup.expected,
    "--outside",
    setup.outsideFile,
    ...(options.write ? ["--write"] : []),
  ]) as unknown as RaceCounts;
  const checked = await checker.result;
  await racer.release();
  const swapped = await racer.result;
  assert.ok((swapped.swaps as number) > 1000, JSON.stringify(swapped));
  assert.deepEqual(checked.errors, [], JSON.stringify(checked));
  assert.equal(checked.wrong, 0);
  assert.ok((checked.ops as number) > 0);
  assert.ok(!server.exited, server.log);
  // Once the racer has stopped, the file opens again (how many OPENs got through during the
  // race depends on how the racer is scheduled; a refusal is always safe).
  await using client = await RapClient.connect({ hostname: "127.0.0.1", port });
  await client.open(setup.target, options.write ? Perm.R | Perm.W : Perm.R);
  const head = new TextDecoder().decode(await client.read(0, 14));
  const expected = (await Deno.readTextFile(setup.expected)).slice(0, 14);
  assert.ok(head === expected || head === "RAP-RACE-WRITE", head);
  await client.close();
  return counts;
}

/** Every OPEN gave the inside file or was refused, and the race did hit. */
function assertNoEscape(counts: RaceCounts): void {
  const summary = JSON.stringify(counts);
  // RAP_RACE_REPORT=1 prints the counts (for comparing runs, e.g. against older code).
  if (Deno.env.get("RAP_RACE_REPORT")) console.log(summary);
  assert.equal(counts.outside, 0, `outside bytes were served: ${summary}`);
  assert.equal(counts.other, 0, summary);
  assert.deepEqual(counts.errors, [], summary);
  assert.equal(counts.inside + counts.refused, counts.opens, summary);
  assert.ok(counts.refused > 0, `the race never hit: ${summary}`);
}

Deno.test({
  name:
    "a directory swapped for a link to a directory outside --allow-read never gets an outside file served",
  ignore: !HAS_PYTHON,
  fn: () =>
    withRace("secret.txt", undefined, async (setup) => {
      assertNoEscape(await race(setup));
    }),
});

Deno.test({
  name:
    "a directory swapped for a link to /etc never gets /etc/passwd served, with the swap atomic or not",
  ignore: !HAS_PYTHON || !(() => {
    try {
      return Deno.statSync("/etc/passwd").isFile;
    } catch {
      return false;
    }
  })(),
  fn: () =>
    withRace("passwd", "/etc", async (setup) => {
      assertNoEscape(await race(setup));
      assertNoEscape(await race(setup, { mode: "rename" }));
    }),
});

Deno.test({
  name:
    "with --allow-write, a directory swapped for a link outside never gets an outside file written",
  ignore: !HAS_PYTHON,
  fn: () =>
    withRace("victim.bin", undefined, async (setup) => {
      const before = await Deno.readFile(setup.outsideFile);
      const { mtime } = await Deno.stat(setup.outsideFile);
      assertNoEscape(await race(setup, { write: true }));
      assert.deepEqual(await Deno.readFile(setup.outsideFile), before);
      assert.equal((await Deno.stat(setup.outsideFile)).mtime?.getTime(), mtime?.getTime());
      assert.deepEqual(
        [...Deno.readDirSync(setup.outsideDir)].map((e) => e.name),
        ["victim.bin"],
      );
    }),
});
