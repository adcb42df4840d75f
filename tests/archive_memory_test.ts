/**
 * Archives, compressed files and other loaded images are checked against the memory
 * budget before they are inflated or read: declared sizes, overlapping entries, entry
 * counts, and running budgets where sizes are not known in advance.
 */

import { IoSession, MemoryBudget } from "../mod.ts";
import assert from "node:assert/strict";
import { decodeCompressed } from "../plugins/_gzip_format.ts";
import { ZIP_MAX_ENTRIES } from "../plugins/zip.ts";
import { buildZip, deflateZeros, sharedStreamZip, type ZipEntrySpec } from "./_zip_bomb.ts";

async function withFile(bytes: Uint8Array, fn: (path: string) => Promise<void>, suffix = "") {
  const path = await Deno.makeTempFile({ prefix: "rap_mem_", suffix });
  try {
    await Deno.writeFile(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Members whose deflate data is garbage: any attempt to inflate them fails as corrupt. */
function garbageMembers(count: number, size: number): ZipEntrySpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `m${i}`,
    data: new Uint8Array(1024).fill(0xff),
    size,
    crc32: 0,
  }));
}

Deno.test("zipall:// and zip://A//member refuse entries that share one deflate stream", async () => {
  const stream = await deflateZeros(1 << 20);
  await withFile(sharedStreamZip(stream, 3), async (path) => {
    await using session = new IoSession();
    for (const uri of [`zipall://${path}`, `zip://${path}//zeros1.bin`]) {
      await assert.rejects(
        session.open(uri),
        /entries "zeros0\.bin" and "zeros1\.bin" overlap \(local headers at 0 and 0\): archives whose entries share data are refused/,
      );
    }
    assert.equal(session.files().length, 0);
  });
});

Deno.test("zip:// refuses data that runs into the next local header or the central directory", async () => {
  const data = new Uint8Array(100);
  const plain = (name: string, extra: Partial<ZipEntrySpec> = {}): ZipEntrySpec => ({
    name,
    data,
    size: 100,
    crc32: 0,
    method: 0,
    ...extra,
  });
  await withFile(buildZip([plain("a", { compressedSize: 140 }), plain("b")]), async (path) => {
    await using session = new IoSession();
    await assert.rejects(session.open(`zip://${path}//b`), /entries "a" and "b" overlap/);
  });
  await withFile(buildZip([plain("a"), plain("b", { compressedSize: 130 })]), async (path) => {
    await using session = new IoSession();
    await assert.rejects(
      session.open(`zip://${path}//a`),
      /entry "b" overlaps the central directory/,
    );
  });
  // A local header whose name is longer than the central directory's pushes the data over
  // the next header: only reading the local header shows it.
  const bytes = buildZip([plain("a"), plain("b")]);
  new DataView(bytes.buffer).setUint16(26, 40, true);
  await withFile(bytes, async (path) => {
    await using session = new IoSession();
    await assert.rejects(
      session.open(`zip://${path}//a`),
      /member "a": its data runs into the next entry or the central directory/,
    );
    assert.equal(session.files().length, 0);
  });
});

Deno.test("zip:// refuses an archive with more entries than ZIP_MAX_ENTRIES", async () => {
  const entries: ZipEntrySpec[] = Array.from({ length: ZIP_MAX_ENTRIES + 1 }, (_, i) => ({
    name: `f${i}`,
    data: new Uint8Array(0),
    size: 0,
    crc32: 0,
    method: 0,
  }));
  await withFile(buildZip(entries), async (path) => {
    await using session = new IoSession();
    await assert.rejects(
      session.open(`zip://${path}//f1`),
      new RegExp(
        `the archive has ${ZIP_MAX_ENTRIES + 1} entries, more than the ` +
          `${ZIP_MAX_ENTRIES} allowed`,
      ),
    );
  });
  await withFile(buildZip(entries.slice(0, 1000)), async (path) => {
    await using session = new IoSession();
    await session.open(`zip://${path}//f999`); // below the cap: fine
  });
});

Deno.test("zipall:// claims the members' declared sizes before inflating any", async () => {
  // Garbage data: had anything been inflated, the error would be "corrupt deflate data".
  await withFile(buildZip(garbageMembers(4, 300 * 1024)), async (path) => {
    await using own = new IoSession({ maxMemory: 1 << 20 });
    await assert.rejects(
      own.open(`zipall://${path}`),
      /opening 4 members \(1\.2 MiB declared\) needs 1\.2 MiB, but the session's files would hold 1228800 bytes in memory, over its limit of 1048576 \(--max-session-memory\)/,
    );
    const budget = new MemoryBudget(1 << 20);
    await using shared = new IoSession({ memoryBudget: budget });
    await assert.rejects(
      shared.open(`zipall://${path}`),
      /opening 4 members \(1\.2 MiB declared\) needs 1\.2 MiB but only 1\.0 MiB of the server's memory budget is left \(--max-memory\)/,
    );
    await assert.rejects(
      new IoSession({ memoryBudget: new MemoryBudget(200 * 1024) }).open(`zip://${path}//m2`),
      /member "m2" needs 300\.0 KiB but only 200\.0 KiB of the server's memory budget is left \(--max-memory\)/,
    );
    assert.equal(budget.used, 0);
    await assert.rejects(shared.open(`zip://${path}//m2`), /corrupt deflate data/); // it fits
  });
});

