/**
 * `tcp://HOST:PORT` and `tcp-slurp://HOST:PORT` connect to HOST:PORT; `tcp://:PORT` and
 * `tcp-slurp://:PORT` listen on 127.0.0.1:PORT and take the first connection that sends
 * something (connections that are reset, empty or silent do not stand in its way). Either way the
 * bytes the peer sends until it closes become the file, held in memory (radare2's
 * `io_tcpslurp`, plugin name "tcp"). Nothing is ever sent. Writes (when opened for writing)
 * change the in-memory copy only.
 *
 * Unlike radare2, which listens on 0.0.0.0, the listen form binds 127.0.0.1 only; a port of
 * 0 picks a free port, which {@linkcode slurpTcp} reports through `onListen`.
 *
 * @example
 * ```ts
 * import tcp from "./tcp.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(tcp.permissions("tcp-slurp://:9999", {}), [
 *   { name: "net", host: "127.0.0.1:9999" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { MemoryDescriptor } from "../lib/io/memory_descriptor.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { FirstBytesListener } from "../lib/net/first_bytes.ts";
import { readBounded } from "./_bounded_read.ts";
import { connectFailure } from "./_open_error.ts";

/** The most bytes a peer may send (1 GiB). */
export const TCP_SLURP_MAX = 1024 ** 3;

const USAGE = "use tcp-slurp://HOST:PORT (connect) or tcp-slurp://:PORT (listen on 127.0.0.1)";

/**
 * What a `tcp://` URI asks for.
 *
 * @example
 * ```ts
 * import type { TcpTarget } from "./tcp.ts";
 * const target: TcpTarget = { mode: "listen", hostname: "127.0.0.1", port: 9999 };
 * console.assert(target.mode === "listen");
 * ```
 */
export interface TcpTarget {
  /** Connect out, or listen and accept one peer. */
  mode: "connect" | "listen";
  /** The peer to connect to, or the address to listen on. */
  hostname: string;
  /** The port (0 only when listening: any free port). */
  port: number;
}

/**
 * Parse `tcp://HOST:PORT`, `tcp://:PORT` (and the `tcp-slurp://` forms).
 *
 * @param uri The URI.
 * @returns The target.
 * @throws {IoError} For a missing or invalid port, or `tcp-slurp://?` (usage).
 *
 * @example
 * ```ts
 * import { parseTcpUri } from "./tcp.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseTcpUri("tcp://localhost:80"), {
 *   mode: "connect",
 *   hostname: "localhost",
 *   port: 80,
 * });
 * assert.equal(parseTcpUri("tcp-slurp://:9999").mode, "listen");
 * ```
 */
export function parseTcpUri(uri: string): TcpTarget {
  const rest = uri.replace(/^[a-z-]+:\/\//i, "").replace(/\/$/, "");
  const m = /^(\[[^\]]+\]|[^:/?]*):(\d+)$/.exec(rest);
  if (!m) {
    const why = rest === "" || rest === "?" ? USAGE : `missing or invalid port (${USAGE})`;
    throw new IoError(uri, `Cannot open "${uri}": ${why}`);
  }
  const port = Number(m[2]);
  const mode = m[1] === "" ? "listen" : "connect";
  if (port > 65535 || (port === 0 && mode === "connect")) {
    throw new IoError(uri, `Cannot open "${uri}": invalid port ${m[2]}`);
  }
  return { mode, hostname: m[1] === "" ? "127.0.0.1" : m[1].replace(/^\[|\]$/g, ""), port };
}

function netHost({ hostname, port }: TcpTarget): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * Options of {@linkcode slurpTcp}.
 *
 * @example
 * ```ts
 * import type { SlurpTcpOptions } from "./tcp.ts";
 * const options: SlurpTcpOptions = { onListen: (addr) => console.log(addr.port) };
 * console.assert(typeof options.onListen === "function");
 * ```
 */
export interface SlurpTcpOptions extends OpenOptions {
  /** Called once the listen form is listening, with the actual address (port 0 → real port). */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Stop waiting for the listen form's peer when this signal aborts. */
  signal?: AbortSignal;
}

/**
 * The listen form's peer: the first connection that sends something. Connections reset
 * before they are accepted, closed without a byte or silent are skipped (the accept loop
 * and {@linkcode FirstBytesListener}), so a port scan or a health check cannot make the
 * open fail or hang.
 */
