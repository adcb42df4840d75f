/**
 * RapServer: a RAP server on `Deno.listen`, wire-compatible with radare2 clients, with one
 * IO session per connection. The listener lives here (accepting, connection limits,
 * address filter, shutdown); each client is a {@linkcode Connection}.
 *
 * @module
 */

import { IoRegistry } from "../io/registry.ts";
import type { IoDescriptor } from "../io/types.ts";
import { AcceptLoop } from "../net/accept_loop.ts";
import { TokenVerifier } from "../net/auth.ts";
import { ConnectionSlots } from "../net/connection_slots.ts";
import { listenWarning } from "../net/listen_warning.ts";
import { basicCommandHandler } from "./command.ts";
import { Connection, formatAddr } from "./connection.ts";
import type { ServerContext } from "./context.ts";
import {
  type RapServerOptions,
  type ResolvedServerOptions,
  resolveServerOptions,
} from "./options.ts";
import type { MemoryBudget } from "../io/memory_budget.ts";
import { SharedDefault } from "./shared_default.ts";

export * from "./command.ts";
export * from "./options.ts";
export * from "./buffers.ts";

/**
 * A RAP server. Each connection has its own `IoSession`: its own open files, seek and
 * permissions, unlike radare2, which shares one state between all clients. Malformed
 * input closes only the offending connection, with a logged reason.
 *
 * Clients that probe for them get the rap extensions (`docs/protocol.md`): reads and
 * writes of up to 8 MiB carrying their own fd and offset, and error replies. Replies go
 * out in one write each (small ones batched), and large reads stream from the plugin to
 * the socket in pieces; see {@linkcode SERVER_BUFFERS} for the memory bound.
 *
 * @example Serve a buffer and stop
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, defaultUri: "malloc://64", log: () => {} });
 * assert.equal(server.addr.hostname, "127.0.0.1");
 * assert.ok(server.addr.port > 0);
 * ```
 */
