/**
 * The page's hex view: the output of radare2's `px` as HTML rows, one function that the
 * server runs to render the first view into the page and that the page's script carries
 * (its source is written into `page.js`), so both draw the same rows.
 *
 * @module
 */

/**
 * Bytes the page shows at once, and moves by with its previous/next buttons (16 rows).
 *
 * @example
 * ```ts
 * import { PAGE_BYTES } from "./hex_view.ts";
 * console.assert(PAGE_BYTES === 256);
 * ```
 */
export const PAGE_BYTES = 256;

/**
 * The command that makes the view at `seek` (an address as `s` prints it).
 *
 * @param seek The address.
 * @returns The command, e.g. `px 256 @ 0x100`.
 *
 * @example
 * ```ts
 * import { viewCommand } from "./hex_view.ts";
 * console.assert(viewCommand("0x10") === "px 256 @ 0x10");
 * ```
 */
export function viewCommand(seek: string): string {
  return `px ${PAGE_BYTES} @ ${seek}`;
}

/**
 * Turn `px` output into HTML rows: `<div class="row">` with an offset, a hex and an ASCII
 * `<span>` (the header row also has class `head`), the spaces of radare2's layout kept
 * between them so the text reads (and copies) as `px` prints it. A line that is not a row
 * (an `ERROR: ...` message) becomes a `<div class="msg">`. Everything is HTML-escaped.
 *
 * The function uses nothing outside itself: its source is sent to the browser as part of
 * the page's script, so keep it free of imports and module names.
 *
 * @param px The output of `px`.
 * @returns The HTML.
 *
 * @example
 * ```ts
 * import { pxToHtml } from "./hex_view.ts";
 * import assert from "node:assert/strict";
 *
 * const html = pxToHtml(
 *   "- offset -   0 1  2 3  4 5  6 7  8 9  A B  C D  E F  0123456789ABCDEF\n" +
 *     "0x00000000  3c62 3e26                                <b>&\n",
 * );
 * assert.match(html, /<span class="off">0x00000000<\/span>  <span class="hex">3c62 3e26 +<\/span>/);
 * assert.match(html, /<span class="asc">&lt;b&gt;&amp;<\/span>/);
 * assert.equal(pxToHtml("ERROR: <x>\n"), '<div class="msg">ERROR: &lt;x&gt;</div>');
 * ```
 */
export function pxToHtml(px: string): string {
  const entities: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
  };
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => entities[c]);
  let html = "";
  for (const line of px.split("\n")) {
    if (line === "") continue;
    // A row: the offset (W characters), two spaces, 39 of hex, two spaces, the ASCII
    // column; the header's is always 16 characters, a data row's offset has no spaces.
    const head = line.startsWith("- offset -");
    const width = head ? line.length - 59 : line.indexOf("  ");
    const row = width >= 10 && line.length > width + 43 &&
      (head || /^0x[0-9a-f]+ {2}[0-9a-f ]{39} {2}/.test(line));
    if (!row) {
      html += '<div class="msg">' + escape(line) + "</div>";
      continue;
    }
    html += '<div class="' + (head ? "row head" : "row") + '"><span class="off">' +
      escape(line.slice(0, width)) + '</span>  <span class="hex">' +
      escape(line.slice(width + 2, width + 41)) + '</span>  <span class="asc">' +
      escape(line.slice(width + 43)) + "</span></div>";
  }
  return html;
}
