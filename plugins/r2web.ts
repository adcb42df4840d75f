/**
 * `r2web://HOST:PORT/cmd` — a remote radare2 (`r2 -c '=h 9090'`, or this toolkit's own `=h`
 * endpoint) over HTTP, as radare2's `io_r2web` does it. The base URL is
 * `http://HOST:PORT/cmd` (a trailing `/` is dropped):
 *
 * | Operation | Request |
 * |---|---|
 * | open | `GET <base>/?V` (a non-empty answer is required) |
 * | read n bytes at A | `GET <base>/p8%20<n>@0x<A in hex>`, the hex answer decoded |
 * | write at A | `GET <base>/wx%20<hex>@<A in decimal>` (answer ignored) |
 * | `=!cmd` | `GET <base>/<cmd, every byte but [0-9A-Za-z] as %xx>` |
 *
 * The size is unbounded. Differences from radare2: an HTTP error status fails the open,
 * writes are split into requests of at most 8 KiB of data (so request lines stay short), and
 * writes need the descriptor to be opened for writing.
 *
 * @example
 * ```ts
 * import { r2UriEncode, r2webBase } from "./r2web.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(r2webBase("r2web://127.0.0.1:9090/cmd/"), "http://127.0.0.1:9090/cmd");
 * assert.equal(r2UriEncode("p8 4@0x10"), "p8%204%400x10");
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { fetchOrFail, netHost } from "./_http_fetch.ts";

/** The most data bytes sent in one `wx` request. */
export const R2WEB_MAX_WRITE = 8192;

/**
 * The HTTP base URL of an `r2web://` URI: `http://` + the rest, without a trailing `/`.
 *
 * @param uri The `r2web://` URI.
 * @returns The base URL.
 * @throws {IoError} If no host is given or the URL is malformed.
 *
 * @example
 * ```ts
 * import { r2webBase } from "./r2web.ts";
 * console.assert(r2webBase("r2web://localhost:9090/cmd") === "http://localhost:9090/cmd");
 * ```
 */
