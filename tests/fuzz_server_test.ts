import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import { fuzzServer } from "./_fuzz_server.ts";
import { SCENARIOS } from "./_fuzz_scenarios.ts";
import { HAS_PYTHON } from "./_peer.ts";
import { Findings, toHex } from "./_fuzz_findings.ts";
import { replayFinding } from "./_fuzz_replay.ts";
import { encodePacket } from "../mod.ts";
import file from "../plugins/file.ts";
import { startTestServer } from "../testing.ts";

// A short, deterministic slice of `deno task fuzz` (seed 1) against a `cli.ts serve`
// subprocess: RAP and HTTP fuzzing connections, and every scenario once (abortive closes,
// descriptor exhaustion, held HTTP slots, nested self-rap://, hostile archives, path races,
// slow and oversized HTTP), while three checkers compare bytes.
Deno.test("a served subprocess survives every fuzz class: no crash, hang, wrong byte, leak or bad reply", async () => {
  const findingsDir = await Deno.makeTempDir({ prefix: "rap_fuzz_findings_" });
  try {
    const report = await fuzzServer({
      seed: 1,
      packets: 5_000,
      concurrency: 4,
      httpConcurrency: 2,
      fileLimit: 256,
      packetTimeout: 3000,
      windowMs: 500,
      resetCount: 20,
      scenarioPauseMs: 0,
      findingsDir,
    });
    const summary = JSON.stringify(report.findings, null, 1);
    assert.deepEqual(report.findingCounts, {}, summary);
    assert.ok(report.packets >= 5_000);
    assert.ok(report.rap.mutatedHandled > 0);
    assert.ok(report.http.requests > 0);
    assert.equal(report.crashes, 0);
    assert.equal(report.internalErrors, 0);
    assert.ok(report.checkers.rap.reads > 0, "the RAP checker made no reads");
    assert.ok(report.checkers.http.requests > 0, "the HTTP checker made no requests");
    assert.ok(report.rss.peak! < report.rss.limit);
    if (!HAS_PYTHON) return;
    const s = report.scenarios;
    for (const name of SCENARIOS) assert.ok((s.runs[name] ?? 0) >= 1, `${name} did not run`);
    assert.ok(report.checkers.python!.ops > 0, "the python checker made no reads");
    assert.ok(s.resets.sent > 0);
    assert.ok(s.holds.exhausted >= 1, "the holds never ran the server out of descriptors");
    assert.equal(s.nests.opened, 0);
    assert.ok(s.nests.refused > 0);
    assert.ok(s.races.swaps > 0);
    assert.equal(s.races.outside, 0);
    assert.ok(s.archives.opened >= 1 && s.archives.opened < s.archives.opens);
    assert.equal(s.httpPeers.slowCut, s.httpPeers.slow);
  } finally {
    await Deno.remove(findingsDir, { recursive: true });
  }
});

Deno.test("file: reads and writes past the file system's largest offset fail with IoError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_file_offset_" });
  try {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    await using desc = await file.open(path, { write: true });
    const far = Number.MAX_SAFE_INTEGER - 10;
    // Some file systems (ext4, tmpfs) refuse such offsets (EINVAL); others accept them.
    const read = await desc.read(far, 4).catch((error) => error);
    assert.ok(read instanceof Uint8Array || read instanceof IoError, String(read));
    const written = await desc.write!(far, new Uint8Array([9])).catch((error) => error);
    assert.ok(typeof written === "number" || written instanceof IoError, String(written));
    await desc.resize!(3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a RAP WRITE at an offset the file system refuses is answered, not a dropped connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_file_offset_" });
  try {
    const path = `${dir}/a.bin`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    await using test = startTestServer();
    await using client = await test.connect();
    await client.open(path, 6);
    const far = BigInt(Number.MAX_SAFE_INTEGER - 10);
    await client.write(far, new Uint8Array([9])).catch((error) => {
      assert.match((error as Error).message, /failed on/);
    });
    assert.deepEqual([...await client.read(0, 3)], [1, 2, 3]);
    assert.ok(!test.logs.some((line) => /internal error/.test(line)), test.logs.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a saved reproducer replays against a fresh server, with the run's paths and ports replaced", async () => {
  const findingsDir = await Deno.makeTempDir({ prefix: "rap_fuzz_findings_" });
  try {
    // A run's served dir and port, as a reproducer records them (the replay makes its own).
    const dir = "/tmp/rap_fuzz_0123456789abcdef";
    const rap = 45678;
    const findings = new Findings(findingsDir);
    const open = encodePacket({ type: "open", flags: 4, name: `${dir}/known.bin` });
    const read = encodePacket({ type: "read", length: 16 });
    const get = new TextEncoder().encode(`GET /cmd/?e ${dir} ${rap} HTTP/1.0\r\n\r\n`);
    const finding = await findings.add({
      kind: "hang",
      detail: "a test",
      seed: 1,
      setup: {
        dir,
        outside: "/tmp/rap_fuzz_outside_0123456789abcdef",
        rap,
        http: 45679,
        fileLimit: 256,
        connections: 1024,
        packetTimeout: 2000,
        bombSize: 1 << 20,
      },
      streams: [
        { port: "rap", hex: [toHex(open) + toHex(read)], pauses: [0], closeWrite: true },
        { port: "http", hex: [toHex(get)], pauses: [0], closeWrite: false },
      ],
      log: [],
    });
    const { seen, log } = await replayFinding(finding.reproducer!);
    assert.deepEqual(seen, [], log.join("\n"));
    assert.ok(!log.some((line) => /OPEN failed/.test(line)), log.join("\n"));
    assert.ok(
      log.some((line) => /GET \/cmd\/\?e \/tmp\/rap_fuzz_\w{16} \d+ 200/.test(line)),
      log.join("\n"),
    );
  } finally {
    await Deno.remove(findingsDir, { recursive: true });
  }
});
