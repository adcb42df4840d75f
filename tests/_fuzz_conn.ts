/**
 * A fuzzing connection with a hang deadline, shared by the RAP and HTTP runners: when
 * nothing moves either way for the deadline, it is closed and marked as hung.
 *
 * @module
 */

/**
 * A TCP connection to 127.0.0.1 watched for hangs.
 *
 * @example
 * ```ts
 * import { WatchedConn } from "./_fuzz_conn.ts";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const watched = await WatchedConn.open(listener.addr.port, 50);
 * using server = await listener.accept();
 * await new Promise((resolve) => setTimeout(resolve, 100)); // nothing moves: a hang
 * assert.ok(watched!.hung && watched!.closed);
 * ```
 */
export class WatchedConn {
  /** The connection. */
  readonly conn: Deno.TcpConn;
  /** Whether the deadline passed with nothing moving. */
  hung = false;
  /** Whether it was closed (by the deadline or {@linkcode WatchedConn.close}). */
  closed = false;
  /** Called once when it is closed. */
  onClose: (() => void) | undefined;
  readonly #hangMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(conn: Deno.TcpConn, hangMs: number) {
    this.conn = conn;
    this.#hangMs = hangMs;
    this.arm();
  }

  /**
   * Connect, and start the deadline.
   *
   * @param port The port on 127.0.0.1.
   * @param hangMs The deadline.
   * @param onConnect Called with the local port once connected (the server logs it).
   * @returns The connection, or undefined if it could not be made.
   */
  static async open(
    port: number,
    hangMs: number,
    onConnect?: (localPort: number) => void,
  ): Promise<WatchedConn | undefined> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      return undefined;
    }
    onConnect?.((conn.localAddr as Deno.NetAddr).port);
    return new WatchedConn(conn, hangMs);
  }

  /**
   * Read until the end of the stream or an error, restarting the deadline on each chunk.
   *
   * @param onChunk Called with each chunk (a view of a buffer that is reused: copy it to
   *   keep it).
   * @returns `"eof"` when the peer ended the stream, `"error"` when a read failed (a reset,
   *   or the connection closed on our side).
   */
  async readAll(onChunk: (chunk: Uint8Array) => void): Promise<"eof" | "error"> {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await this.conn.read(buf);
      } catch {
        return "error";
      }
      if (n === null) return "eof";
      this.arm();
      onChunk(buf.subarray(0, n));
    }
  }

  /** Something moved: the deadline starts again. */
  arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.hung = true;
      this.close();
    }, this.#hangMs);
  }

  /** Close it (once) and stop the deadline. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#timer);
    this.onClose?.();
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}
