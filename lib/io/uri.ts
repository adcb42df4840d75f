/**
 * URI helpers shared by the plugins: scheme splitting and radare2 numbers.
 *
 * @module
 */

import { IoError } from "./errors.ts";

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Split a URI into its scheme and the rest. A string without `://` has no scheme (it is a
 * local path, radare2's default plugin).
 *
 * @param uri The URI.
 * @returns `{ scheme, rest }`, with `scheme` lower-cased, or `undefined` for a plain path.
 * @throws {IoError} If the URI has a `://` that does not follow a valid scheme.
 *
 * @example
 * ```ts
 * import { splitUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitUri("zip:///tmp/a.zip//x.dex"), { scheme: "zip", rest: "/tmp/a.zip//x.dex" });
 * assert.equal(splitUri("/bin/ls"), undefined);
 * ```
 */
export function splitUri(uri: string): { scheme: string; rest: string } | undefined {
  const match = SCHEME.exec(uri);
  if (match) return { scheme: match[1].toLowerCase(), rest: uri.slice(match[0].length) };
  if (uri.includes("://")) {
    throw new IoError(uri, `Cannot open "${uri}": malformed URI (expected SCHEME://...)`);
  }
  return undefined;
}

/**
 * The part of `uri` after `scheme://`, checked to be non-empty.
 *
 * @param uri The URI.
 * @param what What the rest should be, for the error (e.g. "a path").
 * @returns The rest of the URI.
 * @throws {IoError} If it is empty.
 *
 * @example
 * ```ts
 * import { uriRest } from "@rap/cli";
 * console.assert(uriRest("gzip:///tmp/x.gz", "a path") === "/tmp/x.gz");
 * ```
 */
export function uriRest(uri: string, what: string): string {
  const rest = splitUri(uri)?.rest ?? uri;
  if (rest === "") throw new IoError(uri, `Cannot open "${uri}": missing ${what}`);
  return rest;
}

const UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Parse a radare2-style number: decimal, `0x` hex, `0b`/`0o`, a `K`/`M`/`G` suffix, and
 * `+ - * /` between terms (left to right, `*` and `/` first).
 *
 * @param text The expression.
 * @returns Its value.
 * @throws {SyntaxError} If the text is not a number expression.
 *
 * @example
 * ```ts
 * import { parseNumber } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseNumber("0x1000"), 4096);
 * assert.equal(parseNumber("4K"), 4096);
 * assert.equal(parseNumber("0x10+4*2"), 24);
 * ```
 */
export function parseNumber(text: string): number {
  const tokens = text.replace(/\s+/g, "").match(/[+\-*/]|[^+\-*/]+/g);
  if (!tokens || tokens.length === 0) throw new SyntaxError(`Invalid number "${text}"`);
  const term = (t: string | undefined): number => {
    const m = t === undefined ? null : /^(0x[0-9a-f]+|0b[01]+|0o[0-7]+|\d+)([KMG])?$/i.exec(t);
    if (!m) throw new SyntaxError(`Invalid number "${text}"`);
    return Number(m[1].toLowerCase()) * (m[2] ? UNITS[m[2].toUpperCase()] : 1);
  };
  // Products first, then sums.
  const sums: number[] = [];
  const signs: string[] = [];
  let i = 0;
  let sign = "+";
  if (tokens[0] === "-" || tokens[0] === "+") sign = tokens[i++];
  while (i < tokens.length) {
    let value = term(tokens[i++]);
    while (tokens[i] === "*" || tokens[i] === "/") {
      const op = tokens[i++];
      const rhs = term(tokens[i++]);
      value = op === "*" ? value * rhs : Math.trunc(value / rhs);
    }
    sums.push(value);
    signs.push(sign);
    if (i < tokens.length) {
      sign = tokens[i++];
      if (sign !== "+" && sign !== "-") throw new SyntaxError(`Invalid number "${text}"`);
      if (i >= tokens.length) throw new SyntaxError(`Invalid number "${text}"`);
    }
  }
  return sums.reduce((acc, v, k) => (signs[k] === "-" ? acc - v : acc + v), 0);
}

/**
 * Parse the size of a `SCHEME://SIZE` URI (malloc, null, sparse ...): a radare2 number of
 * at least 1.
 *
 * @param uri The whole URI.
 * @param max The largest size accepted.
 * @returns The size.
 * @throws {IoError} If the size is missing, not a number, below 1 or over `max`.
 *
 * @example
 * ```ts
 * import { parseSizeUri } from "@rap/cli";
 * console.assert(parseSizeUri("malloc://0x200") === 512);
 * ```
 */
export function parseSizeUri(uri: string, max = 2 ** 31 - 1): number {
  const rest = uriRest(uri, "a size");
  let size: number;
  try {
    size = parseNumber(rest);
  } catch {
    throw new IoError(uri, `Cannot open "${uri}": invalid size "${rest}"`);
  }
  if (!Number.isSafeInteger(size) || size < 1 || size > max) {
    throw new IoError(uri, `Cannot open "${uri}": size must be 1 to ${max} bytes, got ${rest}`);
  }
  return size;
}
