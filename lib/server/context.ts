/**
 * What the parts of a server see of each other: a connection sees its server through
 * {@linkcode ServerContext}, a request handler sees its connection through
 * {@linkcode ConnectionContext}, so that neither imports the other.
 *
 * @module
 */

import type { IoRegistry } from "../io/registry.ts";
import type { IoSession } from "../io/session.ts";
import type { TokenVerifier } from "../net/auth.ts";
import type { ConnectionSlots } from "../net/connection_slots.ts";
import type { PacketReader } from "../net/packet_reader.ts";
import type { QueuedWriter } from "../net/write_queue.ts";
import type { CommandContext, CommandHandler } from "./command.ts";
import type { ResolvedServerOptions } from "./options.ts";
import type { SharedDefault } from "./shared_default.ts";

/**
 * What a connection needs of its server.
 */
export interface ServerContext {
  /** The server's options, resolved. */
  readonly options: ResolvedServerOptions;
  /** The registry sessions open through (wrapped per connection). */
  readonly registry: IoRegistry;
  /** Runs CMD packets. */
  readonly commandHandler: CommandHandler;
  /** Checks tokens, on a server that requires one. */
  readonly tokens: TokenVerifier | undefined;
  /** The default file. */
  readonly shared: SharedDefault;
  /** The connection slots (for network files a session opens). */
  readonly slots: ConnectionSlots;
  /** Whether the server is shutting down. */
  readonly closing: boolean;
  /**
   * Requests being answered now, over all connections: with one, its handler may hold the
   * event loop for a file read (`ReadIntoOptions.atOnce`), as nobody else is waiting.
   */
  requestsUnderWay: number;
  /** Log a line. */
  log(line: string): void;
}

/**
 * What a request handler sees of its connection.
 */
export interface ConnectionContext {
  /** Its server. */
  readonly server: ServerContext;
  /** The client's own session (open files, seek). */
  readonly session: IoSession;
  /** Reads its requests. */
  readonly reader: PacketReader;
  /** Queues its replies. */
  readonly writer: QueuedWriter;
  /** What command handlers know of it. */
  readonly context: CommandContext;
  /** The negotiated `maxdata`, once the extensions are on. */
  ext: number | undefined;
  /** Views of in-memory files are queued: flush them before anything may write. */
  views: boolean;
  /** Whether the client may send requests (false until a server with a token saw it). */
  authenticated: boolean;
  /** A reverse CMD is waiting for the client's reply. */
  readonly reversing: boolean;
  /** A refused write of a read-only server was logged (once per connection). */
  readOnlyLogged: boolean;
  /** Why a timer closed the connection, if one did (logged instead of the error). */
  closeReason: string | undefined;
  /** Log a line about this connection. */
  log(line: string): void;
  /** The first request is complete: the connection leaves the pending pool. */
  proven(): void;
  /** Before a request that may write: let queued views of in-memory files go out. */
  settleViews(): Promise<void>;
  /** Give the session a view of the server's default file when it has none. */
  ensureDefault(): Promise<void>;
  /** A started request must arrive whole within `packetTimeout`. */
  startPacketTimer(): void;
  /** The awaited request arrived whole. */
  endPacketTimer(): void;
  /** Wait for a read from the client (ends early at shutdown). */
  wait<T>(start: () => Promise<T>): Promise<T>;
}
