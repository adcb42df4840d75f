/**
 * Commands bounded in time and memory: output cut while it is produced, long commands
 * yielding to the event loop, an AbortSignal that stops them, and sizes and loop counts
 * checked before any work.
 */

import "../mod.ts"; // the built-in plugins
import type { CommandContext, IoSession } from "../mod.ts";
import assert from "node:assert/strict";
import {
  createReverseCommandHandler,
  createShellCommandHandler,
  FILTER_INPUT_MAX,
  MAX_ITERATIONS,
  OutputBuffer,
  Shell,
} from "../lib/shell/mod.ts";

const encoder = new TextEncoder();

/** Count the bytes the session reads (the spy is removed with the shell). */
function countReads(session: IoSession): { bytes: number } {
  const seen = { bytes: 0 };
  const readAt = session.readAt.bind(session);
  session.readAt = (offset, length) => {
    seen.bytes += length;
    return readAt(offset, length);
  };
  return seen;
}

async function nonZero(shell: Shell, size: number): Promise<number> {
  const bytes = await shell.session.readAt(0n, size);
  return bytes.length - bytes.filter((b) => b === 0).length;
}

Deno.test("Shell.run() with maxOutput cuts px 32M while it is produced, reading little", async () => {
  await using shell = new Shell();
  const reads = countReads(shell.session);
  const out = await shell.run("px 32M", { maxOutput: 16383 });
  assert.ok(encoder.encode(out).length <= 16383);
  assert.match(out, /^- offset - /);
  assert.match(out, /\n\[output truncated at 16383 bytes; use @ and a smaller size\]\n$/);
  assert.ok(reads.bytes <= 64 * 1024, `read ${reads.bytes} bytes for 16383 of output`);
});

Deno.test("output that fits the limit exactly is not cut", async () => {
  await using shell = new Shell();
  const full = await shell.run("p8 100"); // 201 bytes
  assert.equal(encoder.encode(full).length, 201);
  assert.equal(await shell.run("p8 100", { maxOutput: 201 }), full);
  assert.match(await shell.run("p8 100", { maxOutput: 200 }), /truncated at 200 bytes/);
});

Deno.test("a full output skips the rest of the line", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://64");
  const out = await shell.run("px 32M; wx 41", { maxOutput: 1000 });
  assert.ok(encoder.encode(out).length <= 1000);
  assert.equal(await shell.run("p8 1"), "00\n"); // wx never ran
});

