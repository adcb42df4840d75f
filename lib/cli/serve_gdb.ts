/**
 * `serve --gdb-port N`: the GDB remote-protocol server over the served URI, beside the RAP
 * server and under the same `--host`, `--allow-from`, `--read-only` and `--allow-cmd`
 * (gdb's `monitor CMD` runs CMD in a shell of its own over a pinned view of the served
 * file, as the HTTP endpoint's clients do). gdb has no TLS and no way to send a token: a
 * `--token-file` server refuses `--gdb-port`, and a non-loopback `--host` gets a warning.
 *
 * @module
 */

import { GdbServer } from "../gdb/server.ts";
import type { GdbServedFile } from "../gdb/server_session.ts";
import { isGdbStubLink } from "../gdb/stub_link.ts";
import { BorrowedDescriptor } from "../io/borrowed_descriptor.ts";
import type { MemoryBudget } from "../io/memory_budget.ts";
import { PinnedSession } from "../io/pinned_session.ts";
import type { IoRegistry } from "../io/registry.ts";
import type { IoDescriptor } from "../io/types.ts";
import type { AddressFilter } from "../net/address_filter.ts";
import { bindListener } from "../net/listen_error.ts";
import { RemoteRegistry } from "../server/remote_registry.ts";
import { createHttpCommandRunner } from "../shell/handler.ts";
import type { CommandPolicy } from "../shell/policy.ts";

/**
 * What {@linkcode startGdbServer} needs from `serve`.
 *
 * @example
 * ```ts
 * import type { ServeGdbOptions } from "./serve_gdb.ts";
 * const port = (o: ServeGdbOptions) => o.port;
 * console.assert(typeof port === "function");
 * ```
 */
export interface ServeGdbOptions {
  /** Address to bind. */
  hostname: string;
  /** Port (0: any free one). */
  port: number;
  /** The served URI's descriptor. */
  shared: IoDescriptor;
  /** The server's registry (for the monitor's shell). */
  registry: IoRegistry;
  /** Whether the server is read-only (no `M`/`X`/`G`/`P`). */
  readOnly: boolean;
  /** What `monitor` commands may do. */
  policy: CommandPolicy;
  /** `--allow-from`. */
  allowFrom?: AddressFilter;
  /** Most gdb clients at once. */
  maxConnections?: number;
  /** Milliseconds a new client has to send its first packet. */
  firstPacketTimeout?: number;
  /** Milliseconds a `monitor` command may run. */
  commandTimeout?: number;
  /** Open files in the monitor's session at most. */
  maxOpenFiles?: number;
  /** The monitor session's memory limit. */
  maxSessionMemory?: number;
  /** The server-wide memory budget. */
  memoryBudget?: MemoryBudget;
}

/**
 * A running `--gdb-port` server and what it holds.
 *
 * @example
 * ```ts
 * import type { ServeGdb } from "./serve_gdb.ts";
 * const stop = (g: ServeGdb) => g.close();
 * console.assert(typeof stop === "function");
 * ```
 */
export interface ServeGdb {
  /** The server. */
  server: GdbServer;
  /** Stop it, and close the monitor's shell and session. */
  close(): Promise<void>;
}

/**
 * Start the GDB server of `serve --gdb-port`.
 *
 * @param options See {@linkcode ServeGdbOptions}.
 * @returns The server, listening.
 * @throws {ListenError} If the port cannot be bound (naming `--gdb-port`).
 *
 * @example
 * ```ts
 * import { startGdbServer } from "./serve_gdb.ts";
 * console.assert(typeof startGdbServer === "function");
 * ```
 */
export function startGdbServer(options: ServeGdbOptions): ServeGdb {
  const { shared, readOnly } = options;
  const session = new PinnedSession({
    registry: new RemoteRegistry(options.registry),
    maxOpenFiles: options.maxOpenFiles,
    maxMemory: options.maxSessionMemory,
    memoryBudget: options.memoryBudget,
  });
  session.pin(session.add(new BorrowedDescriptor(shared)));
  const runner = createHttpCommandRunner({
    session,
    policy: options.policy,
    writable: !readOnly,
  });
  const file: GdbServedFile = {
    read: (offset, length) => shared.read(offset, length),
    ...(readOnly || !shared.writable
      ? {}
      : { write: (offset: number, data: Uint8Array) => shared.write(offset, data) }),
    ...(isGdbStubLink(shared) ? { link: shared } : {}),
  };
  let server: GdbServer;
  try {
    server = bindListener(options.hostname, options.port, () =>
      GdbServer.listen({
        hostname: options.hostname,
        port: options.port,
        file: () => file,
        monitor: async (command, signal, peer) => {
          const maxOutput = 1 << 20;
          const request = { peer, method: "qRcmd", secure: false, signal, maxOutput };
          const output = await runner.run(command, request);
          return typeof output === "string" ? output : new TextDecoder().decode(output);
        },
        allowFrom: options.allowFrom,
        maxConnections: options.maxConnections,
        firstPacketTimeout: options.firstPacketTimeout,
        commandTimeout: options.commandTimeout,
      }), "--gdb-port");
  } catch (error) {
    void runner.close().finally(() => session.release());
    throw error;
  }
  return {
    server,
    async close() {
      await server.close();
      await runner.close();
      await session.release();
    },
  };
}
