/**
 * `http://HOST[:PORT]/PATH` and `https://HOST[:PORT]/PATH` — a remote file, read-only.
 *
 * Opening sends one `GET` with `Range: bytes=0-65535`. A server that supports ranges answers
 * `206` with the total size in `Content-Range`; later reads fetch only the 64 KiB blocks they
 * need with further Range requests, and keep the most recent blocks (64 by default, 4 MiB)
 * so repeated reads do not fetch again. A server without Range support answers `200` with
 * the whole body, which is then kept in memory (up to {@linkcode HTTP_MAX_BODY}, claimed from
 * the open's memory budget as it arrives) and served from there. Redirects are
 * followed. Unlike radare2 (which keeps the body of any status code and lets writes change
 * the in-RAM copy), an error status fails the open and writes are refused.
 *
 * @example
 * ```ts
 * import http from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(http.permissions("https://example.com/x.bin", {}), [
 *   { name: "net", host: "example.com:443" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin, MemoryAllowance, OpenOptions } from "../lib/io/types.ts";
import { BlockCache } from "../lib/client/block_cache.ts";
import { readBounded } from "./_bounded_read.ts";
import { fetchOrFail, netHost } from "./_http_fetch.ts";

/** Bytes per cached block (and the size of the probe at open). */
export const HTTP_BLOCK_SIZE = 64 * 1024;
/** Blocks kept per descriptor. */
export const HTTP_CACHE_BLOCKS = 64;
/** The largest body kept whole in RAM (a server without Range support): 1 GiB. */
export const HTTP_MAX_BODY = 1024 ** 3;

/** Read a response body of at most `max` bytes, claiming it from `memory` as it arrives. */
function readBody(
  uri: string,
  response: Response,
  max: number,
  memory?: MemoryAllowance,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new IoError(uri, `Cannot open "${uri}": the server sent more than ${max} bytes`);
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (length > max) {
    return response.body!.cancel().then(() => Promise.reject(tooLarge()));
  }
  if (!response.body) return Promise.resolve(new Uint8Array(0));
  return readBounded(response.body, { max, tooLarge, memory, what: "the body" });
}

function parseHttpUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (error) {
    throw new IoError(uri, `Cannot open "${uri}": malformed URL`, { cause: error });
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new IoError(uri, `Cannot open "${uri}": expected http://HOST/PATH or https://HOST/PATH`);
  }
  return url;
}

/** Parse `bytes START-END/TOTAL` (TOTAL may be `*`) or `bytes * /TOTAL`. */
function parseContentRange(value: string | null): { start: number; total: number } | undefined {
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(value?.trim() ?? "");
  if (!m) return undefined;
  return {
    start: m[1] === undefined ? -1 : Number(m[1]),
    total: m[2] === "*" ? NaN : Number(m[2]),
  };
}

/**
 * An open `http://` or `https://` resource.
 *
 * @example
 * ```ts
 * import { HttpDescriptor } from "./http.ts";
 * console.assert(typeof HttpDescriptor.open === "function");
 * ```
 */
export class HttpDescriptor extends DescriptorBase {
  /** Whether the server supports Range requests (else the whole body is in memory). */
  readonly ranges: boolean;
  readonly #url: URL;
  readonly #client: Deno.HttpClient;
  readonly #size: number;
  #whole: Uint8Array | undefined;
  readonly #cache: BlockCache | undefined;
  /** The largest whole body a server that stops honouring ranges may send later. */
  #maxWhole = HTTP_MAX_BODY;

