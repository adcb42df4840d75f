/**
 * The HTTP/1.x request head, parsed the way radare2's `=h` reads it: the request target is
 * everything between the method and the last ` HTTP/1.x` of the request line, so the raw
 * spaces radare2's own clients send (`GET /cmd/p8 4 HTTP/1.1`) are part of it. No Host
 * header is needed, and `%XX` escapes are left for the routes to decode.
 *
 * Pure functions over bytes: no sockets.
 *
 * @module
 */

/**
 * A request that cannot be served, with the status to answer before closing.
 *
 * @example
 * ```ts
 * import { HttpRequestError } from "./request.ts";
 * const error = new HttpRequestError(431, "Request header fields too large");
 * console.assert(error.status === 431);
 * ```
 */
export class HttpRequestError extends Error {
  /** The HTTP status to answer (400, 408, 413, 431, 501, 505). */
  readonly status: number;

  /**
   * Create it.
   *
   * @param status The HTTP status.
   * @param message What was wrong (logged and sent as the body).
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpRequestError";
    this.status = status;
  }
}

/**
 * The parsed head of one request.
 *
 * @example
 * ```ts
 * import type { HttpRequestHead } from "./request.ts";
 * const head: HttpRequestHead = {
 *   method: "GET", target: "/cmd/p8 4", version: "HTTP/1.1", headers: new Map(),
 * };
 * console.assert(head.target.includes(" "));
 * ```
 */
export interface HttpRequestHead {
  /** The method, as sent (`GET`, `POST`, `OPTIONS` ...). */
  method: string;
  /** The request target as sent (UTF-8), escapes not decoded, spaces kept. */
  target: string;
  /** The protocol version. */
  version: "HTTP/1.0" | "HTTP/1.1";
  /** The header fields, names in lower case; repeated fields joined with `, `. */
  headers: Map<string, string>;
}

/** How a request's body is framed. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

const utf8 = new TextDecoder();
const latin1 = new TextDecoder("latin1");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION = / HTTP\/(\d)\.(\d)$/;

/**
 * Where the head ends in `buf[0, length)`: the index just past the empty line (`\r\n\r\n`
 * or a bare `\n\n`), or -1 if it has not arrived yet. Empty lines before the request line
 * are skipped (RFC 9112 2.2), so a head is never just empty lines.
 *
 * @param buf The bytes received.
 * @param length How many of them are valid.
 * @returns The end of the head, or -1.
 *
 * @example
 * ```ts
 * import { findHeadEnd } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\nrest");
 * assert.equal(findHeadEnd(bytes, bytes.length), 18);
 * assert.equal(findHeadEnd(bytes, 17), -1);
 * ```
 */
export function findHeadEnd(buf: Uint8Array, length: number): number {
  let i = 0;
  // Skip leading empty lines (RFC 9112 2.2: a server SHOULD ignore them).
  while (i < length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  for (; i < length; i++) {
    if (buf[i] !== 0x0a) continue;
    // "\n\n" or "\n\r\n" ends the head.
    if (i + 1 < length && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < length && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/** Split `bytes` into lines ending in `\n` (with an optional `\r` before it). */
function lines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    const end = i > start && bytes[i - 1] === 0x0d ? i - 1 : i;
    out.push(bytes.subarray(start, end));
    start = i + 1;
  }
  if (start < bytes.length) out.push(bytes.subarray(start));
  return out;
}

/** Whether `line` holds a byte no request line or field may hold (NUL, a stray CR). */
function hasBadByte(line: Uint8Array): boolean {
  for (const b of line) if (b === 0x00 || b === 0x0d) return true;
  return false;
}

/**
 * Parse a request head (from {@linkcode findHeadEnd}): the request line and the header
 * fields. The target is what lies between the first space after the method and the last
 * ` HTTP/1.x`, so raw spaces in it are kept, as radare2's `=h` does.
 *
 * @param head The head's bytes, up to and including the empty line.
 * @returns The parsed head.
 * @throws {HttpRequestError} 400 for a malformed line or field, 505 for a version other
 *   than HTTP/1.0 and HTTP/1.1.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const head = parseRequestHead(
 *   new TextEncoder().encode("GET /cmd/p8 4 @ 0x10 HTTP/1.1\r\nUser-Agent: radare2\r\n\r\n"),
 * );
 * assert.equal(head.method, "GET");
 * assert.equal(head.target, "/cmd/p8 4 @ 0x10");
 * assert.equal(head.version, "HTTP/1.1");
 * assert.equal(head.headers.get("user-agent"), "radare2");
 * ```
 */
export function parseRequestHead(head: Uint8Array): HttpRequestHead {
  let at = 0;
  while (at < head.length && (head[at] === 0x0d || head[at] === 0x0a)) at++;
  const all = lines(head.subarray(at));
  while (all.length > 0 && all[all.length - 1].length === 0) all.pop();
  const [requestLine, ...fields] = all;
  if (requestLine === undefined || hasBadByte(requestLine)) {
    throw new HttpRequestError(400, "Malformed request line");
  }
  const text = utf8.decode(requestLine);
  const space = text.indexOf(" ");
  const version = VERSION.exec(text);
  if (space <= 0 || !TOKEN.test(text.slice(0, space))) {
    throw new HttpRequestError(400, "Malformed request line");
  }
  if (!version) {
    if (/ HTTP\/\d+(\.\d+)?$/.test(text)) {
      throw new HttpRequestError(505, "Only HTTP/1.0 and HTTP/1.1 are supported");
    }
    throw new HttpRequestError(400, "Malformed request line (no HTTP/1.x version)");
  }
  if (version[1] !== "1" || (version[2] !== "0" && version[2] !== "1")) {
    throw new HttpRequestError(505, "Only HTTP/1.0 and HTTP/1.1 are supported");
  }
  const target = text.slice(space + 1, version.index).replace(/^ +| +$/g, "");
  if (target === "") throw new HttpRequestError(400, "Malformed request line (no target)");
  const headers = new Map<string, string>();
  for (const field of fields) {
    if (hasBadByte(field)) throw new HttpRequestError(400, "Malformed header field");
    if (field[0] === 0x20 || field[0] === 0x09) {
      throw new HttpRequestError(400, "Folded header fields are not accepted");
    }
    const line = latin1.decode(field);
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new HttpRequestError(400, "Malformed header field");
    }
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  return {
    method: text.slice(0, space),
    target,
    version: version[2] === "0" ? "HTTP/1.0" : "HTTP/1.1",
    headers,
  };
}

/**
 * How the body of a request is framed: by `Content-Length`, `chunked`, or not at all.
 *
 * @param head The parsed head.
 * @returns The framing.
 * @throws {HttpRequestError} 400 for a bad or ambiguous length (both `Content-Length` and
 *   `Transfer-Encoding`, or lengths that differ), 501 for a transfer coding other than
 *   `chunked`.
 *
 * @example
 * ```ts
 * import { bodyFraming, parseRequestHead } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const head = (text: string) => parseRequestHead(new TextEncoder().encode(text));
 * assert.deepEqual(bodyFraming(head("POST /cmd HTTP/1.0\r\nContent-Length: 4\r\n\r\n")), {
 *   kind: "length", length: 4,
 * });
 * assert.deepEqual(bodyFraming(head("GET /cmd/x HTTP/1.1\r\n\r\n")), { kind: "none" });
 * assert.throws(
 *   () => bodyFraming(head("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")),
 *   /Content-Length/,
 * );
 * ```
 */
export function bodyFraming(head: HttpRequestHead): BodyFraming {
  const coding = head.headers.get("transfer-encoding");
  const length = head.headers.get("content-length");
  if (coding !== undefined) {
    if (length !== undefined) {
      throw new HttpRequestError(400, "Both Content-Length and Transfer-Encoding were sent");
    }
    const codings = coding.toLowerCase().split(",").map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HttpRequestError(501, `Transfer-Encoding "${coding}" is not supported`);
    }
    if (head.version === "HTTP/1.0") {
      throw new HttpRequestError(400, "Transfer-Encoding is not allowed in HTTP/1.0");
    }
    return { kind: "chunked" };
  }
  if (length === undefined) return { kind: "none" };
  const values = new Set(length.split(",").map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
    throw new HttpRequestError(400, `Invalid Content-Length "${length}"`);
  }
  const n = Number(only);
  return n === 0 ? { kind: "none" } : { kind: "length", length: n };
}

/**
 * Whether the connection may stay open after the reply: only when the client asked for it
 * with `Connection: keep-alive` (and did not also say `close`). radare2's clients send no
 * `Connection` field and read the reply until the connection closes, so they get
 * `Connection: close`, as from radare2's `=h`.
 *
 * @param head The parsed head.
 * @returns True to keep the connection.
 *
 * @example
 * ```ts
 * import { wantsKeepAlive, parseRequestHead } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const head = (text: string) => parseRequestHead(new TextEncoder().encode(text));
 * assert.equal(wantsKeepAlive(head("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n")), true);
 * assert.equal(wantsKeepAlive(head("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), false);
 * ```
 */
export function wantsKeepAlive(head: HttpRequestHead): boolean {
  const tokens = (head.headers.get("connection") ?? "").toLowerCase().split(",").map((t) =>
    t.trim()
  );
  return tokens.includes("keep-alive") && !tokens.includes("close");
}

/**
 * Parse a chunk-size line of a chunked body (`1a;ext=1`).
 *
 * @param line The line, without its line end.
 * @returns The chunk size.
 * @throws {HttpRequestError} 400 if it is not a hexadecimal size.
 *
 * @example
 * ```ts
 * import { parseChunkSize } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseChunkSize(new TextEncoder().encode("1A;name=value")), 26);
 * assert.throws(() => parseChunkSize(new TextEncoder().encode("zz")), /chunk size/);
 * ```
 */
export function parseChunkSize(line: Uint8Array): number {
  const text = latin1.decode(line);
  const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(text);
  if (!m) throw new HttpRequestError(400, "Invalid chunk size line");
  return parseInt(m[1], 16);
}
