import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import { fuzzServer } from "./_fuzz_server.ts";
import file from "../plugins/file.ts";
import { startTestServer } from "../testing.ts";

// A short, deterministic slice of `deno task fuzz` (seed 1) against a `cli.ts serve` subprocess.
Deno.test("a served subprocess survives mutated RAP traffic: no crash, hang, wrong byte or bad reply", async () => {
  const report = await fuzzServer({ seed: 1, packets: 20_000, concurrency: 8 });
  assert.ok(report.packetsHandled >= 20_000);
  assert.ok(report.mutatedHandled > 0);
  assert.deepEqual(report.crashes, []);
  assert.deepEqual(report.hangSamples, []);
  assert.equal(report.hangs, 0);
  assert.deepEqual(report.badReplySamples, []);
  assert.deepEqual(report.internalErrorSamples, []);
  assert.ok(report.goodReads > 0, "the checked client made no reads");
  assert.equal(report.wrongBytes, 0);
  assert.deepEqual(report.goodErrorSamples, []);
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
