/**
 * The addresses the `=` commands take: `=+ [proto://]host:port[/file]` targets and the
 * `[host:]port` of `=t` and `=r`.
 *
 * @module
 */

/**
 * A protocol of the host table.
 *
 * @example
 * ```ts
 * import type { RemoteProtocol } from "@rap/cli/shell";
 * const proto: RemoteProtocol = "rap";
 * console.assert(proto === "rap");
 * ```
 */
export type RemoteProtocol = "rap" | "raps" | "tcp" | "udp" | "http";

/**
 * The parts of a `=+` target.
 *
 * @example
 * ```ts
 * import { parseRemoteTarget, type RemoteTarget } from "@rap/cli/shell";
 * const target: RemoteTarget = parseRemoteTarget("rap://127.0.0.1:9999//bin/ls");
 * console.assert(target.file === "/bin/ls");
 * ```
 */
export interface RemoteTarget {
  /** The protocol (default `rap`). */
  proto: RemoteProtocol;
  /** Host name. */
  host: string;
  /** Port. */
  port: number;
  /** What follows the first `/` after the port (for `rap`, the file to OPEN). */
  file: string;
}

/**
 * Parse the argument of `=+`: `[proto://]host:port[/file]`, as radare2 does (the file is
 * what follows the first `/` after the port, so `//bin/ls` is `/bin/ls`). Unlike
 * radare2, `raps://` is recognised (help), a missing port is an error (radare2 silently
 * uses 80) except for `http://`, and an unknown scheme is an error instead of `rap`.
 *
 * @param text The target.
 * @returns Its parts.
 * @throws {SyntaxError} If it cannot be parsed.
 *
 * @example
 * ```ts
 * import { parseRemoteTarget } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRemoteTarget("127.0.0.1:9999"), {
 *   proto: "rap", host: "127.0.0.1", port: 9999, file: "",
 * });
 * assert.deepEqual(parseRemoteTarget("http://localhost:9090/cmd/"), {
 *   proto: "http", host: "localhost", port: 9090, file: "cmd/",
 * });
 * ```
 */
export function parseRemoteTarget(text: string): RemoteTarget {
  let rest = text.trim();
  let proto: RemoteProtocol = "rap";
  const scheme = /^([a-z0-9]+):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name === "r2p") proto = "rap";
    else if (["rap", "raps", "tcp", "udp", "http"].includes(name)) proto = name as RemoteProtocol;
    else {
      throw new SyntaxError(
        `Unknown protocol "${name}://" (expected rap, raps, tcp, udp or http)`,
      );
    }
    rest = rest.slice(scheme[0].length);
  }
  const m = /^(\[[^\]]*\]|[^:/]*)(?::(\d*))?(?:\/(.*))?$/s.exec(rest);
  if (!m || m[1] === "") {
    throw new SyntaxError(`Invalid host "${text}" (expected [proto://]host:port[/file])`);
  }
  const host = unbracket(m[1]);
  let port: number;
  if (m[2] === undefined || m[2] === "") {
    if (proto !== "http") throw new SyntaxError(`Missing port in "${text}" (host:port)`);
    port = 80;
  } else {
    port = Number(m[2]);
    if (port < 1 || port > 65535) throw new SyntaxError(`Invalid port in "${text}"`);
  }
  const file = m[3] ?? (proto === "http" ? "cmd/" : "");
  return { proto, host, port, file };
}

/**
 * Parse the `[host:]port` of `=t` and `=r` (`[::1]:9999` for IPv6).
 *
 * @param text The address.
 * @param fallbackHost The host when none (or an empty one) is given.
 * @returns The host and port.
 * @throws {SyntaxError} If it is not `[host:]port`.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseHostPort("9999", "localhost"), { host: "localhost", port: 9999 });
 * assert.deepEqual(parseHostPort("[::1]:80", "localhost"), { host: "::1", port: 80 });
 * ```
 */
export function parseHostPort(text: string, fallbackHost: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]*\]|[^:\s]*):)?(\d+)$/.exec(text);
  if (!m) throw new SyntaxError(`Invalid address "${text}" (expected [host:]port)`);
  const port = Number(m[2]);
  if (port > 65535) throw new SyntaxError(`Invalid port "${m[2]}"`);
  const host = m[1] === undefined ? fallbackHost : unbracket(m[1]);
  return { host: host === "" ? fallbackHost : host, port };
}

/** A host without the brackets of an IPv6 literal (`[::1]` is `::1`). */
function unbracket(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1");
}
