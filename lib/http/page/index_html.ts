/**
 * The page at `/` (`index.html`), as a template: a header with the status line, the token
 * form, the hex view (the first one drawn by the server) with its paging and seek box, and
 * the command console. Landmarks, labels and a live status line for screen readers; the
 * script and style sheet are `/page.js` and `/page.css`.
 *
 * @module
 */

import { PAGE_BYTES, pxToHtml } from "./hex_view.ts";

/**
 * What the server fills the page with.
 *
 * @example
 * ```ts
 * import type { IndexView } from "./index_html.ts";
 * const locked: IndexView = { authorized: false };
 * console.assert(locked.px === undefined);
 * ```
 */
export interface IndexView {
  /** Whether the request may see the file (false: the token form, and no bytes). */
  authorized: boolean;
  /** The seek, as `s` prints it (e.g. `0x0`). */
  seek?: string;
  /** The output of `px` at the seek (rendered with `pxToHtml`). */
  px?: string;
  /** A line for the status area (e.g. the view timed out). */
  status?: string;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The page's HTML.
 *
 * @param view What to show.
 * @returns The document.
 *
 * @example
 * ```ts
 * import { indexHtml } from "./index_html.ts";
 * import assert from "node:assert/strict";
 *
 * const page = indexHtml({ authorized: true, seek: "0x0", px: "0x00000000  4142" + " ".repeat(37) + "  AB\n" });
 * assert.match(page, /<span class="hex">4142 +<\/span>/);
 * const locked = indexHtml({ authorized: false });
 * assert.match(locked, /<form id="token-form"[^>]*>/);
 * assert.doesNotMatch(locked, /<form id="token-form"[^>]*hidden/);
 * ```
 */
export function indexHtml(view: IndexView): string {
  const seek = view.authorized && view.seek !== undefined && /^0x[0-9a-f]+$/.test(view.seek)
    ? view.seek
    : "0x0";
  const rows = view.authorized && view.px !== undefined ? pxToHtml(view.px) : "";
  const status = view.status ?? (view.authorized ? "" : "This server needs a token.");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rap: hex view</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body data-auth="${view.authorized ? "ok" : "required"}">
<header>
<h1>rap hex view</h1>
<p id="status" role="status" aria-live="polite">${escape(status)}</p>
</header>
<main>
<form id="token-form" aria-labelledby="token-title"${view.authorized ? " hidden" : ""}>
<h2 id="token-title">Token</h2>
<p>This server answers only with its token (the one of <code>--token-file</code>).
It is sent as <code>Authorization: Bearer</code> and kept for this tab only.</p>
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit">Use the token</button>
</form>
<section aria-labelledby="view-title">
<h2 id="view-title">Hex view</h2>
<form id="seek-form" role="search" aria-label="Seek">
<button type="button" id="prev" aria-label="Previous block (${PAGE_BYTES} bytes)">&larr; Prev</button>
<label for="seek">Seek</label>
<input id="seek" name="seek" value="${seek}" autocomplete="off" spellcheck="false" inputmode="text" aria-describedby="seek-help">
<button type="submit">Go</button>
<button type="button" id="next" aria-label="Next block (${PAGE_BYTES} bytes)">Next &rarr;</button>
</form>
<p id="seek-help" hidden>An address or expression, as radare2's s takes it: 0x100, 256, $$+16.</p>
<div id="hex" class="hex-view" tabindex="0" role="region" data-seek="${seek}" aria-label="Bytes at ${seek} (PageUp and PageDown move by a block)">${rows}</div>
</section>
<section aria-labelledby="console-title">
<h2 id="console-title">Console</h2>
<pre id="output" role="log" aria-live="polite" aria-label="Command output" tabindex="0"></pre>
<form id="cmd-form" aria-label="Command">
<label for="cmd">Command</label>
<input id="cmd" name="cmd" autocomplete="off" spellcheck="false" autocapitalize="off" placeholder="px 64, p8 16, s 0x100, ?">
<button type="submit">Run</button>
</form>
</section>
</main>
</body>
</html>
`;
}