export function r2webBase(uri: string): string {
  const rest = uri.replace(/^r2web:\/\//i, "").replace(/\/$/, "");
  let url: URL;
  try {
    url = new URL(`http://${rest}`);
  } catch (error) {
    throw new IoError(uri, `Cannot open "${uri}": malformed URI (use r2web://HOST:PORT/cmd)`, {
      cause: error,
    });
  }
  if (rest === "" || url.hostname === "") {
    throw new IoError(uri, `Cannot open "${uri}": missing host (use r2web://HOST:PORT/cmd)`);
  }
  return `http://${rest}`;
}

/**
 * radare2's `r_str_uri_encode`: keep `[0-9A-Za-z]`, turn every other byte (of the UTF-8
 * text) into `%xx` with lower-case hex.
 *
 * @param text The text.
 * @returns The encoded text.
 *
 * @example
 * ```ts
 * import { r2UriEncode } from "./r2web.ts";
 * console.assert(r2UriEncode("?V") === "%3fV");
 * ```
 */
export function r2UriEncode(text: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    const alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    out += alnum ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * radare2's `r_hex_str2bin` as r2web uses it on `p8` answers: hex digits, whitespace, `0x`
 * prefixes and comments are accepted; an odd digit count gets a trailing `0`; any other
 * character makes the whole answer invalid (no bytes).
 *
 * @param text The answer.
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import { decodeR2Hex } from "./r2web.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...decodeR2Hex("7f45 4c\n4")], [0x7f, 0x45, 0x4c, 0x40]);
 * assert.deepEqual([...decodeR2Hex("Invalid command")], []);
 * ```
 */
export function decodeR2Hex(text: string): Uint8Array {
  const stripped = text
    .replace(/\/\*[\s\S]*?(\*\/|$)/g, " ")
    .replace(/(#|\/\/)[^\n]*/g, " ")
    .replace(/0x/g, "");
  if (/[^0-9a-fA-F \t\r\n]/.test(stripped)) return new Uint8Array(0);
  let digits = stripped.replace(/[ \t\r\n]/g, "");
  if (digits.length % 2) digits += "0";
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** `GET url`: its status and body text; a network failure is an IoError about `uri`. */
function get(
  uri: string,
  client: Deno.HttpClient,
  url: string,
  what: string,
): Promise<{ status: number; body: string }> {
  return fetchOrFail(uri, url, {
    client,
    what,
    read: async (response) => ({ status: response.status, body: await response.text() }),
  });
}

/**
 * An open `r2web://` session.
 *
 * @example
 * ```ts
 * import { R2webDescriptor } from "./r2web.ts";
 * console.assert(typeof R2webDescriptor.open === "function");
 * ```
 */
export class R2webDescriptor extends DescriptorBase {
  /** The HTTP base URL, e.g. `http://127.0.0.1:9090/cmd`. */
  readonly base: string;
  /** What the remote answered to `?V` (its version). */
  readonly version: string;
  readonly #client: Deno.HttpClient;

  private constructor(
    uri: string,
    base: string,
    client: Deno.HttpClient,
    version: string,
    writable: boolean,
  ) {
    super(uri, "r2web", writable);
    this.base = base;
    this.#client = client;
    this.version = version;
  }

  /**
   * Open a session: `GET <base>/?V` must answer with a non-empty body.
   *
   * @param uri The `r2web://` URI.
   * @param options How to open it.
   * @returns The descriptor.
   * @throws {IoError} When the remote does not answer.
   */
  static async open(uri: string, options: OpenOptions = {}): Promise<R2webDescriptor> {
    const base = r2webBase(uri);
    const client = Deno.createHttpClient({});
    try {
      const { status, body } = await get(uri, client, `${base}/?V`, "open");
      if (status < 200 || status > 299 || body === "") {
        const why = status < 200 || status > 299 ? `HTTP ${status}` : "empty answer";
        throw new IoError(
          uri,
          `Cannot open "${uri}": ${base}/?V gave ${why} (is it an r2 http server? try r2web://localhost:9090/cmd)`,
        );
      }
      return new R2webDescriptor(uri, base, client, body.trim(), options.write ?? false);
    } catch (error) {
      client.close();
      throw error;
    }
  }

  #request(path: string, what: string): Promise<{ status: number; body: string }> {
    return this.guard(() => get(this.uri, this.#client, `${this.base}/${path}`, what));
  }

  /**
   * The size: unbounded, as in radare2.
   *
   * @returns `Infinity`.
   */
  size(): Promise<number> {
    return Promise.resolve(Infinity);
  }

  /**
   * `p8 <length>@0x<offset>` on the remote.
   *
   * @param offset Where to start.
   * @param length How many bytes.
   * @returns The decoded bytes (at most `length`; empty if the answer is not hex).
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    const { body } = await this.#request(
      `p8%20${length}@0x${offset.toString(16)}`,
      `read 0x${offset.toString(16)} of`,
    );
    const bytes = decodeR2Hex(body);
    return bytes.length > length ? bytes.subarray(0, length) : bytes;
  }

  /**
   * `wx <hex>@<offset>` on the remote; the answer is ignored, as radare2 does.
   *
   * @param offset Where to start.
   * @param data The bytes.
   * @returns `data.length`.
   */
  override async write(offset: number, data: Uint8Array): Promise<number> {
    this.checkWritable();
    for (let pos = 0; pos < data.length; pos += R2WEB_MAX_WRITE) {
      const chunk = data.subarray(pos, pos + R2WEB_MAX_WRITE);
      await this.#request(`wx%20${toHex(chunk)}@${offset + pos}`, "write to");
    }
    return data.length;
  }

  /**
   * Run a command on the remote and return its output.
   *
   * @param command The r2 command.
   * @returns The body of the answer.
   */
  async system(command: string): Promise<string> {
    return (await this.#request(r2UriEncode(command), "run a command on")).body;
  }

  /** Close the HTTP connections. */
  protected override release(): void {
    this.#client.close();
  }
}

/**
 * The `r2web` plugin.
 *
 * @example
 * ```ts
 * import r2web from "./r2web.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(r2web.permissions("r2web://127.0.0.1:9090/cmd", {}), [
 *   { name: "net", host: "127.0.0.1:9090" },
 * ]);
 * ```
 */
const r2web: IoPlugin = definePlugin({
  name: "r2web",
  description: "a remote radare2 over its HTTP command endpoint (r2web://HOST:PORT/cmd)",
  uriForms: ["r2web://HOST:PORT/cmd"],
  capabilities: { write: true, system: true },
  permissions: (uri) => [{ name: "net", host: netHost(new URL(r2webBase(uri))) }],
  open: (uri, options) => R2webDescriptor.open(uri, options),
});

export default r2web;
