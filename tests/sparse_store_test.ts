import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import { Random } from "./_random.ts";
import sparse, { SparseStore } from "../plugins/sparse.ts";
import { startTestServer } from "../testing.ts";

Deno.test("SparseStore reads back what random overlapping, adjacent and scattered writes stored", () => {
  const random = new Random(7);
  for (let round = 0; round < 200; round++) {
    const store = new SparseStore();
    const model = new Map<number, number>();
    const span = random.pick([64, 1024, 100_000]);
    for (let op = 0; op < 300; op++) {
      const offset = random.int(span);
      const data = random.bytes(1 + random.int(random.chance(0.8) ? 16 : 600));
      // Appends right after the highest byte exercise the in-place growth.
      const at = random.chance(0.2) ? store.end : offset;
      store.write(at, data);
      data.forEach((b, i) => model.set(at + i, b));
      data.fill(0); // the store must have copied the bytes
    }
    const end = Math.max(0, ...[...model.keys()].map((k) => k + 1));
    assert.equal(store.end, end);
    const got = store.read(0, end + 8, 0xff);
    for (let i = 0; i < got.length; i++) assert.equal(got[i], model.get(i) ?? 0xff, `byte ${i}`);
    // The ranges are sorted, disjoint and not adjacent, and cover exactly the written bytes.
    const ranges = store.ranges();
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i].from > ranges[i - 1].to);
    assert.equal(ranges.reduce((n, r) => n + r.to - r.from, 0), model.size);
  }
});

Deno.test("sparse:// refuses a write ending past 2^53 with an IoError instead of a RangeError", async () => {
  await using desc = await sparse.open("sparse://16", {});
  await assert.rejects(
    desc.write!(Number.MAX_SAFE_INTEGER, new Uint8Array(14)),
    (error: Error) => error instanceof IoError && /too far/.test(error.message),
  );
  assert.equal(await desc.write!(Number.MAX_SAFE_INTEGER - 14, new Uint8Array(14)), 14);
});

Deno.test("a RAP WRITE at 2^53-1 on sparse:// is answered as failed and the connection stays usable", async () => {
  await using test = startTestServer();
  await using client = await test.connect();
  await client.open("sparse://16", 6);
  await assert.rejects(client.write(BigInt(Number.MAX_SAFE_INTEGER), new Uint8Array(14)), /failed/);
  assert.deepEqual([...await client.read(0, 2)], [0, 0]);
  assert.ok(!test.logs.some((line) => /internal error/.test(line)), test.logs.join("\n"));
});
