/**
 * The page at `/` of the `=h` endpoint: served over real sockets, then in a real browser
 * (Debian's chromium, driven by playwright-core; skipped with one line when either is
 * missing). `RAP_WEB_SCREENSHOT=docs/img/web.png deno test -A tests/http_page_test.ts`
 * also saves the screenshot of the README.
 */

import { IoSession } from "../mod.ts";
import assert from "node:assert/strict";
import { serveHttp } from "../lib/shell/mod.ts";
import { BROWSER_SKIP, CHROMIUM_SKIP, dumpDom, launchBrowser } from "./_browser.ts";

const SIZE = 4096;
const TOKEN = "s3cret-token-for-the-page";

/** The served file's byte at `i`: every block of 256 differs from the others. */
const byteAt = (i: number) => (i * 31 + (i >> 8) * 7) & 0xff;

/** A `px` row's hex column for the 16 bytes at `offset` (`0001 0203 ...`). */
function hexRow(offset: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push(
      [byteAt(offset + i), byteAt(offset + i + 1)]
        .map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
  }
  return words.join(" ");
}

/** The file, a session over it and an endpoint (with `token`, if given). */
async function servePage(token?: string) {
  const path = await Deno.makeTempFile({ prefix: "rap_page_", suffix: ".bin" });
  await Deno.writeFile(path, Uint8Array.from({ length: SIZE }, (_, i) => byteAt(i)));
  const session = new IoSession();
  await session.open(path);
  const log: string[] = [];
  const http = await serveHttp({ port: 0, session, token, log: (line) => log.push(line) });
  const base = `http://127.0.0.1:${http.addr.port}`;
  return {
    base,
    log,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await session[Symbol.asyncDispose]();
      await Deno.remove(path);
    },
  };
}