Deno.test("zipall:// with more members than the session may still open is refused first", async () => {
  await withFile(buildZip(garbageMembers(3, 10)), async (path) => {
    await using session = new IoSession({ maxOpenFiles: 2 });
    await assert.rejects(
      session.open(`zipall://${path}`),
      /it has 3 files, more than the 2 the session may still open \(--max-open-files\)/,
    );
  });
});

Deno.test("gzip:// stops inflating a bomb as soon as it passes the session's budget", async () => {
  const bomb = await deflateZeros(40 << 20, "gzip");
  await withFile(bomb.data, async (path) => {
    await using session = new IoSession({ maxMemory: 4 << 20 });
    await assert.rejects(
      session.open(`gzip://${path}`),
      /inflating it \(.* so far\) needs .* over its limit of 4194304 \(--max-session-memory\)/,
    );
    await using shared = new IoSession({ memoryBudget: new MemoryBudget(4 << 20) });
    await assert.rejects(shared.open(`gzip://${path}`), /\(--max-memory\)/);
  });
  // A running budget: every buffer is counted before it is allocated (the old one is still
  // held while a buffer grows), and the inflate stops before it produced the budget.
  const budget = 4 << 20;
  let allocated = 0;
  let produced = 0;
  assert.throws(() =>
    decodeCompressed(bomb.data, 50_000_000, (size, done) => {
      if (allocated + size > budget) throw new RangeError("over the budget");
      allocated += size;
      produced = done;
    }), /over the budget/);
  assert.ok(allocated <= budget && produced < budget, `${allocated} ${produced}`);
});

Deno.test("gzip:// does not trust a lying ISIZE", async () => {
  const gz = (await deflateZeros(1 << 20, "gzip")).data;
  new DataView(gz.buffer).setUint32(gz.length - 4, 100, true); // "100 bytes"
  await withFile(gz, async (path) => {
    await using session = new IoSession({ maxMemory: 256 * 1024 });
    await assert.rejects(session.open(`gzip://${path}`), /\(--max-session-memory\)/);
    await using unlimited = new IoSession();
    await assert.rejects(unlimited.open(`gzip://${path}`), /length mismatch/);
  });
});

Deno.test("tcp-slurp:// stops reading a peer that sends more than the budget", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent = (async () => {
    using conn = await listener.accept();
    const block = new Uint8Array(64 * 1024);
    try {
      for (let i = 0; i < 64; i++) await conn.write(block); // 4 MiB, if it were read
    } catch {
      // the reader gave up and closed the connection
    }
  })();
  await using session = new IoSession({ maxMemory: 256 * 1024 });
  await assert.rejects(
    session.open(`tcp-slurp://127.0.0.1:${listener.addr.port}`),
    /the bytes the peer sent needs .* \(--max-session-memory\)/,
  );
  await sent;
});

Deno.test("http:// without Range support stops reading a body larger than the budget", async () => {
  const body = new Uint8Array(2 << 20);
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(body), // 200, the whole body, whatever Range asked
  );
  await using session = new IoSession({ memoryBudget: new MemoryBudget(256 * 1024) });
  await assert.rejects(
    session.open(`http://127.0.0.1:${server.addr.port}/x.bin`),
    /the body needs .* of the server's memory budget is left \(--max-memory\)/,
  );
});

/** An Intel HEX data record (type 00) or S3 record of 16 bytes at `address`. */
function textRecord(format: "ihex" | "srec", address: number): string {
  const data = Array.from({ length: 16 }, (_, i) => (address + i) & 0xff);
  const hex = (bytes: number[]) =>
    bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  if (format === "ihex") {
    const bytes = [16, (address >> 8) & 0xff, address & 0xff, 0, ...data];
    return `:${hex(bytes)}${hex([-bytes.reduce((a, b) => a + b, 0) & 0xff])}\n`;
  }
  const bytes = [21, 0, 0, (address >> 8) & 0xff, address & 0xff, ...data];
  return `S3${hex(bytes)}${hex([~bytes.reduce((a, b) => a + b, 0) & 0xff])}\n`;
}

Deno.test("ihex:// and srec:// claim what parsing the text costs before reading it", async () => {
  for (const format of ["ihex", "srec"] as const) {
    let text = "";
    for (let address = 0; address < 2000 * 16; address += 16) text += textRecord(format, address);
    text += format === "ihex" ? ":00000001FF\n" : "S70500000000FA\n";
    await withFile(new TextEncoder().encode(text), async (path) => {
      await using session = new IoSession({ maxMemory: 1 << 20 });
      await assert.rejects(
        session.open(`${format}://${path}`),
        /parsing the file needs .* \(--max-session-memory\)/,
      );
      await using roomy = new IoSession({ maxMemory: 4 << 20 });
      await roomy.open(`${format}://${path}`);
      assert.ok(roomy.memoryUsage() <= 64 * 1024, "once open, only the image counts");
    });
  }
});
