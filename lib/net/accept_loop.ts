/**
 * The one accept loop every listener uses (RAP, TLS, HTTP, `=t`, `tcp://:PORT`, ...): a
 * connection that fails before it is accepted is logged and skipped, a lack of resources
 * (descriptors, buffers, memory) backs off while open connections keep being served, and
 * only {@linkcode AcceptLoop.close} ends it. While it runs, its address counts among the
 * process's own listening addresses (`own_addresses.ts`), which remote clients cannot make
 * the process connect to.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { registerListening } from "./own_addresses.ts";

/**
 * Options of an {@linkcode AcceptLoop}.
 *
 * @example
 * ```ts
 * import type { AcceptLoopOptions } from "@rap/cli";
 * const options: AcceptLoopOptions = { label: "[rap]", onConnection: (conn) => conn.close() };
 * console.assert(options.label === "[rap]");
 * ```
 */
export interface AcceptLoopOptions {
  /** What starts each log line (`[rap]`, `[http]` ...). */
  label: string;
  /** Called with each accepted connection; the loop does not wait for it. */
  onConnection: (conn: Deno.Conn) => void;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
  /** First pause after a resource error, in milliseconds (default 5). */
  minBackoff?: number;
  /** Longest pause between attempts while resources lack, in milliseconds (default 1000). */
  maxBackoff?: number;
}

/**
 * Thrown by {@linkcode AcceptLoop.finished} when the loop ended without
 * {@linkcode AcceptLoop.close} (the listener was closed elsewhere, or failed for good).
 *
 * @example
 * ```ts
 * import { AcceptLoopError } from "@rap/cli";
 * const error = new AcceptLoopError("127.0.0.1:9999", "listener closed");
 * console.assert(error.message.includes("127.0.0.1:9999"));
 * ```
 */
export class AcceptLoopError extends Error {
  /** The listening address, `host:port`. */
  readonly address: string;
  /**
   * Create it.
   *
   * @param address The listening address.
   * @param reason Why the loop ended.
   * @param options The cause.
   */
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(`Stopped accepting connections on ${address}: ${reason}`, options);
    this.name = "AcceptLoopError";
    this.address = address;
  }
}

/** Error codes that mean the process lacks a resource, not that one connection failed. */
const RESOURCE_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/** Connection errors logged one by one in each second; more are counted and summed up. */
const LOGGED_PER_SECOND = 5;

/**
 * Whether an accept error means the process is out of a resource (descriptors, kernel
 * buffers, memory), so that trying again at once would fail again.
 *
 * @param error What `accept()` threw.
 * @returns True for EMFILE, ENFILE, ENOBUFS and ENOMEM.
 *
 * @example
 * ```ts
 * import { isResourceError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isResourceError(Object.assign(new Error("Too many open files"), { code: "EMFILE" })));
 * assert.ok(!isResourceError(new Deno.errors.NotConnected("reset before accept")));
 * ```
 */
export function isResourceError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && RESOURCE_CODES.has(code)) return true;
  return /\(os error (24|23|105|12)\)/.test(String((error as Error | null)?.message));
}

/** `host:port` of a listening address (`[v6]:port` for IPv6). */
function formatAddress(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `${host}:${addr.port}`;
}

/**
 * Accepts connections from a listener until closed. Errors of one connection (a peer
 * that reset before it was accepted: ENOTCONN, ECONNABORTED ...) are logged and skipped;
 * resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) pause the loop, a few milliseconds
 * doubling to a second, with one log line when a burst begins and one with its count when
 * it ends, while the connections already open keep being served. Between two accepts the
 * loop lets the event loop run, so a flood of connections waiting in the kernel's queue
 * (where `accept()` resolves at once) cannot starve the reads of those already accepted.
 *
 * @example Accept two connections, then stop
 * ```ts
 * import { AcceptLoop } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * let accepted = 0;
 * const loop = new AcceptLoop(listener, {
 *   label: "[test]",
 *   log: () => {},
 *   onConnection: (conn) => {
 *     accepted++;
 *     conn.close();
 *   },
 * });
 * for (let i = 0; i < 2; i++) {
 *   const { port } = listener.addr as Deno.NetAddr;
 *   const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 *   await conn.read(new Uint8Array(1)); // ends when the server closes it
 *   conn.close();
 * }
 * loop.close();
 * await loop.finished;
 * assert.equal(accepted, 2);
 * ```
 */