async function firstPeer(
  listener: Deno.Listener,
  options: SlurpTcpOptions,
): Promise<{ conn: Deno.Conn; first: Uint8Array }> {
  const chosen = Promise.withResolvers<{ conn: Deno.Conn; first: Uint8Array }>();
  let taken = false;
  const peers = new FirstBytesListener(listener, {
    label: "[tcp-slurp]",
    onData: (conn, first) => {
      if (taken) return conn.close();
      taken = true;
      chosen.resolve({ conn, first });
    },
  });
  chosen.promise.catch(() => {}); // an abort may come before it is awaited
  peers.finished.catch(chosen.reject);
  const abort = () =>
    chosen.reject(new DOMException("aborted while waiting for a peer", "AbortError"));
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    options.onListen?.(listener.addr as Deno.NetAddr);
    options.signal?.throwIfAborted();
    return await chosen.promise;
  } finally {
    options.signal?.removeEventListener("abort", abort);
    await peers.close();
  }
}

/**
 * Read what the peer sends until it closes (`check` first approves an outbound
 * connection), then close the connection.
 */
async function drain(
  conn: Deno.Conn,
  uri: string,
  options: OpenOptions,
  first?: Uint8Array,
  check?: (conn: Deno.Conn) => void,
): Promise<Uint8Array> {
  try {
    check?.(conn);
    return await readBounded(conn.readable, {
      max: TCP_SLURP_MAX,
      tooLarge: () =>
        new IoError(uri, `Cannot open "${uri}": the peer sent more than ${TCP_SLURP_MAX} bytes`),
      memory: options.memoryBudget,
      what: "the bytes the peer sent",
      first,
    });
  } finally {
    try {
      conn.close();
    } catch {
      // the readable stream closed it
    }
  }
}

/**
 * Open a `tcp://` URI: connect (or listen and accept one peer), read until the peer closes,
 * and return the bytes as an in-memory descriptor.
 *
 * @param uri The URI.
 * @param options Open options, plus `onListen` and `signal` for the listen form.
 * @returns The descriptor.
 * @throws {IoError} When the connection fails or the peer sends nothing.
 *
 * @example Listen on a free port and take what a peer sends
 * ```ts
 * import { slurpTcp } from "./tcp.ts";
 * import assert from "node:assert/strict";
 *
 * let sent: Promise<void> | undefined;
 * const desc = await slurpTcp("tcp-slurp://:0", {
 *   onListen: ({ port }) => {
 *     sent = (async () => {
 *       using conn = await Deno.connect({ hostname: "127.0.0.1", port });
 *       await conn.write(new TextEncoder().encode("hello"));
 *     })();
 *   },
 * });
 * await sent;
 * assert.equal(new TextDecoder().decode(await desc.read(0, 5)), "hello");
 * await desc.close();
 * ```
 */
export async function slurpTcp(uri: string, options: SlurpTcpOptions = {}): Promise<IoDescriptor> {
  const target = parseTcpUri(uri);
  let bytes: Uint8Array;
  try {
    if (target.mode === "connect") {
      const conn = await Deno.connect({ hostname: target.hostname, port: target.port });
      bytes = await drain(conn, uri, options, undefined, options.checkConnection);
    } else {
      const listener = Deno.listen({ hostname: target.hostname, port: target.port });
      const { conn, first } = await firstPeer(listener, options);
      bytes = await drain(conn, uri, options, first);
    }
  } catch (error) {
    const aborted = options.signal?.aborted ? "aborted while waiting for a peer" : undefined;
    throw connectFailure(uri, error, netHost(target), aborted);
  }
  if (bytes.length === 0) {
    throw new IoError(uri, `Cannot open "${uri}": the peer sent no data`);
  }
  return new MemoryDescriptor(uri, "tcp", bytes, { writable: options.write ?? false });
}

/**
 * The `tcp` plugin (schemes `tcp` and `tcp-slurp`).
 *
 * @example
 * ```ts
 * import tcp from "./tcp.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(tcp.open("tcp-slurp://?", {}), /tcp-slurp:\/\/HOST:PORT/);
 * ```
 */
const tcp: IoPlugin = definePlugin({
  name: "tcp",
  description: "the bytes a TCP peer sends until it closes (tcp-slurp://HOST:PORT or :PORT)",
  schemes: ["tcp", "tcp-slurp"],
  uriForms: ["tcp-slurp://HOST:PORT", "tcp-slurp://:PORT", "tcp://HOST:PORT", "tcp://:PORT"],
  capabilities: { write: true },
  permissions: (uri) => [{ name: "net", host: netHost(parseTcpUri(uri)) }],
  open: (uri, options) => slurpTcp(uri, options),
});

export default tcp;
