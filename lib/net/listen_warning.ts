/**
 * The warning a server prints when it listens beyond this host without TLS.
 *
 * @module
 */

/**
 * Whether a listening address is reachable only from this host (`127.0.0.0/8`, `::1`,
 * `localhost`).
 *
 * @param hostname The bound address.
 * @returns True for a loopback address.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./listen_warning.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isLoopback("127.0.0.1") && isLoopback("[::1]") && isLoopback("localhost"));
 * assert.ok(!isLoopback("0.0.0.0") && !isLoopback("::") && !isLoopback("192.168.1.2"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\./.test(bare) ||
    /^::ffff:127\./.test(bare);
}

/**
 * The warning for a server listening on `address`, or `undefined` when it needs none
 * (loopback, or TLS).
 *
 * @param address `host:port` as shown in the log.
 * @param hostname The bound host.
 * @param options Whether TLS is on and whether a token is required.
 * @returns The log line.
 *
 * @example
 * ```ts
 * import { listenWarning } from "./listen_warning.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(listenWarning("0.0.0.0:9999", "0.0.0.0", { tls: false, token: true })!, /without TLS.*token/);
 * assert.equal(listenWarning("0.0.0.0:9999", "0.0.0.0", { tls: true, token: false }), undefined);
 * assert.equal(listenWarning("127.0.0.1:9999", "127.0.0.1", { tls: false, token: false }), undefined);
 * ```
 */
export function listenWarning(
  address: string,
  hostname: string,
  options: { tls: boolean; token: boolean },
): string | undefined {
  if (options.tls || isLoopback(hostname)) return undefined;
  return `[rap] warning: listening on ${address} without TLS: requests, data` +
    `${options.token ? " and the token" : ""} cross the network in clear ` +
    `(serve raps:// with --cert/--key; restrict clients with --allow-from and --token-file)`;
}
