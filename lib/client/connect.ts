/**
 * Making a client's connection: TCP (Nagle off, as a RAP client wants its small requests
 * out at once) or TLS for `raps://`, with a look at the connection before anything is sent.
 *
 * @module
 */

import { connectTls, type TlsClientOptions } from "../net/tls.ts";
import { RapConnectionError } from "../protocol/errors.ts";

/**
 * Where and how to connect.
 *
 * @example
 * ```ts
 * import type { DialOptions } from "./connect.ts";
 * const options: DialOptions = { hostname: "127.0.0.1", port: 9999, tls: { caCerts: [] } };
 * console.assert(options.tls !== undefined);
 * ```
 */
export interface DialOptions {
  /** Server host name or address. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Connect with TLS; the server's certificate is always verified (see `lib/net/tls.ts`). */
  tls?: boolean | TlsClientOptions;
  /** Called with the new connection before anything is sent on it; an exception closes it. */
  onConnect?: (conn: Deno.Conn) => void;
}

/**
 * Connect to a RAP server.
 *
 * @param options See {@linkcode DialOptions}.
 * @returns The connection (for TLS, with the handshake done).
 * @throws {RapConnectionError} If the connection cannot be made.
 * @throws {Deno.errors.NotCapable} If `--allow-net` does not cover the host.
 *
 * @example
 * ```ts
 * import { dial } from "./connect.ts";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * let seen = false;
 * const port = listener.addr.port;
 * const conn = await dial({ hostname: "127.0.0.1", port, onConnect: () => seen = true });
 * assert.ok(seen);
 * conn.close();
 * (await accepted).close();
 * ```
 */
export async function dial(options: DialOptions): Promise<Deno.TcpConn | Deno.TlsConn> {
  const { hostname, port, tls, onConnect } = options;
  if (tls) return await connectTls(hostname, port, tls === true ? {} : tls, onConnect);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new RapConnectionError(
      `Cannot connect to ${hostname}:${port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  conn.setNoDelay(true);
  try {
    onConnect?.(conn);
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}
