/**
 * What the plugins that speak HTTP (`http://`, `r2web://`) share: the host a URL needs net
 * access to, and a `fetch` whose network failure is an {@linkcode IoError} with a short
 * reason.
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";

/**
 * The `HOST:PORT` a URL connects to (port 443 for `https:`, else 80, when not given).
 *
 * @param url The URL.
 * @returns The host and port, as `--allow-net` takes them.
 *
 * @example
 * ```ts
 * import { netHost } from "./_http_fetch.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(netHost(new URL("https://example.com/x")), "example.com:443");
 * assert.equal(netHost(new URL("http://[::1]:9090/cmd")), "[::1]:9090");
 * ```
 */
export function netHost(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** Explain a fetch failure in one phrase (fetch puts the detail in `cause`). */
function networkReason(error: unknown, url: URL): string {
  const texts: string[] = [];
  for (let e = error; e !== undefined && e !== null && texts.length < 4;) {
    texts.push(String((e as Error).message ?? e));
    e = (e as Error).cause;
  }
  const all = texts.join(" | ");
  if (/refused/i.test(all)) return `connection refused by ${netHost(url)}`;
  if (/dns error|lookup|name or service/i.test(all)) return `cannot resolve "${url.hostname}"`;
  return texts.at(-1) ?? "network error";
}

/**
 * How {@linkcode fetchOrFail} fetches, and what it says when it cannot.
 *
 * @example
 * ```ts
 * import type { FetchOptions } from "./_http_fetch.ts";
 * const options: FetchOptions<Response> = { client: Deno.createHttpClient({}), what: "open" };
 * options.client.close();
 * console.assert(options.what === "open");
 * ```
 */
export interface FetchOptions<T> {
  /** The HTTP client (its connections are the descriptor's). */
  client: Deno.HttpClient;
  /** The operation, for the message: `Cannot WHAT "URI"` (e.g. `open`, `write to`). */
  what: string;
  /** Where the operation reads, for the message (`... at 0xAT`). */
  at?: number;
  /** A `Range` header value, e.g. `bytes=0-65535`. */
  range?: string;
  /** Read the response (inside the same error handling); default: the response itself. */
  read?: (response: Response) => Promise<T>;
}

/**
 * `GET url` without content encoding; a network failure becomes an {@linkcode IoError}
 * about `uri` (`Cannot open "URI": connection refused by HOST:PORT`). Deno's capability
 * refusal passes through, for the registry to name the flag.
 *
 * @param uri The URI being opened or read.
 * @param url The URL to get.
 * @param options See {@linkcode FetchOptions}.
 * @returns The response, or what `options.read` made of it.
 * @throws {IoError} When the request fails.
 *
 * @example
 * ```ts
 * import { fetchOrFail } from "./_http_fetch.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close(); // nothing listens there now
 * using client = Deno.createHttpClient({});
 * await assert.rejects(
 *   fetchOrFail("r2web://x", `http://127.0.0.1:${port}/`, { client, what: "open" }),
 *   new RegExp(`Cannot open "r2web://x": connection refused by 127.0.0.1:${port}`),
 * );
 * ```
 */
export async function fetchOrFail<T = Response>(
  uri: string,
  url: string | URL,
  options: FetchOptions<T>,
): Promise<T> {
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (options.range) headers.range = options.range;
  try {
    const response = await fetch(url, { headers, client: options.client });
    return options.read ? await options.read(response) : response as T;
  } catch (error) {
    if (error instanceof IoError || error instanceof Deno.errors.NotCapable) throw error;
    const at = options.at === undefined ? "" : ` at 0x${options.at.toString(16)}`;
    throw new IoError(
      uri,
      `Cannot ${options.what} "${uri}"${at}: ${networkReason(error, new URL(url))}`,
      { cause: error },
    );
  }
}
