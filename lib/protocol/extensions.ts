/**
 * The extension negotiation: the probe a client sends as a CMD (`#rap-ext? 1 ...`) and the
 * offer a server answers with (`#rap-ext 1 maxdata=... ops=...`). radare2 treats the probe
 * as a comment and answers an empty string, which parses as "no extensions".
 * See `docs/protocol.md`.
 *
 * @module
 */

import {
  EXT_MAX_DATA_LIMIT,
  EXT_OFFER,
  EXT_PROBE,
  EXT_VERSION,
  RAP_PACKET_MAX,
} from "./constants.ts";

/**
 * The extended operations a server may offer.
 *
 * - `readat`, `writeat`: READ/WRITE with fd and offset in the request (opcodes 0x11, 0x12);
 * - `size`: the size of an fd (0x13);
 * - `error`: failures answered with an error reply (0xff) instead of a closed connection.
 *
 * @example
 * ```ts
 * import { EXT_OPS } from "@rap/cli/protocol";
 * console.assert(EXT_OPS.includes("readat"));
 * ```
 */
export const EXT_OPS: readonly string[] = ["readat", "writeat", "size", "error"];

/**
 * What a client asks for in its probe.
 *
 * @example
 * ```ts
 * import { formatProbe, type ExtensionProbe } from "@rap/cli/protocol";
 * const probe: ExtensionProbe = { version: 1, params: { maxdata: "1048576" } };
 * console.assert(formatProbe(probe) === "#rap-ext? 1 maxdata=1048576");
 * ```
 */
export interface ExtensionProbe {
  /** The highest extension version the client speaks. */
  version: number;
  /**
   * Further `key=value` words. Known keys: `maxdata` (the largest payload the client wants
   * to handle) and `token` (the secret of a server started with `--token-file`). Unknown keys are ignored.
   */
  params: Record<string, string>;
}

/**
 * What a server offers in its answer to the probe.
 *
 * @example
 * ```ts
 * import { formatOffer, type ExtensionOffer } from "@rap/cli/protocol";
 * const offer: ExtensionOffer = { version: 1, maxData: 1 << 20, ops: ["readat"], params: {} };
 * console.assert(formatOffer(offer) === "#rap-ext 1 maxdata=1048576 ops=readat\n");
 * ```
 */
export interface ExtensionOffer {
  /** The extension version the server speaks. */
  version: number;
  /** The largest extended READ/WRITE payload, at least 4096. */
  maxData: number;
  /** The operations offered (see {@linkcode EXT_OPS}); unknown names are kept. */
  ops: string[];
  /** Other `key=value` words, kept for later versions. */
  params: Record<string, string>;
}

const WORD = /^[A-Za-z0-9_.-]+=[\x21-\x7e]*$/;

function parseParams(words: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const word of words) {
    if (!WORD.test(word)) return undefined;
    const eq = word.indexOf("=");
    params[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return params;
}

function formatParams(params: Record<string, string>): string {
  let out = "";
  for (const [key, value] of Object.entries(params)) {
    if (!WORD.test(`${key}=${value}`)) {
      throw new RangeError(`Cannot put "${key}=${value}" in a rap-ext line (no spaces allowed)`);
    }
    out += ` ${key}=${value}`;
  }
  return out;
}

/**
 * The CMD text of a probe.
 *
 * @param probe Version and parameters (default: version {@linkcode EXT_VERSION}, none).
 * @returns The command text, e.g. `#rap-ext? 1`.
 * @throws {RangeError} If a parameter has spaces or control characters.
 *
 * @example
 * ```ts
 * import { formatProbe } from "@rap/cli/protocol";
 * console.assert(formatProbe() === "#rap-ext? 1");
 * ```
 */
export function formatProbe(
  probe: ExtensionProbe = { version: EXT_VERSION, params: {} },
): string {
  return `${EXT_PROBE} ${probe.version}${formatParams(probe.params)}`;
}

/**
 * Recognise a probe in a CMD text.
 *
 * @param command The CMD text.
 * @returns The probe, or `undefined` when the text is not a well-formed probe.
 *
 * @example
 * ```ts
 * import { parseProbe } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseProbe("#rap-ext? 1 token=abc"), { version: 1, params: { token: "abc" } });
 * assert.equal(parseProbe("# a comment"), undefined);
 * ```
 */
export function parseProbe(command: string): ExtensionProbe | undefined {
  const words = command.trim().split(/[ \t]+/);
  if (words[0] !== EXT_PROBE) return undefined;
  const version = words.length > 1 ? Number(words[1]) : EXT_VERSION;
  if (!Number.isInteger(version) || version < 1) return undefined;
  const params = parseParams(words.slice(2));
  return params && { version, params };
}

/**
 * The CMD reply text of an offer (with a trailing newline, like command output).
 *
 * @param offer What the server offers.
 * @returns The reply text, e.g. `#rap-ext 1 maxdata=8388608 ops=readat,writeat,size,error\n`.
 *
 * @example
 * ```ts
 * import { formatOffer, parseOffer } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const offer = { version: 1, maxData: 8 << 20, ops: ["readat", "error"], params: {} };
 * assert.deepEqual(parseOffer(formatOffer(offer)), offer);
 * ```
 */
export function formatOffer(offer: ExtensionOffer): string {
  return `${EXT_OFFER} ${offer.version} maxdata=${offer.maxData} ops=${offer.ops.join(",")}${
    formatParams(offer.params)
  }\n`;
}

/**
 * Read a server's answer to the probe. Anything that is not a well-formed offer (radare2's
 * empty answer, a shell's "unknown command", garbage) means "plain RAP only".
 *
 * @param output The CMD reply text (`null` for a zero-length reply).
 * @returns The offer, or `undefined` for a plain peer. `maxData` is clamped to
 *   4096..{@linkcode EXT_MAX_DATA_LIMIT}.
 *
 * @example
 * ```ts
 * import { parseOffer } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseOffer(""), undefined); // radare2
 * assert.equal(parseOffer("#rap-ext 1 maxdata=65536 ops=readat,size\n")?.maxData, 65536);
 * ```
 */
export function parseOffer(output: string | null): ExtensionOffer | undefined {
  if (output === null) return undefined;
  const words = output.trim().split(/[ \t]+/);
  if (words[0] !== EXT_OFFER || words.length < 2) return undefined;
  const version = Number(words[1]);
  if (!Number.isInteger(version) || version < 1) return undefined;
  const params = parseParams(words.slice(2));
  if (!params) return undefined;
  const { maxdata, ops, ...rest } = params;
  const maxData = Number(maxdata ?? RAP_PACKET_MAX);
  if (!Number.isFinite(maxData)) return undefined;
  return {
    version,
    maxData: Math.min(EXT_MAX_DATA_LIMIT, Math.max(RAP_PACKET_MAX, Math.floor(maxData))),
    ops: ops ? ops.split(",").filter((op) => op !== "") : [],
    params: rest,
  };
}
