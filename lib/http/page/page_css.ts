/**
 * The page's style sheet (`/page.css`), as a string: light and dark schemes from the
 * system's, a monospace hex view sized so a row of 16 bytes fits the window, and on a narrow
 * screen (a phone) the ASCII column under the bytes instead of beside them.
 *
 * @module
 */

/**
 * The page's style sheet.
 *
 * @example
 * ```ts
 * import { PAGE_CSS } from "./page_css.ts";
 * console.assert(PAGE_CSS.includes("@media"));
 * ```
 */
export const PAGE_CSS: string = `:root {
  color-scheme: light dark;
  --bg: #fdfdfc; --fg: #1d1d1b; --muted: #5d5d58; --line: #d6d6d0; --card: #f3f3ef;
  --off: #1b6b20; --hex: #6b4e00; --asc: #2e4a8c; --focus: #1a5fb4;
  --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #161614; --fg: #e8e8e3; --muted: #a5a59d; --line: #3a3a36; --card: #20201d;
    --off: #7fd184; --hex: #e3c15f; --asc: #9db8f2; --focus: #78aeed;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header, main { max-width: 64rem; margin: 0 auto; padding: 0.75rem 1rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 1rem; }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
#status { margin: 0; color: var(--muted); min-height: 1.4em; }
section, #token-form {
  background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.75rem; margin-bottom: 1rem;
}
form { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; margin: 0 0 0.5rem; }
#token-form { display: block; }
#token-form[hidden] { display: none; }
#token-form p { margin: 0 0 0.5rem; }
input, button {
  font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 4px; padding: 0.3rem 0.6rem; min-height: 2.4rem;
}
input { font-family: var(--mono); min-width: 0; flex: 1 1 8rem; }
#seek { flex: 0 1 14rem; }
button { cursor: pointer; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 1px; }
.hex-view, #output {
  font-family: var(--mono); white-space: pre; overflow-x: auto; margin: 0;
  font-size: min(15px, calc((100vw - 3.5rem) / 42));
}
.hex-view { min-height: 4em; }
.off { color: var(--off); }
.hex { color: var(--hex); }
.asc { color: var(--asc); }
.head span { color: var(--muted); }
.msg { color: var(--muted); }
#output {
  font-size: 14px; max-height: 40vh; min-height: 4em; overflow-y: auto; white-space: pre-wrap;
  word-break: break-all; border: 1px solid var(--line); border-radius: 4px; padding: 0.4rem;
  background: var(--bg);
}
@media (max-width: 40rem) {
  header, main { padding: 0.5rem; }
  section { padding: 0.5rem; }
  .hex-view { font-size: min(15px, calc((100vw - 2.5rem) / 31)); }
  .asc { display: block; padding-left: 12ch; }
  .row { margin-bottom: 0.2em; }
}
`;
