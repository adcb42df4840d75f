import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { DECODER_NAMES, fuzzDecoders } from "./_fuzz_decoders.ts";
import { zipFile } from "./_fixtures.ts";
import { ZipArchive } from "../plugins/_zip_archive.ts";
import http from "../plugins/http.ts";
import zip, { ZIP_MAX_MEMBER } from "../plugins/zip.ts";

// A short, deterministic slice of `deno task fuzz` (seed 1): 2% of the full input counts.
for (const name of DECODER_NAMES) {
  Deno.test(`${name}: mutated inputs raise only typed errors, quickly, without over-allocating`, async () => {
    const [report] = await fuzzDecoders({ seed: 1, scale: 0.02, only: [name] });
    assert.ok(report.inputs > 0);
    assert.deepEqual(report.untypedSamples, []);
    assert.equal(report.untyped, 0);
    assert.equal(report.slow, 0, `slowest input took ${report.maxMs} ms`);
    assert.deepEqual(report.overAllocationSamples, []);
  });
}

/** A zip whose deflated member "a.txt" claims to inflate to `size` bytes. */
async function zipClaiming(size: number): Promise<Uint8Array> {
  const bytes = await zipFile([{
    name: "a.txt",
    data: new TextEncoder().encode("hi hi hi"),
    deflate: true,
  }]);
  const view = new DataView(bytes.buffer);
  const local = 0;
  const central = bytes.length - 22 - (46 + 5);
  assert.equal(view.getUint32(central, true), 0x02014b50);
  view.setUint32(local + 22, size, true);
  view.setUint32(central + 24, size, true);
  return bytes;
}

Deno.test("a zip member claiming 1 GiB behind a few deflated bytes is refused before allocating it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_zip_claim_" });
  try {
    const path = `${dir}/claim.zip`;
    await Deno.writeFile(path, await zipClaiming(ZIP_MAX_MEMBER));
    const before = v8.getHeapStatistics().external_memory;
    {
      using archive = await ZipArchive.open(path);
      await assert.rejects(
        archive.read(archive.entries[0], ZIP_MAX_MEMBER),
        (error: Error) =>
          error instanceof SyntaxError &&
          /more than its \d+ deflated bytes can hold/.test(error.message),
      );
    }
    await assert.rejects(zip.open(`zip://${path}//a.txt`, {}), IoError);
    const grew = v8.getHeapStatistics().external_memory - before;
    assert.ok(grew < 64 * 1024 * 1024, `external memory grew by ${grew} bytes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a zip member whose declared size its deflated bytes can hold still opens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_zip_claim_" });
  try {
    const path = `${dir}/ok.zip`;
    const data = new Uint8Array(1_000_000); // zeros deflate about 1000:1
    await Deno.writeFile(path, await zipFile([{ name: "z", data, deflate: true }]));
    await using desc = await zip.open(`zip://${path}//z`, {});
    assert.equal(await desc.size(), 1_000_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http:// closes its HTTP client when the fallback full GET after a 416 or a total-less 206 fails", async () => {
  for (const first of [416, 206]) {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) =>
        request.headers.has("range")
          ? new Response(first === 206 ? "x" : null, {
            status: first,
            headers: { "content-range": first === 206 ? "bytes 0-0/*" : "bytes */5" },
          })
          : new Response("gone", { status: 500 }),
    );
    // The test sanitizer fails this test if the plugin's Deno.HttpClient stays open.
    await assert.rejects(
      http.open(`http://127.0.0.1:${server.addr.port}/x`, {}),
      (error: Error) => error instanceof IoError && /HTTP 500/.test(error.message),
    );
  }
});
