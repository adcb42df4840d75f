/**
 * The page's script (`/page.js`), as a string: plain JavaScript, no framework, no CDN. It
 * sends every command to `POST /cmd` (the body is the command) with the token, if one was
 * given, as `Authorization: Bearer` (kept in sessionStorage, never in a URL); a 401 shows
 * the token form. The hex view is drawn by {@linkcode pxToHtml}, whose source is part of
 * the script.
 *
 * @module
 */

import { PAGE_BYTES, pxToHtml } from "./hex_view.ts";

/**
 * The page's script.
 *
 * @example
 * ```ts
 * import { PAGE_SCRIPT } from "./page_js.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(PAGE_SCRIPT, /function pxToHtml\(px\)/); // the server's renderer, as JavaScript
 * assert.doesNotMatch(PAGE_SCRIPT, /[?&]token=/); // the token never goes in a URL
 * ```
 */
export const PAGE_SCRIPT: string = `"use strict";
(() => {
const PAGE = ${PAGE_BYTES}n;
const TOKEN_KEY = "rap.token";
${pxToHtml.toString()}
const $ = (id) => document.getElementById(id);
const view = $("hex");
const seekInput = $("seek");
const status = $("status");
const tokenForm = $("token-form");
const tokenInput = $("token");
const output = $("output");
const cmdInput = $("cmd");
const history = [];
let recall = 0;
let token = null;
try { token = sessionStorage.getItem(TOKEN_KEY); } catch { /* no storage: memory only */ }
let seek = view.dataset.seek || "0x0";

class Unauthorized extends Error {}

function say(text) { status.textContent = text; }

async function run(command) {
  const headers = { "Content-Type": "text/plain; charset=utf-8" };
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch("/cmd", {
    method: "POST", body: command, headers, cache: "no-store", credentials: "omit",
  });
  const text = await res.text();
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok) throw new Error(res.status + " " + text.trim());
  return text;
}

function askToken() {
  const had = token !== null;
  token = null;
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* memory only */ }
  document.body.dataset.auth = "required";
  tokenForm.hidden = false;
  view.innerHTML = "";
  say(had ? "The token was refused: enter it again." : "This server needs a token.");
  tokenInput.focus();
}

function failed(error) {
  if (error instanceof Unauthorized) return askToken();
  say(error.message);
}

async function show(to) {
  try {
    const out = await run(to === undefined ? "s" : "s " + to + ";s");
    const lines = out.trimEnd().split("\\n");
    const last = lines.pop();
    if (!/^0x[0-9a-f]+$/.test(last)) throw new Error(out.trim());
    seek = last;
    const px = await run("px " + PAGE + " @ " + seek);
    view.innerHTML = pxToHtml(px);
    view.dataset.seek = seek;
    view.setAttribute("aria-label", "Bytes at " + seek + " (PageUp and PageDown move by a block)");
    seekInput.value = seek;
    document.body.dataset.auth = "ok";
    tokenForm.hidden = true;
    say(lines.length > 0 ? lines.join(" ") : "");
  } catch (error) {
    failed(error);
  }
}

function move(delta) {
  let at = BigInt(seek) + delta;
  if (at < 0n) at = 0n;
  return show("0x" + at.toString(16));
}

function print(text) {
  output.textContent += text;
  if (output.textContent.length > 200000) output.textContent = output.textContent.slice(-100000);
  output.scrollTop = output.scrollHeight;
}

$("seek-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const to = seekInput.value.trim();
  if (to !== "") show(to);
});
$("prev").addEventListener("click", () => move(-PAGE));
$("next").addEventListener("click", () => move(PAGE));
view.addEventListener("keydown", (event) => {
  if (event.key === "PageDown") move(PAGE);
  else if (event.key === "PageUp") move(-PAGE);
  else return;
  event.preventDefault();
});

$("cmd-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const command = cmdInput.value;
  if (command.trim() === "") return;
  history.push(command);
  recall = history.length;
  cmdInput.value = "";
  print("> " + command + "\\n");
  try {
    const text = await run(command);
    print(text === "" || text.endsWith("\\n") ? text : text + "\\n");
  } catch (error) {
    if (error instanceof Unauthorized) return askToken();
    print(error.message + "\\n");
  }
  await show(); // the command may have moved the seek or written bytes
});
cmdInput.addEventListener("keydown", (event) => {
  if (event.key === "ArrowUp" && recall > 0) cmdInput.value = history[--recall];
  else if (event.key === "ArrowDown" && recall < history.length) {
    cmdInput.value = history[++recall] ?? "";
  } else return;
  event.preventDefault();
});

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = tokenInput.value.trim();
  if (value === "") return;
  token = value;
  tokenInput.value = "";
  try { sessionStorage.setItem(TOKEN_KEY, value); } catch { /* memory only */ }
  show();
});

if (document.body.dataset.auth === "required") {
  if (token !== null) show();
  else tokenInput.focus();
}
})();
`;