Deno.test("GET / renders the first hex view on the server; the script and style are served", async () => {
  await using server = await servePage();
  const res = await fetch(`${server.base}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  const html = await res.text();
  assert.ok(html.includes(`<span class="off">0x00000000</span>  <span class="hex">${hexRow(0)}`));
  assert.ok(html.includes(`<span class="off">0x000000f0</span>`)); // 16 rows
  assert.ok(!html.includes(`<span class="off">0x00000100</span>`));
  assert.match(html, /<input id="seek" name="seek" value="0x0"/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/); // nothing from elsewhere (no CDN)
  for (const [path, type] of [["/page.js", "text/javascript"], ["/page.css", "text/css"]]) {
    const file = await fetch(`${server.base}${path}`);
    assert.equal(file.status, 200, path);
    assert.equal(file.headers.get("content-type"), `${type}; charset=utf-8`);
    assert.ok((await file.text()).length > 500, path);
  }
  // The page's commands go to POST /cmd, as any client's.
  const post = await fetch(`${server.base}/cmd`, { method: "POST", body: "s 0x100;s" });
  assert.equal(await post.text(), "0x100\n");
  const moved = await (await fetch(`${server.base}/`)).text();
  assert.ok(
    moved.includes(`<span class="off">0x00000100</span>  <span class="hex">${hexRow(256)}`),
  );
});

Deno.test("with a token, the page comes without bytes and /cmd refuses requests without it", async () => {
  await using server = await servePage(TOKEN);
  const locked = await fetch(`${server.base}/`);
  assert.equal(locked.status, 401);
  assert.equal(locked.headers.get("www-authenticate"), 'Bearer realm="rap"');
  const html = await locked.text();
  assert.match(html, /<form id="token-form" aria-labelledby="token-title">/); // not hidden
  assert.ok(!html.includes(hexRow(0)));
  assert.doesNotMatch(html, /class="row/);
  const script = await fetch(`${server.base}/page.js`);
  assert.equal(script.status, 200);
  await script.body?.cancel();
  const refused = await fetch(`${server.base}/cmd/p8%204`);
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const headers = { Authorization: `Bearer ${TOKEN}` };
  const open = await fetch(`${server.base}/`, { headers });
  assert.equal(open.status, 200);
  assert.ok((await open.text()).includes(hexRow(0)));
  assert.ok(server.log.some((line) => /refused/.test(line)));
  assert.ok(server.log.every((line) => !line.includes(TOKEN)));
});

Deno.test("/cmd refuses what a browser says another site's page sent", async () => {
  await using server = await servePage();
  for (const site of ["cross-site", "same-site"]) {
    const res = await fetch(`${server.base}/cmd/wx%20ff`, { headers: { "Sec-Fetch-Site": site } });
    assert.equal(res.status, 403, site);
    assert.match(await res.text(), /cross-site/);
  }
  for (const site of ["same-origin", "none"]) {
    const res = await fetch(`${server.base}/cmd/p8%201`, { headers: { "Sec-Fetch-Site": site } });
    assert.equal(await res.text(), byteAt(0).toString(16).padStart(2, "0") + "\n", site);
  }
  assert.equal(server.log.filter((line) => /refused, a cross-site/.test(line)).length, 2);
});

Deno.test("chromium --headless --dump-dom shows the file's first 16 bytes", {
  ignore: CHROMIUM_SKIP !== undefined,
}, async () => {
  await using server = await servePage();
  const dom = await dumpDom(`${server.base}/`);
  assert.ok(dom.includes(hexRow(0)), dom.slice(0, 2000));
});

Deno.test("in a browser: the first bytes, a seek, paging and a command's output", {
  ignore: BROWSER_SKIP !== undefined,
}, async () => {
  await using server = await servePage();
  await using browser = await launchBrowser();
  const page = await browser.context.newPage();
  await page.goto(`${server.base}/`);
  const firstRow = page.locator("#hex .row:not(.head)").first();
  assert.equal(await firstRow.locator(".off").textContent(), "0x00000000");
  assert.equal(await firstRow.locator(".hex").textContent(), hexRow(0));

  await page.getByRole("textbox", { name: "Seek", exact: true }).fill("0x200");
  await page.getByRole("button", { name: "Go" }).click();
  await page.locator("#hex .row .off", { hasText: "0x00000200" }).first().waitFor();
  assert.equal(await firstRow.locator(".hex").textContent(), hexRow(0x200));
  assert.equal(await page.locator("#seek").inputValue(), "0x200");

  await page.getByRole("button", { name: /Next block/ }).click();
  await page.locator("#hex .row .off", { hasText: "0x00000300" }).first().waitFor();
  assert.equal(await firstRow.locator(".hex").textContent(), hexRow(0x300));

  await page.getByRole("textbox", { name: "Command", exact: true }).fill("p8 4 @ 0x10");
  await page.getByRole("button", { name: "Run" }).click();
  const expected = hexRow(0x10).replaceAll(" ", "").slice(0, 8);
  await page.locator("#output", { hasText: expected }).waitFor();
  assert.match(await page.locator("#output").textContent() ?? "", /> p8 4 @ 0x10\n[0-9a-f]{8}\n/);

  // Readable on a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate<number>(
    "document.documentElement.scrollWidth - document.documentElement.clientWidth",
  );
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone's screen`);
  await page.setViewportSize({ width: 900, height: 700 });

  // Another site's page (here one with no origin of its own) cannot make it run a command.
  await using other = await servePage();
  const evil = await browser.context.newPage();
  await evil.setContent(`<img src="${other.base}/cmd/wx%2000" alt="">`);
  await evil.waitForLoadState("load");
  assert.ok(other.log.some((line) => /refused, a cross-site/.test(line)), other.log.join("\n"));
  await evil.close();
  const untouched = await fetch(`${other.base}/cmd/p8%201`);
  assert.equal(await untouched.text(), byteAt(0).toString(16).padStart(2, "0") + "\n");

  const shot = Deno.env.get("RAP_WEB_SCREENSHOT");
  if (shot) {
    await page.getByRole("textbox", { name: "Seek", exact: true }).fill("0x0");
    await page.getByRole("button", { name: "Go" }).click();
    await page.locator("#hex .row .off", { hasText: "0x00000000" }).first().waitFor();
    await page.screenshot({ path: shot, fullPage: true });
  }
});

Deno.test("in a browser: without the token the page shows no bytes and asks for it", {
  ignore: BROWSER_SKIP !== undefined,
}, async () => {
  await using server = await servePage(TOKEN);
  await using browser = await launchBrowser();
  const page = await browser.context.newPage();
  const requests: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  const res = await page.goto(`${server.base}/`);
  assert.equal(res?.status(), 401);
  const tokenField = page.getByRole("textbox", { name: "Token", exact: true });
  assert.ok(await tokenField.isVisible());
  assert.equal(await page.locator("#hex .row").count(), 0);
  assert.ok(!(await page.content()).includes(hexRow(0)));

  await tokenField.fill("not-the-token");
  await page.getByRole("button", { name: "Use the token" }).click();
  await page.locator("#status", { hasText: "refused" }).waitFor();
  assert.equal(await page.locator("#hex .row").count(), 0);

  await tokenField.fill(TOKEN);
  await page.getByRole("button", { name: "Use the token" }).click();
  await page.locator("#hex .row .off", { hasText: "0x00000000" }).first().waitFor();
  assert.equal(
    await page.locator("#hex .row:not(.head) .hex").first().textContent(),
    hexRow(0),
  );
  assert.ok(await page.locator("#token-form").isHidden());
  assert.ok(requests.every((url) => !url.includes(TOKEN)), "the token went into a URL");
});
