import { IoSession, MemoryBudget } from "../mod.ts";
import assert from "node:assert/strict";

Deno.test("sessions sharing a MemoryBudget are refused once together they would pass it", async () => {
  const budget = new MemoryBudget(1000);
  await using a = new IoSession({ memoryBudget: budget });
  await using b = new IoSession({ memoryBudget: budget });
  const fd = await a.open("malloc://600");
  assert.equal(budget.used, 600);
  await assert.rejects(
    b.open("malloc://600"),
    /Cannot open "malloc:\/\/600": the buffer needs 600 bytes but only 400 bytes of the server's memory budget is left \(--max-memory\)/,
  );
  assert.equal(budget.used, 600, "the refused open gave its claim back");
  await a.close(fd);
  assert.equal(budget.used, 0, "closing a file gives its bytes back");
  await b.open("malloc://600");
  assert.equal(budget.used, 600);
});

Deno.test("concurrent opens cannot both take the last of a MemoryBudget", async () => {
  const budget = new MemoryBudget(1000);
  const sessions = Array.from({ length: 4 }, () => new IoSession({ memoryBudget: budget }));
  try {
    const results = await Promise.allSettled(sessions.map((s) => s.open("malloc://400")));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    for (const r of results) {
      if (r.status === "rejected") assert.match(String(r.reason), /\(--max-memory\)/);
    }
    assert.equal(budget.used, 800);
  } finally {
    for (const s of sessions) await s.closeAll();
  }
  assert.equal(budget.used, 0);
});

Deno.test("a write that would grow a sparse buffer past the shared budget is refused first", async () => {
  const budget = new MemoryBudget(64 * 1024);
  await using a = new IoSession({ memoryBudget: budget });
  await using b = new IoSession({ memoryBudget: budget });
  await a.open("sparse://16", { write: true });
  await b.open("sparse://16", { write: true });
  assert.equal(await a.writeAt(0n, new Uint8Array(40 * 1024)), 40 * 1024);
  assert.equal(budget.used, 40 * 1024);
  await assert.rejects(
    b.writeAt(0n, new Uint8Array(30 * 1024)),
    /the write needs 30\.0 KiB but only 24\.0 KiB of the server's memory budget is left \(--max-memory\)/,
  );
  assert.equal(b.memoryUsage(), 0, "nothing was allocated");
  assert.equal(await b.writeAt(0n, new Uint8Array(20 * 1024)), 20 * 1024);
  assert.equal(budget.used, 60 * 1024);
  // An in-place write needs nothing new.
  assert.equal(await a.writeAt(100n, new Uint8Array(1000)), 1000);
  await a.closeAll();
  assert.equal(budget.used, 20 * 1024);
});

Deno.test("the per-session limit applies on top of the shared budget", async () => {
  const budget = new MemoryBudget(10_000);
  await using session = new IoSession({ memoryBudget: budget, maxMemory: 1000 });
  await assert.rejects(session.open("malloc://2000"), /\(--max-session-memory\)/);
  assert.equal(budget.used, 0);
});

Deno.test("descriptors added as they are count against the shared budget", async () => {
  const budget = new MemoryBudget(100);
  await using session = new IoSession({ memoryBudget: budget });
  const { MemoryDescriptor } = await import("../lib/io/mod.ts");
  const fd = session.add(new MemoryDescriptor("malloc://150", "malloc", new Uint8Array(150)));
  assert.equal(budget.used, 150); // overdrawn: later opens fail until it closes
  await assert.rejects(session.open("malloc://1"), /\(--max-memory\)/);
  await session.close(fd);
  assert.equal(budget.used, 0);
});
