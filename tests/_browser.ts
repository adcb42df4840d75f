/**
 * A real browser for the page's tests: Debian's `chromium` driven by `playwright-core`
 * from npm (pinned), headless, with a fresh profile in a temp dir and the flags that keep
 * it off the network (this machine's network is closed; only 127.0.0.1 is used).
 *
 * {@linkcode BROWSER_SKIP} says why the tests cannot run (no chromium, or playwright-core
 * cannot be loaded, e.g. no npm registry and no cache): they skip, and that one line is
 * printed. {@linkcode CHROMIUM_SKIP} is for what needs only chromium (`--dump-dom`).
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- a test-only tool, pinned here rather than in deno.json
import type { BrowserContext } from "npm:playwright-core@1.64.1";

/** Debian's chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** The flags of every launch (besides headless and the fresh profile). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

type Playwright = typeof import("npm:playwright-core@1.64.1");

let playwright: Playwright | undefined;
let loadError: string | undefined;
try {
  // deno-lint-ignore no-import-prefix -- as above
  playwright = await import("npm:playwright-core@1.64.1");
} catch (error) {
  loadError = (error as Error).message.split("\n")[0];
}

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Why `chromium --dump-dom` cannot run here, or `undefined` when it can. */
export const CHROMIUM_SKIP: string | undefined = hasChromium()
  ? undefined
  : `browser tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`;

/** Why the playwright tests cannot run here, or `undefined` when they can. */
export const BROWSER_SKIP: string | undefined = CHROMIUM_SKIP ??
  (playwright === undefined
    ? `browser tests skipped: npm:playwright-core@1.64.1 cannot be loaded (${loadError})`
    : undefined);

if (BROWSER_SKIP !== undefined) console.log(BROWSER_SKIP);

/** A launched browser: its context, and `close()` (which also removes the profile). */
export interface Browser extends AsyncDisposable {
  /** The persistent context on the fresh profile. */
  context: BrowserContext;
}

/**
 * Launch headless chromium on a fresh profile.
 *
 * @param viewport The window size (default 900×700).
 * @returns The browser.
 */
export async function launchBrowser(
  viewport: { width: number; height: number } = { width: 900, height: 700 },
): Promise<Browser> {
  if (playwright === undefined) throw new Error(BROWSER_SKIP);
  const profile = await Deno.makeTempDir({ prefix: "rap_chromium_" });
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport,
  });
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * `chromium --headless --dump-dom URL`: the DOM after the page's scripts ran, as text.
 *
 * @param url The page.
 * @returns The serialized DOM.
 */
export async function dumpDom(url: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "rap_chromium_" });
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: ["--headless", ...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--dump-dom", url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`chromium --dump-dom failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
