import { IoRegistry, IoSession } from "../mod.ts";
import assert from "node:assert/strict";
import { CommandPolicy, percentDecode, serveHttp, Shell } from "../lib/shell/mod.ts";

Deno.test("GET /cmd/<percent-encoded> runs the command and answers text/plain", async () => {
  await using session = new IoSession();
  await session.open("hex://000102030405060708090a0b0c0d0e0f");
  await using http = await serveHttp({ port: 0, session, log: () => {} });
  const base = `http://127.0.0.1:${http.addr.port}`;
  const res = await fetch(`${base}/cmd/${encodeURIComponent("px 4 @ 0x10-4")}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain");
  assert.equal(
    await res.text(),
    "- offset -   C D  E F 1011 1213 1415 1617 1819 1A1B  CDEF0123456789AB\n" +
      "0x0000000c  0c0d 0e0f                                ....\n",
  );
  // + is not a space, ? is part of the command, raw spaces are fine too.
  assert.equal(await (await fetch(`${base}/cmd/?e%20a+b`)).text(), "a+b\n");
  assert.match(await (await fetch(`${base}/cmd/?V`)).text(), /rap/);
  assert.equal(await (await fetch(`${base}/cmd/p8%202;p8%201`)).text(), "0001\n00\n");
  assert.equal(await (await fetch(`${base}/cmd/`)).text(), "");
});

Deno.test("POST /cmd takes the command from the body, not decoded", async () => {
  await using http = await serveHttp({ port: 0, log: () => {} });
  const res = await fetch(`http://127.0.0.1:${http.addr.port}/cmd`, {
    method: "POST",
    body: "?e 100%20",
  });
  assert.equal(await res.text(), "100%20\n");
});

Deno.test("other paths and methods answer like radare2's =h", async () => {
  await using http = await serveHttp({ port: 0, log: () => {} });
  const base = `http://127.0.0.1:${http.addr.port}`;
  const get = await fetch(`${base}/favicon.ico`); // (/ and /index.html are the page)
  assert.equal([get.status, await get.text()].join(" "), "404 File not found\n");
  const post = await fetch(`${base}/up/x`, { method: "POST", body: "x" });
  assert.equal([post.status, await post.text()].join(" "), "403 403 Forbidden\n");
  const options = await fetch(`${base}/cmd/x`, { method: "OPTIONS" });
  assert.equal([options.status, await options.text()].join(" "), "200 ");
  const put = await fetch(`${base}/cmd/x`, { method: "PUT", body: "x" });
  assert.equal([put.status, await put.text()].join(" "), "404 Invalid protocol");
});

Deno.test("HTTP commands follow the command policy", async () => {
  await using http = await serveHttp({ port: 0, log: () => {} });
  const base = `http://127.0.0.1:${http.addr.port}/cmd/`;
  for (const command of ["!id", "o /etc/passwd", "wtf /tmp/x", "=h 0", "?e x > /tmp/x"]) {
    const text = await (await fetch(base + encodeURIComponent(command))).text();
    assert.match(text, /^ERROR: Command ".*" is not allowed here/, command);
  }
  await using open = await serveHttp({
    port: 0,
    policy: CommandPolicy.RESTRICTED.with("open"),
    log: () => {},
  });
  const text = await (await fetch(`http://127.0.0.1:${open.addr.port}/cmd/o%20hex://4142;p8%202`))
    .text();
  assert.equal(text, "4142\n");
});

Deno.test("HTTP requests keep their own seek, apart from the console's", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://00112233");
  await using http = await serveHttp({ port: 0, session: shell.session, log: () => {} });
  const base = `http://127.0.0.1:${http.addr.port}/cmd/`;
  await fetch(base + "s%202").then((r) => r.text());
  assert.equal(await (await fetch(base + "p8%201")).text(), "22\n");
  assert.equal(await shell.run("s; p8 1"), "0x0\n00\n");
  await shell.run("s 3");
  assert.equal(await (await fetch(base + "s")).text(), "0x2\n");
});

Deno.test("a sessionFactory session is made at the first request and closed at shutdown", async () => {
  let made = 0;
  let session: IoSession | undefined;
  const http = await serveHttp({
    port: 0,
    log: () => {},
    sessionFactory: async () => {
      made++;
      session = new IoSession({ registry: new IoRegistry() });
      await session.open("hex://abcd");
      return session;
    },
  });
  try {
    assert.equal(made, 0);
    const base = `http://127.0.0.1:${http.addr.port}/cmd/`;
    assert.equal(await (await fetch(base + "p8%202")).text(), "abcd\n");
    assert.equal(await (await fetch(base + "p8%201")).text(), "ab\n");
    assert.equal(made, 1);
  } finally {
    await http.shutdown();
  }
  assert.equal(session!.files().length, 0);
});

Deno.test("radare2's r2web:// IO plugin reads and writes through our endpoint", async () => {
  await using served = new IoSession();
  await served.open("malloc://64", { write: true });
  await served.writeAt(0x10n, new TextEncoder().encode("remote"));
  await using http = await serveHttp({ port: 0, session: served, log: () => {} });
  await using client = new Shell({ writable: true });
  await client.run(`o r2web://127.0.0.1:${http.addr.port}/cmd`);
  assert.equal(await client.run("ps @ 0x10"), "remote\n");
  assert.equal(await client.run("w R @ 0x10"), "");
  assert.equal(new TextDecoder().decode(await served.readAt(0x10n, 6)), "Remote");
  assert.equal(await client.run(":?e hi"), "hi\n");
});

Deno.test("percentDecode decodes %XX only", () => {
  assert.equal(percentDecode("a%2Bb+c%zz%4"), "a+b+c%zz%4");
  assert.equal(percentDecode("%E2%82%AC"), "€");
});
