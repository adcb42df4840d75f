import assert from "node:assert/strict";
import { BlockCache } from "../lib/client/block_cache.ts";
import { FileCaches } from "../lib/client/file_caches.ts";
import { ReadAhead } from "../lib/client/read_ahead.ts";

const FILE = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

/** A cache over FILE that records its fetches as [start, end). */
function recorded(options: { blockSize: number; maxBlocks: number; readAhead?: number }) {
  const fetches: [number, number][] = [];
  const cache = new BlockCache({
    blockSize: options.blockSize,
    maxBlocks: options.maxBlocks,
    size: FILE.length,
    readAhead: options.readAhead === undefined ? undefined : { max: options.readAhead },
    fetch: (start, end) => {
      fetches.push([start, end]);
      return Promise.resolve(FILE.slice(start, end));
    },
  });
  return { cache, fetches };
}

Deno.test("ReadAhead grows as it is used, keeps its window on a re-read, drops on a jump", () => {
  const ahead = new ReadAhead({ min: 10, max: 80 });
  const windows = [0, 1, 2, 3, 4, 5].map((i) => {
    const window = ahead.next(i * 4, 4);
    ahead.grow();
    return window;
  });
  assert.deepEqual(windows, [0, 10, 20, 40, 80, 80]);
  assert.equal(ahead.next(20, 4), 80); // the same place again
  assert.equal(ahead.next(5000, 4), 0);
  assert.equal(ahead.next(5004, 4), 10);
  assert.equal(ahead.next(4000, 4), 0); // backwards
});

Deno.test("BlockCache reads ahead of sequential readers with few, growing requests", async () => {
  const { cache, fetches } = recorded({ blockSize: 4096, maxBlocks: 64, readAhead: 64 * 1024 });
  for (let at = 0; at < 256 * 1024; at += 4096) {
    assert.deepEqual(await cache.read(at, 4096), FILE.slice(at, at + 4096));
  }
  // 64 blocks read, in far fewer requests than blocks, each larger than the last but one.
  assert.ok(fetches.length < 16, `${fetches.length} fetches`);
  const sizes = fetches.map(([s, e]) => e - s);
  assert.ok(Math.max(...sizes) >= 16 * 1024, `sizes ${sizes}`);
  assert.ok(sizes.every((n) => n <= 64 * 1024));
  assert.ok(cache.stats.hits > 0);
});

Deno.test("BlockCache fetches single blocks on random reads", async () => {
  const { cache, fetches } = recorded({ blockSize: 4096, maxBlocks: 64, readAhead: 64 * 1024 });
  let seed = 1;
  for (let i = 0; i < 50; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const at = seed % (FILE.length - 100);
    assert.deepEqual(await cache.read(at, 100), FILE.slice(at, at + 100));
  }
  assert.ok(fetches.every(([s, e]) => e - s <= 2 * 4096), JSON.stringify(fetches));
});

Deno.test("BlockCache never holds more than its blocks, however far it reads ahead", async () => {
  const { cache } = recorded({ blockSize: 1024, maxBlocks: 8, readAhead: 1 << 20 });
  for (let at = 0; at < FILE.length; at += 512) {
    assert.deepEqual(await cache.read(at, 512), FILE.slice(at, at + 512));
    assert.ok(cache.cachedBlocks <= 8);
  }
  assert.equal(cache.capacity, 8 * 1024);
});

Deno.test("BlockCache.write patches blocks held and blocks still being fetched", async () => {
  const file = new Uint8Array(64);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const cache = new BlockCache({
    blockSize: 16,
    maxBlocks: 4,
    fetch: async (start, end) => {
      const bytes = file.slice(start, end); // what the source held when asked
      await gate;
      return bytes;
    },
  });
  const reading = cache.read(0, 32); // in flight
  file.set([9, 9, 9], 14);
  cache.write(14, new Uint8Array([9, 9, 9])); // acknowledged before the fetch returned
  release();
  assert.deepEqual([...(await reading).subarray(12, 18)], [0, 0, 9, 9, 9, 0]);
  assert.deepEqual([...await cache.read(40, 2)], [0, 0]); // unbounded: fetched when read
});

Deno.test("FileCaches bypasses large reads and pads past the server's data", async () => {
  const asked: number[] = [];
  const caches = new FileCaches(
    { blockSize: 4096, maxBytes: 65536, bypass: 8192 },
    (_fd, at, into) => {
      asked.push(into.length);
      into.fill(0xff);
      into.set(FILE.subarray(Number(at), Number(at) + into.length));
      return Promise.resolve();
    },
  );
  const small = new Uint8Array(100);
  assert.ok(await caches.read(1, FILE.length - 50, small));
  assert.deepEqual(small.subarray(0, 50), FILE.subarray(FILE.length - 50));
  assert.ok(small.subarray(50).every((b) => b === 0xff));
  assert.equal(await caches.read(1, 0, new Uint8Array(8192)), false);
  assert.equal(await caches.read(1, 2 ** 60, new Uint8Array(16)), false); // beyond 2^53
  assert.deepEqual(asked, [8192]); // the two blocks the small read spans, in one request
  assert.throws(
    () => new FileCaches({ blockSize: 4096, maxBytes: 100 }, () => Promise.resolve()),
    /--cache-size/,
  );
});