export class RapServer implements AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /** The memory budget every session's files draw from (`maxMemory`). */
  readonly memoryBudget: MemoryBudget;
  readonly #accepting: AcceptLoop;
  readonly #context: ServerContext;
  readonly #connections = new Map<Deno.Conn, Connection | undefined>();
  readonly #tasks = new Set<Promise<void>>();
  #closing = false;

  private constructor(
    listener: Deno.Listener,
    resolved: ResolvedServerOptions,
    shared?: IoDescriptor,
  ) {
    this.addr = listener.addr as Deno.NetAddr;
    this.memoryBudget = resolved.memoryBudget;
    const registry = resolved.registry ?? new IoRegistry();
    // deno-lint-ignore no-this-alias
    const server = this;
    this.#context = {
      options: resolved,
      registry,
      commandHandler: resolved.commandHandler ?? ((command) => basicCommandHandler(command)),
      tokens: resolved.token === undefined ? undefined : new TokenVerifier(resolved.token),
      shared: new SharedDefault(
        resolved.defaultUri,
        registry,
        !resolved.readOnly,
        shared ?? resolved.defaultDescriptor,
        resolved.defaultDescriptor === undefined,
      ),
      slots: new ConnectionSlots({
        maxConnections: resolved.maxConnections,
        maxPerAddress: resolved.maxPerAddress,
        maxPending: resolved.maxPending,
        pendingTimeout: resolved.firstRequestTimeout,
      }),
      get closing() {
        return server.#closing;
      },
      requestsUnderWay: 0,
      log: resolved.log,
    };
    const warning = listenWarning(formatAddr(this.addr), this.addr.hostname, {
      tls: resolved.tls !== undefined,
      token: resolved.token !== undefined,
    });
    if (warning !== undefined) resolved.log(warning);
    this.#accepting = new AcceptLoop(listener, {
      label: "[rap]",
      log: resolved.log,
      onConnection: (conn) => this.#admit(conn),
    });
    this.finished = this.#run();
  }

  /**
   * Start listening. A default URI is opened when a session first needs it (see
   * {@linkcode RapServer.start} to open it before listening).
   *
   * @param options See {@linkcode RapServerOptions}.
   * @returns The running server.
   */
  static listen(options: RapServerOptions = {}): RapServer {
    return RapServer.#bind(options);
  }

  /**
   * Open the default URI, then start listening: a URI that cannot be opened fails here,
   * before any client connects. Every session gets a view of that one descriptor (so all
   * clients see the same bytes, as with radare2); the server closes it when it stops.
   *
   * @param options See {@linkcode RapServerOptions}.
   * @returns The running server.
   * @throws {IoError} If the default URI cannot be opened.
   *
   * @example
   * ```ts
   * import { RapClient, RapServer } from "@rap/cli";
   * import assert from "node:assert/strict";
   *
   * await using server = await RapServer.start({ port: 0, defaultUri: "malloc://16", log: () => {} });
   * await using a = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
   * await using b = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
   * await a.write(0, new Uint8Array([1, 2]));
   * assert.deepEqual([...await b.read(0, 2)], [1, 2]);
   * await assert.rejects(RapServer.start({ defaultUri: "nope://x" }), /nope/);
   * ```
   */
  static async start(options: RapServerOptions = {}): Promise<RapServer> {
    let shared: IoDescriptor | undefined;
    if (options.defaultUri !== undefined && options.defaultDescriptor === undefined) {
      shared = await (options.registry ?? new IoRegistry()).open(options.defaultUri, {
        write: !(options.readOnly ?? false),
      });
    }
    try {
      return RapServer.#bind(options, shared);
    } catch (error) {
      await shared?.close();
      throw error;
    }
  }

  static #bind(options: RapServerOptions, shared?: IoDescriptor): RapServer {
    const resolved = resolveServerOptions(options);
    const address = {
      hostname: resolved.hostname,
      port: resolved.port,
      transport: "tcp" as const,
      ...(resolved.backlog === undefined ? {} : { tcpBacklog: resolved.backlog }),
    };
    const listener: Deno.Listener = resolved.tls === undefined
      ? Deno.listen(address)
      : Deno.listenTls({ ...address, cert: resolved.tls.cert, key: resolved.tls.key });
    return new RapServer(listener, resolved, shared);
  }

  /** The address clients connect to, as a URI (`rap://` or `raps://`). */
  get url(): string {
    const host = this.addr.hostname.includes(":") ? `[${this.addr.hostname}]` : this.addr.hostname;
    const scheme = this.#context.options.tls === undefined ? "rap" : "raps";
    return `${scheme}://${host}:${this.addr.port}/`;
  }

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Requests being answered now, over all connections (one alone reads files at once). */
  get requestsUnderWay(): number {
    return this.#context.requestsUnderWay;
  }

  /**
   * Reply bytes queued for all clients and not yet taken by the kernel. Each connection
   * keeps this under about {@linkcode SERVER_BUFFERS} `highWaterMark + piece`.
   */
  get queuedBytes(): number {
    let total = 0;
    for (const c of this.#connections.values()) total += c?.writer.queued ?? 0;
    return total;
  }

  /**
   * Take an accepted connection (a pending slot, see `net/connection_slots.ts`), or refuse
   * it with a logged reason.
   */
  #admit(conn: Deno.Conn): void {
    const { options, slots, log } = this.#context;
    const peer = formatAddr(conn.remoteAddr);
    const hostname = (conn.remoteAddr as Deno.NetAddr).hostname;
    if (options.allowFrom && !options.allowFrom.allows(hostname)) {
      log(`[rap] ${peer}: refused, address not in --allow-from ${options.allowFrom}`);
      conn.close();
      return;
    }
    const slot = slots.admit(hostname, (reason) => this.#evict(conn, reason));
    if (typeof slot === "string") {
      log(`[rap] ${peer}: refused, ${slot}`);
      conn.close();
      return;
    }
    this.#connections.set(conn, undefined);
    const task = (async () => {
      const connection = new Connection(conn, slot, this.#context);
      this.#connections.set(conn, connection);
      await connection.serve();
    })().finally(() => {
      slot.release();
      this.#connections.delete(conn);
      this.#tasks.delete(task);
    });
    this.#tasks.add(task);
  }

  /** Close a pending connection: to make room for a new one, or too late. */
  #evict(conn: Deno.Conn, reason: string): void {
    const c = this.#connections.get(conn);
    if (c !== undefined) c.closeReason ??= reason;
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Accept until closed, then wait for the connections and close the shared default. If
   * accepting ends any other way, the open connections are closed as in a shutdown and
   * `finished` rejects with the reason.
   */
  async #run(): Promise<void> {
    let failure: unknown;
    try {
      await this.#accepting.finished;
    } catch (error) {
      failure = error;
      this.#context.log(`[rap] ${(error as Error).message}`);
      this.close().catch(() => {});
    }
    await Promise.allSettled([...this.#tasks]);
    await this.#context.shared.close(this.#context.log);
    if (failure !== undefined) throw failure;
  }

  /**
   * Stop gracefully: stop accepting, answer the requests each client has already sent
   * (those still arriving without waiting count), send the replies, close the sessions'
   * files, and wait for all of it. Connections still busy after `shutdownTimeout`
   * milliseconds (e.g. a client that does not read its replies) are closed regardless.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#accepting.close();
      for (const c of this.#connections.values()) c?.interrupt();
      const grace = this.#context.options.shutdownTimeout;
      const deadline = setTimeout(() => {
        if (this.#connections.size > 0) {
          this.#context.log(
            `[rap] closing ${this.#connections.size} connection(s) still busy after ${grace} ms ` +
              `(shutdown deadline)`,
          );
        }
        for (const conn of this.#connections.keys()) {
          try {
            conn.close();
          } catch { /* already closed */ }
        }
      }, grace);
      this.finished.finally(() => clearTimeout(deadline)).catch(() => {});
    }
    await this.finished;
  }

  /** Same as {@linkcode RapServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
