/**
 * The addresses this process listens on, so that what a remote client asks the process to
 * open never connects back to the process itself (a `rap://` to the server's own port
 * nested in itself would take every connection slot). Every {@linkcode AcceptLoop}
 * registers its listener here; the registry of remote sessions
 * ({@linkcode RemoteRegistry}) asks before a plugin connects out, and plugins that connect
 * hand the new connection to {@linkcode ownConnection} before they send anything.
 *
 * @module
 */

import { parseIpAddress } from "./address_filter.ts";

/** A parsed IP address (IPv4-mapped IPv6 addresses are IPv4). */
type Ip = { v6: boolean; value: bigint };

interface Listening {
  /** `host:port`, for messages. */
  label: string;
  port: number;
  ip: Ip;
}

const listening = new Set<Listening>();

const LOCALHOST: readonly Ip[] = [{ v6: false, value: 0x7f000001n }, { v6: true, value: 1n }];

function isUnspecified(ip: Ip): boolean {
  return ip.value === 0n;
}

function isLoopbackIp(ip: Ip): boolean {
  return ip.v6 ? ip.value === 1n : ip.value >> 24n === 127n;
}

function sameIp(a: Ip, b: Ip): boolean {
  return a.v6 === b.v6 && a.value === b.value;
}

function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** The machine's interface addresses, when `--allow-sys=networkInterfaces` is granted. */
function interfaceAddresses(): Ip[] {
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state !== "granted"
    ) {
      return [];
    }
    return Deno.networkInterfaces().map((i) => parseIpAddress(i.address)).filter((ip) =>
      ip !== undefined
    );
  } catch {
    return [];
  }
}

/**
 * Start counting `addr` among the process's own listening addresses (an
 * {@linkcode AcceptLoop} does it for its listener).
 *
 * @param addr The listener's address.
 * @returns A function that removes it again (when the listener closes).
 *
 * @example
 * ```ts
 * import { ownListeningAddress, registerListening } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const unregister = registerListening({ transport: "tcp", hostname: "127.0.0.1", port: 1 });
 * assert.equal(ownListeningAddress("localhost", 1), "127.0.0.1:1");
 * unregister();
 * assert.equal(ownListeningAddress("localhost", 1), undefined);
 * ```
 */
export function registerListening(addr: Deno.Addr): () => void {
  if (addr.transport !== "tcp") return () => {};
  const ip = parseIpAddress(addr.hostname);
  if (ip === undefined) return () => {};
  const entry: Listening = { label: hostPort(addr.hostname, addr.port), port: addr.port, ip };
  listening.add(entry);
  return () => listening.delete(entry);
}

/** Whether a connection to `target` reaches the listener `l` (same port assumed). */
function reaches(target: Ip, l: Listening, local: () => Ip[]): boolean {
  if (isUnspecified(l.ip)) {
    // 0.0.0.0 takes IPv4 only; :: takes both (dual stack, Linux's default).
    if (target.v6 && !l.ip.v6) return false;
    return isLoopbackIp(target) || isUnspecified(target) ||
      local().some((ip) => sameIp(ip, target));
  }
  // Connecting to 0.0.0.0 (or ::) reaches this host's loopback.
  if (isUnspecified(target)) return isLoopbackIp(l.ip) && l.ip.v6 === target.v6;
  return sameIp(target, l.ip);
}

/**
 * Which of the process's own listening addresses a connection to `hostname:port` would
 * reach, judged before connecting: IP addresses (`127.0.0.2` or the machine's own
 * addresses reach a listener on `0.0.0.0`; `0.0.0.0` reaches `127.0.0.1`), `localhost` and
 * `*.localhost`. Other names are judged after connecting, by {@linkcode ownConnection}.
 *
 * @param hostname The host to connect to (brackets around IPv6 allowed).
 * @param port The port.
 * @returns The listening address it reaches (`host:port`), or `undefined`.
 *
 * @example
 * ```ts
 * import { ownListeningAddress, registerListening } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const unregister = registerListening({ transport: "tcp", hostname: "0.0.0.0", port: 2 });
 * assert.equal(ownListeningAddress("127.0.0.2", 2), "0.0.0.0:2");
 * assert.equal(ownListeningAddress("0.0.0.0", 2), "0.0.0.0:2");
 * assert.equal(ownListeningAddress("127.0.0.2", 3), undefined);
 * assert.equal(ownListeningAddress("example.org", 2), undefined); // judged after connecting
 * unregister();
 * ```
 */
export function ownListeningAddress(hostname: string, port: number): string | undefined {
  if (listening.size === 0) return undefined;
  const bare = hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  const ip = parseIpAddress(bare);
  const targets = ip !== undefined
    ? [ip]
    : bare === "localhost" || bare.endsWith(".localhost")
    ? LOCALHOST
    : [];
  let local: Ip[] | undefined;
  const locals = () => local ??= interfaceAddresses();
  for (const l of listening) {
    if (l.port !== port) continue;
    if (targets.some((t) => reaches(t, l, locals))) return l.label;
  }
  return undefined;
}

/**
 * Which of the process's own listening addresses an established connection leads to:
 * its remote address is a listener's, or (for a listener on `0.0.0.0` or `::`) a loopback
 * address or the connection's own local address with the listener's port. Catches the
 * names {@linkcode ownListeningAddress} cannot judge (a DNS name for this host).
 *
 * @param conn The connection, before anything was sent on it.
 * @returns The listening address it reached (`host:port`), or `undefined`.
 *
 * @example
 * ```ts
 * import { ownConnection } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // not registered
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * assert.equal(ownConnection(conn), undefined);
 * (await listener.accept()).close();
 * ```
 */
export function ownConnection(conn: Deno.Conn): string | undefined {
  const remote = conn.remoteAddr;
  if (listening.size === 0 || remote.transport !== "tcp") return undefined;
  const target = parseIpAddress(remote.hostname);
  if (target === undefined) return undefined;
  const localAddr = conn.localAddr;
  const localIp = localAddr.transport === "tcp" ? parseIpAddress(localAddr.hostname) : undefined;
  for (const l of listening) {
    if (l.port !== remote.port) continue;
    if (reaches(target, l, () => (localIp === undefined ? [] : [localIp]))) return l.label;
  }
  return undefined;
}

/**
 * Why connecting to `address` is refused: it is one of the process's own listening
 * addresses.
 *
 * @param address The listening address (`host:port`).
 * @returns The reason, for an error message.
 *
 * @example
 * ```ts
 * import { selfDialing } from "@rap/cli";
 * console.assert(selfDialing("127.0.0.1:9999").startsWith("127.0.0.1:9999 is this server's own"));
 * ```
 */
export function selfDialing(address: string): string {
  return `${address} is this server's own listening address; a client cannot make the ` +
    `server connect to itself`;
}

/**
 * Throw if a connection a plugin has just made leads back to this process (see
 * {@linkcode ownConnection}); fit for `OpenOptions.checkConnection` and
 * `RapClientOptions.onConnect`.
 *
 * @param conn The new connection.
 * @throws {Error} Naming the listening address it reached.
 *
 * @example
 * ```ts
 * import { refuseOwnConnection } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // not registered
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * assert.doesNotThrow(() => refuseOwnConnection(conn));
 * (await listener.accept()).close();
 * ```
 */
export function refuseOwnConnection(conn: Deno.Conn): void {
  const own = ownConnection(conn);
  if (own !== undefined) throw new Error(selfDialing(own));
}
