/**
 * Closing a connection without losing what was sent on it. When a server closes a socket
 * while bytes from the client are still unread (a client that pipelines requests, then one
 * the server gives up on), the kernel resets the connection and drops what the server had
 * sent but the client had not received yet: replies to requests that were carried out. So
 * the server ends its side first (the client reads every reply, then EOF), reads and drops
 * what the client still sends for a moment, and only then closes.
 *
 * @module
 */

/** Most bytes read and dropped before the connection is closed anyway. */
export const LINGER_BYTES = 256 * 1024;
/**
 * Most milliseconds spent so: long enough for a server whose event loop is slowed down by
 * load to read the rest (a close with bytes still unread resets the connection).
 */
export const LINGER_MS = 5000;

/**
 * End our side of `conn`, read and drop what the peer still sends (until it closes, or
 * `maxBytes`, or `ms`), then close it. Never throws.
 *
 * @param conn The connection (everything to send already written).
 * @param options A read of the connection already under way (its bytes are dropped too),
 *   and the limits (default {@linkcode LINGER_BYTES}, {@linkcode LINGER_MS}).
 * @returns Resolves once the connection is closed.
 *
 * @example
 * ```ts
 * import { lingerClose } from "./linger.ts";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const conn = await listener.accept();
 * await conn.write(new TextEncoder().encode("bye"));
 * await client.write(new Uint8Array(1000)); // unread by the server
 * const closing = lingerClose(conn);
 * const buf = new Uint8Array(16);
 * assert.equal(await client.read(buf), 3); // the reply arrives whole ...
 * assert.equal(await client.read(buf), null); // ... then EOF, not a reset
 * client.closeWrite();
 * await closing;
 * ```
 */
export async function lingerClose(
  conn: Deno.Conn,
  options: { pending?: Promise<unknown>; maxBytes?: number; ms?: number } = {},
): Promise<void> {
  const close = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  try {
    await conn.closeWrite();
  } catch {
    close(); // closed already, or reset: nothing left to save
    await options.pending?.catch(() => {});
    return;
  }
  const timer = setTimeout(close, options.ms ?? LINGER_MS);
  try {
    await options.pending;
    const max = options.maxBytes ?? LINGER_BYTES;
    const buf = new Uint8Array(64 * 1024);
    for (let dropped = 0; dropped < max;) {
      const n = await conn.read(buf);
      if (n === null) break;
      dropped += n;
    }
  } catch {
    // Reset by the peer, or closed by the timer.
  } finally {
    clearTimeout(timer);
    close();
  }
}