Deno.test("every print command is cut at the limit", async () => {
  await using shell = new Shell();
  for (const command of ["px 32M", "pxw 32M", "p8 32M", "pr 32M", "b 32M; px", "99999p8 16"]) {
    const out = await shell.run(command, { maxOutput: 4096 });
    assert.ok(encoder.encode(out).length <= 4096, command);
    assert.match(out, /truncated at 4096 bytes/, command);
  }
  // ps n shows every byte, as radare2 (a NUL as \x00), and is cut as well; ps stops at a NUL.
  await shell.run("o malloc://64; b 256");
  const ps = await shell.run("ps 32M", { maxOutput: 4096 });
  assert.ok(encoder.encode(ps).length <= 4096);
  assert.match(ps, /^(\\x00)+\n?\[output truncated at 4096 bytes/);
  assert.equal(await shell.run("ps"), "\n");
});

Deno.test("execute() with maxOutput passes output on and ends it with the note, within the limit", async () => {
  await using shell = new Shell();
  const sink = new OutputBuffer();
  await shell.execute("px 32M", sink, { maxOutput: 5000 });
  const text = sink.text();
  assert.ok(encoder.encode(text).length <= 5000);
  assert.match(
    text,
    /^- offset -[\s\S]*\n\[output truncated at 5000 bytes; use @ and a smaller size\]\n$/,
  );
});

Deno.test("filters take a bounded input under an output limit, and all of it without", async () => {
  await using shell = new Shell();
  const out = await shell.run("px 1M~0x", { maxOutput: 16383 });
  assert.equal(
    out,
    `ERROR: Output of "px" is over ${FILTER_INPUT_MAX} bytes, too much for ~: use a smaller size\n`,
  );
  assert.equal(await shell.run("px 64K~?", { maxOutput: 16383 }), "4097\n");
  assert.equal(await shell.run("px 1M~?"), "65537\n"); // the local user has no limit
});

Deno.test("sizes are refused before any work, with one line", async () => {
  await using shell = new Shell();
  const reads = countReads(shell.session);
  assert.equal(
    await shell.run("px 0x7fffffff"),
    'ERROR: Length "0x7fffffff" (2147483647) is too large: at most 33554432 bytes (32M)\n',
  );
  assert.match(await shell.run("p8 99999999"), /^ERROR: Length "99999999" .* too large/);
  assert.match(await shell.run("b 0x7fffffff"), /^ERROR: Block size must be 1 to 32M/);
  assert.equal(
    await shell.run("px 16 @@s:0 0xffffffffffff 1"),
    `ERROR: Too many iterations in "@@s:0 0xffffffffffff 1" (281474976710656; at most ${MAX_ITERATIONS}): use a smaller count\n`,
  );
  assert.match(await shell.run("99999999999px 16"), /^ERROR: Too many iterations in 99999999999 /);
  assert.match(await shell.run("1024px 1 @@s:0 4095 1"), /^ERROR: Too many iterations/);
  assert.match(await shell.run("px 1 @@s:0 16 0"), /^ERROR: The step of "@@s:0 16 0"/);
  assert.match(await shell.run("px 1 @@x"), /^ERROR: Unknown iterator "@@x"/);
  assert.equal(reads.bytes, 0);
});

Deno.test("repeat prefixes and @@ iterators run the command at each address", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://64; wx 00112233445566778899 @ 0");
  assert.equal(await shell.run("p8 1 @@= 1 3 5"), "11\n33\n55\n");
  assert.equal(await shell.run("p8 2 @@s:0 8 4"), "0011\n4455\n8899\n");
  assert.equal(await shell.run("p8 1 @@s:60 0xffff 1"), "00\n00\n00\n00\n"); // ends at EOF
  assert.equal(await shell.run("s"), "0x0\n"); // @@ restores the seek
  assert.equal(await shell.run("3s+ 2; s"), "0x6\n"); // a repeat alone keeps it, as in r2
  assert.equal(await shell.run("2p8 1 @ 1"), "11\n11\n");
  assert.equal(await shell.run("2p8 1 @@= 0 1"), "00\n11\n00\n11\n");
  assert.match(await shell.run("p8 1 @ 0 @@= 1"), /^ERROR: Use either @ or @@/);
});

Deno.test("a long command lets timers and I/O run while it goes on", async () => {
  await using shell = new Shell();
  let finished = false;
  let ranDuring = false;
  const running = shell.run("s+ 1 @@s:0 0x3ffff 1").then((out) => {
    finished = true;
    return out;
  });
  setTimeout(() => ranDuring = !finished, 0);
  assert.equal(await running, "");
  assert.ok(ranDuring, "the timer waited for the whole command");
});

Deno.test("an aborted signal stops a running command at its next pause point", async () => {
  await using shell = new Shell();
  await shell.run("o malloc://1M");
  const stop = new AbortController();
  const running = shell.run("wx 01 @@s:0 0xfffff 1", { signal: stop.signal });
  setTimeout(() => stop.abort(new Error("Stopped by the test")), 0);
  await assert.rejects(running, /Stopped by the test/);
  const written = await nonZero(shell, 1 << 20);
  assert.ok(written < 1 << 20, "the loop ran to its end");
  // The session lock was released and the loop does not go on.
  assert.equal(await shell.run("s"), "0x0\n");
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(await nonZero(shell, 1 << 20), written);
});

Deno.test("the RAP command handler takes the server's limit and signal from the context", async () => {
  await using shell = new Shell(); // owns the session the context lends
  const handler = createShellCommandHandler();
  const stop = new AbortController();
  const context: CommandContext = {
    session: shell.session,
    readOnly: false,
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    reverseCommand: () => Promise.resolve(null),
    maxOutput: 300,
    signal: stop.signal,
  };
  const out = await handler("px 32M", context);
  assert.ok(out !== null && encoder.encode(out).length <= 300);
  // Without a limit in the context (an older server), radare2's 16383 applies.
  const old = await handler("px 32M", { ...context, maxOutput: undefined });
  assert.ok(old !== null && encoder.encode(old).length <= 16383);
  assert.ok(encoder.encode(old).length > 16000);
  stop.abort(new Error("Timed out"));
  await assert.rejects(handler("px 16", context), /Timed out/);
});

Deno.test("a server's reverse CMD gets at most what a RAP reply holds", async () => {
  await using shell = new Shell();
  const out = await createReverseCommandHandler(shell)("px 32M");
  assert.ok(encoder.encode(out).length <= 16383);
  assert.match(out, /truncated at 16383 bytes/);
});
