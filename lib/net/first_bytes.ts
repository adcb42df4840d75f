/**
 * A listener for one-shot peers (the `=t` command server, `tcp-slurp://:PORT`): it accepts
 * with the {@linkcode AcceptLoop} and waits for the first bytes of every connection at
 * once, so a connection that is reset, closes without a byte or never sends anything holds
 * up no one. At most `maxWaiting` connections wait at a time (the oldest is closed to make
 * room), each for at most `timeout` milliseconds.
 *
 * @module
 */

import { AcceptLoop } from "./accept_loop.ts";

/**
 * Options of a {@linkcode FirstBytesListener}.
 *
 * @example
 * ```ts
 * import type { FirstBytesOptions } from "@rap/cli";
 * const options: FirstBytesOptions = { label: "[=t]", timeout: 10_000, onData: (c) => c.close() };
 * console.assert(options.timeout === 10_000);
 * ```
 */
export interface FirstBytesOptions {
  /** What starts each log line. */
  label: string;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
  /** Most connections waiting for their first bytes; the oldest is closed to make room (default 16). */
  maxWaiting?: number;
  /** Close a connection that sends nothing for this many milliseconds (default 0: never). */
  timeout?: number;
  /** The most bytes taken by the first read (default 65536). */
  size?: number;
  /**
   * Called with a connection and its first bytes (at least one); the connection is then
   * the callee's to close.
   */
  onData: (conn: Deno.Conn, first: Uint8Array) => void;
}

/**
 * Accepts connections and hands each on with its first bytes (see the module doc).
 *
 * @example Only the peer that sends something gets through
 * ```ts
 * import { FirstBytesListener } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const got = Promise.withResolvers<string>();
 * const listener = new FirstBytesListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), {
 *   label: "[test]",
 *   onData: (conn, first) => {
 *     conn.close();
 *     got.resolve(new TextDecoder().decode(first));
 *   },
 * });
 * const { port } = listener.addr as Deno.NetAddr;
 * using idle = await Deno.connect({ hostname: "127.0.0.1", port });
 * using talker = await Deno.connect({ hostname: "127.0.0.1", port });
 * await talker.write(new TextEncoder().encode("hi"));
 * assert.equal(await got.promise, "hi");
 * await listener.close();
 * assert.equal(await idle.read(new Uint8Array(1)), null); // closed by the listener
 * ```
 */
export class FirstBytesListener {
  /** The listening address. */
  readonly addr: Deno.Addr;
  /**
   * Resolves once {@linkcode FirstBytesListener.close} has stopped accepting; rejects with an
   * `AcceptLoopError` if accepting ended any other way.
   */
  readonly finished: Promise<void>;
  readonly #loop: AcceptLoop;
  readonly #options: FirstBytesOptions;
  readonly #log: (line: string) => void;
  /** Connections waiting for their first bytes, oldest first, with their timers. */
  readonly #waiting = new Map<Deno.Conn, ReturnType<typeof setTimeout> | undefined>();
  readonly #reads = new Set<Promise<void>>();

  /**
   * Start accepting.
   *
   * @param listener The listener (closed by {@linkcode FirstBytesListener.close}).
   * @param options See {@linkcode FirstBytesOptions}.
   */
  constructor(listener: Deno.Listener, options: FirstBytesOptions) {
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#loop = new AcceptLoop(listener, {
      label: options.label,
      log: this.#log,
      onConnection: (conn) => this.#wait(conn),
    });
    this.addr = this.#loop.addr;
    this.finished = this.#loop.finished;
    this.finished.catch(() => {}); // the owner awaits it; close() must not fail with it
  }

  #drop(conn: Deno.Conn, reason?: string): void {
    clearTimeout(this.#waiting.get(conn));
    this.#waiting.delete(conn);
    if (reason !== undefined) this.#log(`${this.#options.label} ${peerOf(conn)}: ${reason}`);
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  #wait(conn: Deno.Conn): void {
    const max = this.#options.maxWaiting ?? 16;
    if (this.#waiting.size >= max) {
      const [oldest] = this.#waiting.keys();
      this.#drop(oldest, `closed to make room: the oldest of ${max} connections that sent nothing`);
    }
    const timeout = this.#options.timeout ?? 0;
    this.#waiting.set(
      conn,
      timeout > 0
        ? setTimeout(
          () => this.#drop(conn, `closed: nothing received within ${timeout} ms`),
          timeout,
        )
        : undefined,
    );
    const buffer = new Uint8Array(this.#options.size ?? 65536);
    const read = conn.read(buffer).then((n) => {
      if (!this.#waiting.has(conn)) return; // closed by us meanwhile
      if (n === null || n === 0) return this.#drop(conn);
      clearTimeout(this.#waiting.get(conn));
      this.#waiting.delete(conn);
      try {
        this.#options.onData(conn, buffer.subarray(0, n));
      } catch (error) {
        this.#drop(conn, `closed: ${(error as Error).message}`);
      }
    }, () => {
      if (this.#waiting.has(conn)) this.#drop(conn); // reset by the peer
    });
    this.#reads.add(read);
    read.finally(() => this.#reads.delete(read));
  }

  /** Stop accepting, close the connections still waiting, and wait for their reads to end. */
  async close(): Promise<void> {
    this.#loop.close();
    for (const conn of [...this.#waiting.keys()]) this.#drop(conn);
    await Promise.allSettled([...this.#reads]);
    await this.finished.catch(() => {});
  }
}

function peerOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr;
  return addr.transport === "tcp" ? `${addr.hostname}:${addr.port}` : addr.transport;
}
