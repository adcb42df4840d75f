/**
 * A delay relay on loopback: a slow link for benchmarks and tests. Every byte a client
 * sends reaches the target `delayMs` later, and every byte back reaches the client
 * `delayMs` later (one-way delay each direction, so a round trip takes `2 × delayMs`),
 * in order. Bandwidth is not limited. A side that closes its writing half closes the
 * other's once the delayed bytes are through; a side that fails closes both.
 *
 * @example
 * ```ts
 * import { DelayRelay } from "./delay_relay.ts";
 * import { RapClient, RapServer } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * await using relay = DelayRelay.start({ port: server.addr.port, delayMs: 5 });
 * await using client = await RapClient.connect({ hostname: "127.0.0.1", port: relay.port });
 * await client.open("hex://0102");
 * assert.deepEqual([...await client.read(0, 2)], [1, 2]);
 * ```
 *
 * @module
 */

import { AcceptLoop } from "../lib/net/accept_loop.ts";

/**
 * Options of {@linkcode DelayRelay.start}.
 *
 * @example
 * ```ts
 * import type { DelayRelayOptions } from "./delay_relay.ts";
 * const options: DelayRelayOptions = { port: 9999, delayMs: 5 };
 * console.assert(options.delayMs === 5);
 * ```
 */
export interface DelayRelayOptions {
  /** The target's port on 127.0.0.1. */
  port: number;
  /** One-way delay in milliseconds, each direction. */
  delayMs: number;
  /** The port to listen on (default 0: a free one). */
  listenPort?: number;
}

/** Copy `from` to `to`, each chunk delivered `delayMs` after it arrived, in order. */
async function delayed(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  const queue: { due: number; bytes: Uint8Array }[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const reading = (async () => {
    try {
      for (;;) {
        const buffer = new Uint8Array(256 * 1024);
        const n = await from.read(buffer);
        if (n === null) return;
        queue.push({ due: performance.now() + delayMs, bytes: buffer.subarray(0, n) });
        wake?.();
      }
    } finally {
      ended = true;
      wake?.();
    }
  })();
  reading.catch(() => {}); // closed under it: awaited below, or the writing failed first
  for (;;) {
    if (queue.length === 0) {
      if (ended) break;
      await new Promise<void>((resolve) => wake = resolve);
      wake = undefined;
      continue;
    }
    const wait = queue[0].due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { bytes } = queue.shift()!;
    for (let done = 0; done < bytes.length;) done += await to.write(bytes.subarray(done));
  }
  await reading;
  await to.closeWrite().catch(() => {});
}

/**
 * The relay. See the module documentation.
 *
 * @example
 * ```ts
 * import { DelayRelay } from "./delay_relay.ts";
 * import assert from "node:assert/strict";
 *
 * await using relay = DelayRelay.start({ port: 1, delayMs: 1 });
 * assert.ok(relay.port > 0);
 * ```
 */
export class DelayRelay implements AsyncDisposable {
  /** The port clients connect to (127.0.0.1). */
  readonly port: number;
  readonly #accepting: AcceptLoop;
  readonly #tasks = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.Conn>();

  private constructor(options: DelayRelayOptions) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: options.listenPort ?? 0 });
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accepting = new AcceptLoop(listener, {
      label: "[relay]",
      log: () => {},
      onConnection: (conn) => this.#relay(conn, options),
    });
  }

  /**
   * Listen on 127.0.0.1 and relay every connection to the target.
   *
   * @param options Target, delay and port.
   * @returns The relay.
   */
  static start(options: DelayRelayOptions): DelayRelay {
    return new DelayRelay(options);
  }

  #relay(client: Deno.Conn, options: DelayRelayOptions): void {
    this.#conns.add(client);
    const task = (async () => {
      let target: Deno.Conn | undefined;
      try {
        target = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
        this.#conns.add(target);
        (target as Deno.TcpConn).setNoDelay?.(true);
        (client as Deno.TcpConn).setNoDelay?.(true);
        const up = delayed(client, target, options.delayMs);
        const down = delayed(target, client, options.delayMs);
        // One side failing (a reset) ends both.
        await Promise.all([up, down].map((p) => p.catch(() => this.#closeBoth(client, target))));
      } catch {
        // The target refused: the client sees its connection close.
      } finally {
        this.#closeBoth(client, target);
      }
    })();
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #closeBoth(a: Deno.Conn, b: Deno.Conn | undefined): void {
    for (const conn of [a, b]) {
      if (conn === undefined || !this.#conns.delete(conn)) continue;
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }

  /** Stop listening, close every relayed connection, and wait for them. */
  async close(): Promise<void> {
    this.#accepting.close();
    await this.#accepting.finished.catch(() => {});
    for (const conn of [...this.#conns]) {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled([...this.#tasks]);
  }

  /** Same as {@linkcode DelayRelay.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

if (import.meta.main) {
  const [port, delay, listen] = Deno.args.map(Number);
  if (!(port > 0) || !(delay >= 0)) {
    console.error("Usage: deno run -A bench/delay_relay.ts TARGET_PORT ONE_WAY_MS [LISTEN_PORT]");
    Deno.exit(2);
  }
  const relay = DelayRelay.start({ port, delayMs: delay, listenPort: listen });
  console.log(`Relaying 127.0.0.1:${relay.port} -> 127.0.0.1:${port}, ${delay} ms each way`);
}