  private constructor(
    uri: string,
    url: URL,
    client: Deno.HttpClient,
    size: number,
    whole: Uint8Array | undefined,
  ) {
    super(uri, "http", false);
    this.#url = url;
    this.#client = client;
    this.#size = size;
    this.#whole = whole;
    this.ranges = whole === undefined;
    if (!whole) {
      this.#cache = new BlockCache({
        blockSize: HTTP_BLOCK_SIZE,
        maxBlocks: HTTP_CACHE_BLOCKS,
        size,
        fetch: (start, end) => this.#fetchRange(start, end),
      });
    }
  }

  /**
   * Open `uri`: probe with a ranged GET to learn the size and whether ranges work.
   *
   * @param uri The URL.
   * @param options The open's memory budget: a whole body (no Range support) is claimed
   * from it as it arrives, and cut off past what is left.
   * @returns The descriptor.
   * @throws {IoError} For an error status, an empty body, a body over the budget or
   * {@linkcode HTTP_MAX_BODY}, or a network failure.
   */
  static async open(uri: string, options: OpenOptions = {}): Promise<HttpDescriptor> {
    const url = parseHttpUri(uri);
    const client = Deno.createHttpClient({});
    try {
      const response = await HttpDescriptor.#get(
        uri,
        url,
        client,
        `bytes=0-${HTTP_BLOCK_SIZE - 1}`,
      );
      const fail = (reason: string): never => {
        throw new IoError(uri, `Cannot open "${uri}": ${reason}`);
      };
      if (response.status === 206) {
        const range = parseContentRange(response.headers.get("content-range"));
        const body = await readBody(uri, response, HTTP_BLOCK_SIZE);
        if (range && range.start === 0 && Number.isSafeInteger(range.total)) {
          if (range.total === 0) fail("empty body");
          const desc = new HttpDescriptor(uri, url, client, range.total, undefined);
          desc.#maxWhole = Math.min(HTTP_MAX_BODY, options.memoryBudget?.remaining ?? Infinity);
          desc.#cache!.seed(0, body.subarray(0, Math.min(body.length, range.total)));
          return desc;
        }
        // A range answer without a usable total size: fetch everything once.
        const whole = await HttpDescriptor.#get(uri, url, client);
        if (!whole.ok) {
          await whole.body?.cancel();
          fail(`HTTP ${whole.status} ${whole.statusText}`.trim());
        }
        return await HttpDescriptor.#wholeBody(uri, url, client, whole, options);
      }
      if (response.status === 416) {
        await response.body?.cancel();
        const range = parseContentRange(response.headers.get("content-range"));
        if (range?.total === 0) fail("empty body");
        const whole = await HttpDescriptor.#get(uri, url, client);
        return await HttpDescriptor.#wholeBody(uri, url, client, whole, options);
      }
      return await HttpDescriptor.#wholeBody(uri, url, client, response, options);
    } catch (error) {
      client.close();
      throw error;
    }
  }

  static async #wholeBody(
    uri: string,
    url: URL,
    client: Deno.HttpClient,
    response: Response,
    options: OpenOptions,
  ): Promise<HttpDescriptor> {
    if (!response.ok) {
      await response.body?.cancel();
      throw new IoError(
        uri,
        `Cannot open "${uri}": HTTP ${response.status} ${response.statusText}`.trim(),
      );
    }
    const body = await readBody(uri, response, HTTP_MAX_BODY, options.memoryBudget);
    if (body.length === 0) throw new IoError(uri, `Cannot open "${uri}": empty body`);
    return new HttpDescriptor(uri, url, client, body.length, body);
  }

  static #get(uri: string, url: URL, client: Deno.HttpClient, range?: string): Promise<Response> {
    return fetchOrFail(uri, url, { client, what: "open", range });
  }

  /** Fetch `[start, end)` with a Range request (the block cache's source). */
  async #fetchRange(start: number, end: number): Promise<Uint8Array> {
    const response = await fetchOrFail(this.uri, this.#url, {
      client: this.#client,
      what: "read",
      at: start,
      range: `bytes=${start}-${end - 1}`,
    });
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      const body = await readBody(this.uri, response, end - start);
      if (range && range.start !== start) {
        throw new IoError(this.uri, `Cannot read "${this.uri}": the server sent the wrong range`);
      }
      return body;
    }
    if (response.status === 200) {
      // The server stopped honouring ranges: keep the whole body from now on.
      this.#whole = await readBody(this.uri, response, this.#maxWhole);
      return this.#whole.slice(start, end);
    }
    await response.body?.cancel();
    throw new IoError(
      this.uri,
      `Cannot read "${this.uri}" at 0x${
        start.toString(16)
      }: HTTP ${response.status} ${response.statusText}`
        .trim(),
    );
  }

  /**
   * The size of the resource.
   *
   * @returns The size in bytes.
   */
  size(): Promise<number> {
    return Promise.resolve(this.#size);
  }

  /**
   * Read from the cache, fetching missing blocks.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes, short at the end of the resource.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.guard(() =>
      this.#whole
        ? DescriptorBase.slice(this.#whole, offset, length)
        : this.#cache!.read(offset, length)
    );
  }

  /**
   * The RAM the descriptor may hold: the whole body (without Range support), or what the
   * block cache holds when full (it fills as reads go, after the open was counted).
   *
   * @returns Bytes.
   */
  memoryUsage(): number {
    const cacheMax = Math.min(this.#size, HTTP_BLOCK_SIZE * HTTP_CACHE_BLOCKS);
    return (this.#whole?.length ?? 0) +
      (this.#cache ? Math.max(cacheMax, this.#cache.cachedBytes) : 0);
  }

  /** Drop the cache and close the connections. */
  protected override release(): void {
    this.#cache?.clear();
    this.#whole = undefined;
    this.#client.close();
  }
}

/**
 * The `http` plugin (schemes `http` and `https`).
 *
 * @example
 * ```ts
 * import http from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => http.permissions("http://", {}), /Cannot open/);
 * ```
 */
const http: IoPlugin = definePlugin({
  name: "http",
  description: "a remote file over HTTP(S), read with cached Range requests (read-only)",
  schemes: ["http", "https"],
  uriForms: ["http://HOST[:PORT]/PATH", "https://HOST[:PORT]/PATH"],
  permissions: (uri) => [{ name: "net", host: netHost(parseHttpUri(uri)) }],
  open: (uri, options) => HttpDescriptor.open(uri, options),
});

export default http;