export class AcceptLoop {
  /** The listening address. */
  readonly addr: Deno.Addr;
  /**
   * Resolves once {@linkcode AcceptLoop.close} has stopped the loop; rejects with an
   * {@linkcode AcceptLoopError} if the loop ended any other way.
   */
  readonly finished: Promise<void>;
  readonly #listener: Deno.Listener;
  readonly #options: AcceptLoopOptions;
  readonly #log: (line: string) => void;
  #closing = false;
  #wake: (() => void) | undefined;
  readonly #unregister: () => void;
  /** Connection errors in the current second, and how many of them went unlogged. */
  #window = { start: 0, count: 0, unlogged: 0, last: "" };

  /**
   * Start accepting.
   *
   * @param listener The listener (the loop owns it and closes it).
   * @param options See {@linkcode AcceptLoopOptions}.
   */
  constructor(listener: Deno.Listener, options: AcceptLoopOptions) {
    this.#listener = listener;
    this.addr = listener.addr;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#unregister = registerListening(listener.addr);
    this.finished = this.#run();
  }

  /** Whether {@linkcode AcceptLoop.close} was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** Stop accepting and close the listener (connections already accepted stay open). */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    this.#wake?.();
  }

  async #run(): Promise<void> {
    const address = formatAddress(this.addr);
    const { label } = this.#options;
    const minBackoff = this.#options.minBackoff ?? 5;
    const maxBackoff = this.#options.maxBackoff ?? 1000;
    let burst: { failures: number; since: number; reason: string } | undefined;
    let delay = minBackoff;
    try {
      for (;;) {
        let conn: Deno.Conn;
        try {
          conn = await this.#listener.accept();
        } catch (error) {
          if (this.#closing) return;
          if (
            error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted
          ) {
            throw new AcceptLoopError(address, "the listener was closed", { cause: error });
          }
          if (isResourceError(error)) {
            const reason = (error as Error).message;
            if (burst === undefined) {
              burst = { failures: 0, since: Date.now(), reason };
              this.#log(
                `${label} accept failed on ${address}: ${reason}; backing off ` +
                  `(connections already open are still served)`,
              );
            }
            burst.failures++;
            await this.#pause(delay);
            delay = Math.min(maxBackoff, delay * 2);
            continue;
          }
          this.#connectionError(error as Error);
          continue;
        }
        if (burst !== undefined) {
          this.#log(
            `${label} accepting again on ${address} after ${burst.failures} failed attempt(s) ` +
              `in ${Date.now() - burst.since} ms (${burst.reason})`,
          );
          burst = undefined;
          delay = minBackoff;
        }
        this.#flushWindow();
        if (this.#closing) {
          conn.close();
          return;
        }
        this.#options.onConnection(conn);
        // While connections wait in the kernel's queue, accept() resolves at once: let the
        // open connections' reads and timers run between two accepts.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#unregister();
      this.#flushWindow();
      try {
        this.#listener.close();
      } catch { /* already closed */ }
    }
  }

  /** Log a failed connection, at most a few lines a second (the rest are summed up). */
  #connectionError(error: Error): void {
    const now = Date.now();
    const w = this.#window;
    if (now - w.start >= 1000) {
      this.#flushWindow();
      w.start = now;
      w.count = 0;
    }
    w.count++;
    if (w.count <= LOGGED_PER_SECOND) {
      this.#log(
        `${this.#options.label} a connection failed before it was accepted: ${error.message}`,
      );
    } else {
      w.unlogged++;
      w.last = error.message;
    }
  }

  #flushWindow(): void {
    const w = this.#window;
    if (w.unlogged === 0) return;
    this.#log(
      `${this.#options.label} ${w.unlogged} more connection(s) failed before they were ` +
        `accepted (${w.last})`,
    );
    w.unlogged = 0;
  }

  /** Sleep `ms`, or less if the loop is closed meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
