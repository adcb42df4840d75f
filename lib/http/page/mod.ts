/**
 * The page of the command endpoint: `GET /` (and `/index.html`) answers the HTML with the
 * first hex view rendered in, `/page.js` and `/page.css` its script and style sheet, all
 * from strings in the package (no files to find, no CDN: it works offline, from JSR and
 * from `deno compile`). On a server with a token the page and its files are served without
 * one, but the page then carries no bytes of the file: it shows the token form.
 *
 * @module
 */

import type { HttpRequest, HttpResponse } from "../exchange.ts";
import type { HttpRequestHead } from "../request.ts";
import { requestPath } from "../_support.ts";
import { viewCommand } from "./hex_view.ts";
import { indexHtml } from "./index_html.ts";
import { PAGE_CSS } from "./page_css.ts";
import { PAGE_SCRIPT } from "./page_js.ts";

/**
 * The page's files: the HTML (`/`, `/index.html`), `/page.js` and `/page.css`.
 *
 * @example
 * ```ts
 * import type { PageFile } from "./mod.ts";
 * const file: PageFile = "index";
 * console.assert(file === "index");
 * ```
 */
export type PageFile = "index" | "script" | "style";

const PATHS: ReadonlyMap<string, PageFile> = new Map([
  ["/", "index"],
  ["/index.html", "index"],
  ["/page.js", "script"],
  ["/page.css", "style"],
]);

/** An address as `s` prints it. */
const SEEK = /^0x[0-9a-f]+$/;

/** What every answer of the page carries: it runs only its own script, talks only to us. */
const HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/**
 * Which file of the page a request asks for, if any (only `GET`).
 *
 * @param head The request head.
 * @returns The file, or `undefined` for any other request.
 *
 * @example
 * ```ts
 * import { pageFile } from "./mod.ts";
 * const head = (target: string) => ({ method: "GET", target, version: "HTTP/1.1" as const, headers: new Map() });
 * console.assert(pageFile(head("/")) === "index");
 * console.assert(pageFile(head("/cmd/px")) === undefined);
 * ```
 */
export function pageFile(head: Pick<HttpRequestHead, "method" | "target">): PageFile | undefined {
  return head.method === "GET" ? PATHS.get(requestPath(head.target)) : undefined;
}

/**
 * Answer a request for a file of the page. The HTML runs two commands with `run` (`s`,
 * then `px` at that seek) to render the first view, unless the request is not authorized:
 * then it answers 401 with the token form and no bytes.
 *
 * @param file The file asked for.
 * @param request The request.
 * @param run Runs a command; `undefined` when it ran out of time.
 * @returns The response.
 *
 * @example
 * ```ts
 * import { pageResponse } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const request = {
 *   method: "GET", target: "/", version: "HTTP/1.1" as const, headers: new Map(),
 *   body: new Uint8Array(0), secure: false,
 *   peer: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 },
 * };
 * const run = (command: string) =>
 *   Promise.resolve(command === "s" ? "0x0\n" : "0x00000000  4142" + " ".repeat(37) + "  AB\n");
 * const page = await pageResponse("index", request, run);
 * assert.equal(page.status, 200);
 * assert.match(String(page.body), /<span class="hex">4142 +<\/span>/);
 * const locked = await pageResponse("index", { ...request, authorized: false }, run);
 * assert.equal(locked.status, 401);
 * assert.doesNotMatch(String(locked.body), /4142/);
 * ```
 */
export async function pageResponse(
  file: PageFile,
  request: HttpRequest,
  run: (command: string) => Promise<string | undefined>,
): Promise<HttpResponse> {
  if (file === "script") {
    return {
      status: 200,
      body: PAGE_SCRIPT,
      contentType: "text/javascript; charset=utf-8",
      headers: { ...HEADERS, "Cache-Control": "no-cache" },
    };
  }
  if (file === "style") {
    return {
      status: 200,
      body: PAGE_CSS,
      contentType: "text/css; charset=utf-8",
      headers: { ...HEADERS, "Cache-Control": "no-cache" },
    };
  }
  const html = { contentType: "text/html; charset=utf-8" };
  if (request.authorized === false) {
    return {
      status: 401,
      body: indexHtml({ authorized: false }),
      ...html,
      headers: {
        ...HEADERS,
        "Cache-Control": "no-store",
        "WWW-Authenticate": 'Bearer realm="rap"',
      },
    };
  }
  const seek = (await run("s"))?.trim();
  const px = seek !== undefined && SEEK.test(seek) ? await run(viewCommand(seek)) : undefined;
  return {
    status: 200,
    body: indexHtml({
      authorized: true,
      seek,
      px,
      status: seek !== undefined && !SEEK.test(seek)
        ? `No view: ${seek}`
        : px === undefined
        ? "The view did not answer in time (--cmd-timeout)."
        : undefined,
    }),
    ...html,
    headers: { ...HEADERS, "Cache-Control": "no-store" },
  };
}
