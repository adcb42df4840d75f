/**
 * RapServer: a RAP server on `Deno.listen`, wire-compatible with radare2 clients, with one
 * IO session per connection.
 *
 * @module
 */

import type { AddressFilter } from "../net/address_filter.ts";
import { AcceptLoop } from "../net/accept_loop.ts";
import { lingerClose } from "../net/linger.ts";
import { type ConnectionSlot, ConnectionSlots } from "../net/connection_slots.ts";
import { TokenVerifier } from "../net/auth.ts";
import { IoError, PermissionDeniedError } from "../io/errors.ts";
import { IoRegistry } from "../io/registry.ts";
import { IoSession } from "../io/session.ts";
import { DEFAULT_MAX_MEMORY, MemoryBudget } from "../io/memory_budget.ts";
import { MemoryDescriptor } from "../io/memory_descriptor.ts";
import type { IoDescriptor } from "../io/types.ts";
import { listenWarning } from "../net/listen_warning.ts";
import { PacketReader } from "../net/packet_reader.ts";
import { RemoteRegistry } from "./remote_registry.ts";
import { BorrowedDescriptor } from "../io/borrowed_descriptor.ts";
import type { TlsCertificate } from "../net/tls.ts";
import {
  CURRENT_FD,
  EXT_MAX_DATA,
  EXT_MAX_DATA_LIMIT,
  EXT_OFFER,
  EXT_VERSION,
  ExtErrorCode,
  ExtOpcode,
  Opcode,
  RAP_CMD_REPLY_MAX,
  RAP_PACKET_MAX,
  REPLY_FLAG,
  UT64_MAX,
  Whence,
} from "../protocol/constants.ts";
import { putU32, putU64 } from "../protocol/_bytes.ts";
import { encodePacket } from "../protocol/encode.ts";
import { BadLengthError, RapProtocolError } from "../protocol/errors.ts";
import { EXT_OPS, formatOffer, parseProbe } from "../protocol/extensions.ts";
import type { PacketHeader } from "../protocol/decode.ts";
import type { RapPacket } from "../protocol/packets.ts";
import { VERSION } from "../version.ts";
import { QueuedWriter } from "../net/write_queue.ts";

/**
 * What a command handler knows about the connection whose CMD it runs.
 *
 * @example
 * ```ts
 * import type { CommandContext } from "@rap/cli";
 * const describe = (ctx: CommandContext) => `${ctx.remoteAddr.hostname} ro=${ctx.readOnly}`;
 * console.assert(typeof describe === "function");
 * ```
 */
export interface CommandContext {
  /** The connection's own IO session (its open files and seek). */
  session: IoSession;
  /** Whether the server is read-only. */
  readOnly: boolean;
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /**
   * Ask the client to run a command (a reverse CMD) while it waits for this CMD's reply.
   *
   * @param command The command for the client.
   * @returns The client's output (`null` for a zero-length reply).
   */
  reverseCommand(command: string): Promise<string | null>;
  /**
   * The most UTF-8 bytes the reply may hold (16383 for RAP: radare2 clients take no more).
   * A handler should stop producing output there; the server cuts longer replies.
   */
  maxOutput?: number;
  /**
   * Aborted when the server gives up on the command (`--cmd-timeout`): a handler should
   * stop its work then (its reply is not sent anyway).
   */
  signal?: AbortSignal;
}

/**
 * Runs the text of a CMD packet and returns its output (`null` answers with length 0),
 * at most `context.maxOutput` bytes; it should stop when `context.signal` is aborted.
 *
 * @example
 * ```ts
 * import type { CommandHandler } from "@rap/cli";
 * const echo: CommandHandler = (command) => Promise.resolve(`${command}\n`);
 * console.assert(typeof echo === "function");
 * ```
 */
export type CommandHandler = (command: string, context: CommandContext) => Promise<string | null>;

/**
 * The handler used until a shell is plugged in: answers the empty command radare2 sends
 * after OPEN, `#` comments (empty, as radare2) and `?V`, and refuses the rest with one line.
 *
 * @param command The command text.
 * @returns The output.
 *
 * @example
 * ```ts
 * import { basicCommandHandler } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await basicCommandHandler(""), "");
 * assert.match(await basicCommandHandler("?V"), /^\d+\.\d+\.\d+/);
 * assert.match(await basicCommandHandler("pd 10"), /not supported/);
 * ```
 */
export function basicCommandHandler(command: string): Promise<string> {
  const text = command.trim();
  if (text === "" || text.startsWith("#")) return Promise.resolve("");
  if (text === "?V") return Promise.resolve(`${VERSION} rap (deno ${Deno.version.deno})\n`);
  return Promise.resolve(`Command "${text}" is not supported by this server\n`);
}

/**
 * Options of {@linkcode RapServer.listen}.
 *
 * @example
 * ```ts
 * import type { RapServerOptions } from "@rap/cli";
 * const options: RapServerOptions = { hostname: "127.0.0.1", port: 0, readOnly: true };
 * console.assert(options.port === 0);
 * ```
 */
export interface RapServerOptions {
  /** Address to bind (default `127.0.0.1`; radare2 binds every interface). */
  hostname?: string;
  /** Port (default 9999; 0 picks a free one). */
  port?: number;
  /** Refuse writes and open everything read-only. */
  readOnly?: boolean;
  /**
   * A URI for sessions that read, seek or send CMD before any OPEN. It is opened once and
   * every session gets a view of it (all clients see the same bytes, as with radare2).
   */
  defaultUri?: string;
  /**
   * An already open descriptor to use instead of opening `defaultUri` (its owner closes it
   * after the server has stopped; sessions only get views of it).
   */
  defaultDescriptor?: IoDescriptor;
  /**
   * Most connections at once, counting the files sessions open over the network
   * (`rap://`, `tcp://` ...); when full, a connection that has not completed a request yet
   * is closed to make room, else the new one is refused (default 256).
   */
  maxConnections?: number;
  /**
   * Most connections in use from one client address (an IPv6 /64), counting the files its
   * sessions open over the network (default 64). Connections that have not completed a
   * request yet count against `maxPending` instead.
   */
  maxPerAddress?: number;
  /**
   * Most connections that have not completed a first request (with a token: not
   * authenticated) yet; when full, the oldest one of the address with the most is closed
   * to make room for a new one (default 64).
   */
  maxPending?: number;
  /**
   * Milliseconds from accept to the first complete request (with a token: the probe
   * carrying it; with TLS, the handshake included); the connection is closed otherwise
   * (default 10000; 0 = no limit).
   */
  firstRequestTimeout?: number;
  /** Close a connection idle for this many milliseconds (default 0 = never). */
  idleTimeout?: number;
  /** Most files one session may have open (default 64). */
  maxOpenFiles?: number;
  /** Most RAM the files one session opens may hold, in bytes (default 1 GiB). */
  maxSessionMemory?: number;
  /**
   * Most RAM the files of all sessions together may hold, in bytes, or a
   * {@linkcode MemoryBudget} shared with other servers (e.g. the HTTP endpoint's sessions)
   * (default {@linkcode DEFAULT_MAX_MEMORY}, 2 GiB; `--max-memory`). `maxSessionMemory`
   * applies to each session on top of it.
   */
  maxMemory?: number | MemoryBudget;
  /** The registry that opens URIs (default: the built-in plugins). */
  registry?: IoRegistry;
  /** Runs CMD packets (default {@linkcode basicCommandHandler}). */
  commandHandler?: CommandHandler;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
  /**
   * The rap extensions offered to clients that probe for them (`docs/protocol.md`): on by
   * default with payloads up to 8 MiB. `false` answers the probe as radare2 does (an empty
   * string), so every client stays on plain RAP.
   */
  extensions?: boolean | RapServerExtensionOptions;
  /** Serve `raps://`: TLS with this certificate chain and key (see `lib/net/tls.ts`). */
  tls?: TlsCertificate;
  /**
   * Require this token: a client's first request must be an extension probe carrying
   * `token=...` (`docs/protocol.md`, Authentication); anything else closes the connection.
   * Plain radare2 clients cannot authenticate.
   */
  token?: string;
  /** Accept only clients whose address is in this filter (`--allow-from`). */
  allowFrom?: AddressFilter;
  /**
   * Milliseconds a started request (its first byte received) has to arrive whole; the
   * connection is closed otherwise (default 10000; 0 = no limit). With TLS or a token, the
   * handshake and the first request must also arrive within it from the connection.
   * A large extended WRITE gets it for each 1 MiB piece.
   */
  packetTimeout?: number;
  /**
   * Milliseconds one CMD may run before it is answered with an error line (default 5000;
   * 0 = no limit). radare2 clients give up after about 1 s anyway. The command is stopped
   * through `CommandContext.signal` (the shell's commands check it as they go), and its
   * output is dropped.
   */
  commandTimeout?: number;
  /** Length of the kernel's queue of connections not yet accepted (default 511, Deno's). */
  backlog?: number;
  /**
   * On {@linkcode RapServer.close}, milliseconds to finish the replies to requests already
   * received before every connection is closed regardless (default 3000).
   */
  shutdownTimeout?: number;
  /** Sync each write to disk before it is acknowledged (files that support it). */
  fsync?: boolean;
}

/**
 * Limits of the extensions a {@linkcode RapServer} offers.
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * await using server = RapServer.listen({ port: 0, log: () => {}, extensions: { maxData: 1 << 20 } });
 * console.assert(server.addr.port > 0);
 * ```
 */
export interface RapServerExtensionOptions {
  /** Largest extended READ/WRITE payload (default 8 MiB, at least 4096, at most 256 MiB). */
  maxData?: number;
}

/**
 * Per-connection buffering of {@linkcode RapServer}: large payloads move in pieces of
 * `piece` bytes, and a connection stops reading requests while more than `highWaterMark`
 * reply bytes wait for the client (TCP flow control then holds the client back). The
 * memory one connection holds is therefore bounded by about
 * `piece` (a request being received) + `highWaterMark + piece` (replies queued) + 640 KiB
 * (read buffer, write batches): about 3.6 MiB, whatever `maxdata` is, whatever the client
 * sends and however slowly it reads. In-memory files (`malloc://` ...) are sent as views
 * of their own bytes, so their replies cost no extra memory.
 *
 * @example
 * ```ts
 * import { SERVER_BUFFERS } from "@rap/cli";
 * console.assert(SERVER_BUFFERS.piece === 1 << 20);
 * ```
 */
export const SERVER_BUFFERS: Readonly<{ piece: number; highWaterMark: number }> = {
  piece: 1024 * 1024,
  highWaterMark: 1024 * 1024,
};

/** Thrown inside a connection to close it with a logged reason. */
class DropConnection extends Error {}

/** Thrown inside a connection when the server is shutting down and the client is quiet. */
class ShuttingDown extends Error {}

/** How long a connection may stay quiet during a shutdown before it counts as done. */
const SHUTDOWN_QUIET_MS = 100;

/** A descriptor that can be synced to disk (`FileDescriptor` and the files built on it). */
type Syncable = IoDescriptor & { sync?: () => Promise<void> };

/**
 * The default URI's descriptor as one session sees it: shared by every session, never
 * closed by them (the server closes it when it stops).
 */
class SharedView extends BorrowedDescriptor {
  readonly #inner: Syncable;
  constructor(inner: IoDescriptor) {
    super(inner);
    this.#inner = inner;
  }
  sync(): Promise<void> {
    return this.#inner.sync?.() ?? Promise.resolve();
  }
}

/** A failure answered with an extended error reply (or, on a plain connection, as before). */
class ReplyError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const STOP = Symbol("stop");
const U64 = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function formatAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}

/**
 * Cut `text` so that it encodes to at most `max` UTF-8 bytes: a guard of the wire for
 * handlers that ignore `CommandContext.maxOutput` (the shell's handler cuts its output
 * itself, while it is produced, and never reaches it).
 */
function capOutput(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  return decoder.decode(bytes.subarray(0, max)).replace(/\uFFFD$/, "");
}

/**
 * Accept the `rap://host:port//gzip:///x.gz` form: a name that is a URI behind one slash
 * is opened as that URI.
 */
function openTarget(name: string): string {
  return /^\/[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(name) ? name.slice(1) : name;
}

/** The extended error code for a failure of the IO layer. */
function ioErrorCode(error: unknown): number {
  if (error instanceof PermissionDeniedError || error instanceof Deno.errors.NotCapable) {
    return ExtErrorCode.NOT_PERMITTED;
  }
  return ExtErrorCode.IO_ERROR;
}

/** Queue a 5-byte reply (`op | value:be32`), encoded in place. */
function reply32(writer: QueuedWriter, op: number, value: number): void {
  const b = writer.reserve(5);
  b[0] = op;
  putU32(b, 1, value);
}

/** Queue a 9-byte reply (`op | value:be64`), encoded in place. */
function reply64(writer: QueuedWriter, op: number, value: bigint): void {
  const b = writer.reserve(9);
  b[0] = op;
  putU64(b, 1, value);
}

/**
 * The bytes of an in-memory descriptor whose reads are plain copies of them: the server
 * sends views of them instead of copies. A connection's in-memory files belong to its own
 * session, so only its own later requests can change them, and the server waits for the
 * views to be written before it handles a request that may write (see `Connection.views`).
 */
function memoryBytes(desc: IoDescriptor | undefined): Uint8Array | undefined {
  return desc instanceof MemoryDescriptor && desc.read === MemoryDescriptor.prototype.read
    ? desc.bytes
    : undefined;
}

const OPEN_REPLY = Opcode.OPEN | REPLY_FLAG;
const READ_REPLY = Opcode.READ | REPLY_FLAG;
const WRITE_REPLY = Opcode.WRITE | REPLY_FLAG;
const SEEK_REPLY = Opcode.SEEK | REPLY_FLAG;
const CLOSE_REPLY = Opcode.CLOSE | REPLY_FLAG;
const READ_AT_REPLY = ExtOpcode.READ_AT | REPLY_FLAG;
const WRITE_AT_REPLY = ExtOpcode.WRITE_AT | REPLY_FLAG;
const SIZE_REPLY = ExtOpcode.SIZE | REPLY_FLAG;

/** The state of one connection. */
interface Connection {
  peer: string;
  conn: Deno.Conn;
  session: IoSession;
  reader: PacketReader;
  writer: QueuedWriter;
  context: CommandContext;
  /** The negotiated `maxdata`, once the extensions are on. */
  ext: number | undefined;
  /** Views of in-memory files are queued: flush them before anything may write. */
  views: boolean;
  /** Whether the client may send requests (false until a server with a token saw it). */
  authenticated: boolean;
  /**
   * Its connection slot: pending until the first complete request (or the token), and
   * closed (see {@linkcode RapServer.#evict}) if that does not come in time.
   */
  slot: ConnectionSlot;
  /** Why the connection was closed by a timer (logged instead of "disconnected"). */
  closeReason: string | undefined;
  /** A reverse CMD is waiting for the client's reply. */
  reversing: boolean;
  /** Ends the current wait for the client (at shutdown). */
  interrupt: ((stop: typeof STOP) => void) | undefined;
  /** Bytes arrived during the current wait. */
  received: boolean;
  /** The read from the client under way, if any (settled before the connection ends). */
  pending: Promise<unknown> | undefined;
}

/**
 * A RAP server. Each connection has its own {@linkcode IoSession}: its own open files,
 * seek and permissions, unlike radare2, which shares one state between all clients.
 * Malformed input closes only the offending connection, with a logged reason.
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
  readonly #options: RapServerOptions;
  /** The server's registry; each session opens through a {@linkcode RemoteRegistry} of it. */
  readonly #registry: IoRegistry;
  readonly #slots: ConnectionSlots;
  readonly #handler: CommandHandler;
  readonly #log: (line: string) => void;
  readonly #maxExtData: number | undefined;
  readonly #connections = new Map<Deno.Conn, Connection | undefined>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #tokens: TokenVerifier | undefined;
  #shared: Promise<IoDescriptor> | undefined;
  readonly #ownsShared: boolean;
  #closing = false;

  private constructor(
    listener: Deno.Listener,
    options: RapServerOptions,
    shared?: IoDescriptor,
  ) {
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.memoryBudget = options.maxMemory instanceof MemoryBudget
      ? options.maxMemory
      : new MemoryBudget(options.maxMemory ?? DEFAULT_MAX_MEMORY);
    this.#registry = options.registry ?? new IoRegistry();
    this.#slots = new ConnectionSlots({
      maxConnections: options.maxConnections,
      maxPerAddress: options.maxPerAddress,
      maxPending: options.maxPending,
      pendingTimeout: options.firstRequestTimeout,
    });
    this.#tokens = options.token === undefined ? undefined : new TokenVerifier(options.token);
    const given = shared ?? options.defaultDescriptor;
    if (given !== undefined) this.#shared = Promise.resolve(given);
    this.#ownsShared = options.defaultDescriptor === undefined;
    this.#handler = options.commandHandler ?? ((command) => basicCommandHandler(command));
    this.#log = options.log ?? ((line) => console.error(line));
    const ext = options.extensions ?? true;
    this.#maxExtData = ext === false ? undefined : Math.min(
      EXT_MAX_DATA_LIMIT,
      Math.max(RAP_PACKET_MAX, (ext === true ? undefined : ext.maxData) ?? EXT_MAX_DATA),
    );
    const warning = listenWarning(formatAddr(this.addr), this.addr.hostname, {
      tls: options.tls !== undefined,
      token: options.token !== undefined,
    });
    if (warning !== undefined) this.#log(warning);
    this.#accepting = new AcceptLoop(listener, {
      label: "[rap]",
      log: this.#log,
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
    const address = {
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 9999,
      transport: "tcp" as const,
      ...(options.backlog === undefined ? {} : { tcpBacklog: options.backlog }),
    };
    const listener: Deno.Listener = options.tls === undefined
      ? Deno.listen(address)
      : Deno.listenTls({ ...address, cert: options.tls.cert, key: options.tls.key });
    return new RapServer(listener, options, shared);
  }

  /** The address clients connect to, as a URI (`rap://` or `raps://`). */
  get url(): string {
    const host = this.addr.hostname.includes(":") ? `[${this.addr.hostname}]` : this.addr.hostname;
    return `${this.#options.tls === undefined ? "rap" : "raps"}://${host}:${this.addr.port}/`;
  }

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
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
    const peer = formatAddr(conn.remoteAddr);
    const hostname = (conn.remoteAddr as Deno.NetAddr).hostname;
    const allowFrom = this.#options.allowFrom;
    if (allowFrom && !allowFrom.allows(hostname)) {
      this.#log(`[rap] ${peer}: refused, address not in --allow-from ${allowFrom}`);
      conn.close();
      return;
    }
    const slot = this.#slots.admit(hostname, (reason) => this.#evict(conn, reason));
    if (typeof slot === "string") {
      this.#log(`[rap] ${peer}: refused, ${slot}`);
      conn.close();
      return;
    }
    this.#connections.set(conn, undefined);
    const task = this.#serve(conn, slot).finally(() => {
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
   * The connection completed its first request (with a token: authenticated): it leaves
   * the pending pool, unless its address already has all the slots it may use.
   */
  #proven(c: Connection): void {
    if (!c.slot.pending) return;
    const refusal = c.slot.promote();
    if (refusal !== undefined) throw new DropConnection(`refused, ${refusal}`);
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
      this.#log(`[rap] ${(error as Error).message}`);
      this.close().catch(() => {});
    }
    await Promise.allSettled([...this.#tasks]);
    const shared = this.#ownsShared ? await this.#shared?.catch(() => undefined) : undefined;
    await shared?.close().catch((error) =>
      this.#log(`[rap] error closing ${shared.uri}: ${(error as Error).message}`)
    );
    if (failure !== undefined) throw failure;
  }

  async #serve(conn: Deno.Conn, slot: ConnectionSlot): Promise<void> {
    const peer = formatAddr(conn.remoteAddr);
    const hostname = (conn.remoteAddr as Deno.NetAddr).hostname;
    const readOnly = this.#options.readOnly ?? false;
    (conn as Deno.TcpConn).setNoDelay?.(true);
    this.#log(`[rap] ${peer}: connected`);
    const session = new IoSession({
      // Not the server's stdin, not the server itself; network files take connection slots.
      registry: new RemoteRegistry(this.#registry, {
        reserveConnection: () => this.#slots.reserveOutbound(hostname),
      }),
      maxOpenFiles: this.#options.maxOpenFiles,
      maxMemory: this.#options.maxSessionMemory ?? 2 ** 30,
      memoryBudget: this.memoryBudget,
    });
    const reader = new PacketReader(conn, { role: "server", maxData: RAP_PACKET_MAX });
    const writer = new QueuedWriter(conn, { highWaterMark: SERVER_BUFFERS.highWaterMark });

    const idle = this.#options.idleTimeout ?? 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      if (idle <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.#log(`[rap] ${peer}: closed after ${idle} ms idle (--idle-timeout)`);
        try {
          conn.close();
        } catch { /* already closed */ }
      }, idle);
    };
    armIdle();

    // A started request must arrive whole within packetTimeout (slow senders); the timer
    // runs while the server waits for the rest of a packet.
    const packetTimeout = this.#options.packetTimeout ?? 10_000;
    let packetTimer: ReturnType<typeof setTimeout> | undefined;
    const startPacketTimer = () => {
      if (packetTimeout <= 0 || packetTimer !== undefined) return;
      packetTimer = setTimeout(() => {
        c.closeReason =
          `closed: request not complete within ${packetTimeout} ms (--packet-timeout)`;
        try {
          conn.close();
        } catch { /* already closed */ }
      }, packetTimeout);
    };
    const endPacketTimer = () => {
      clearTimeout(packetTimer);
      packetTimer = undefined;
    };
    reader.onData = () => {
      c.received = true;
      if (c.slot.pending) c.slot.started();
      armIdle();
      startPacketTimer();
    };

    const c: Connection = {
      peer,
      conn,
      session,
      reader,
      writer,
      ext: undefined,
      views: false,
      authenticated: this.#tokens === undefined,
      slot,
      closeReason: undefined,
      reversing: false,
      interrupt: undefined,
      received: false,
      pending: undefined,
      context: {
        session,
        readOnly,
        remoteAddr: conn.remoteAddr as Deno.NetAddr,
        maxOutput: RAP_CMD_REPLY_MAX - 1,
        reverseCommand: async (command) => {
          writer.write(encodePacket({ type: "cmd", command }));
          writer.uncork();
          c.reversing = true;
          let reply;
          try {
            reply = await this.#wait(c, () => reader.next(), startPacketTimer);
          } finally {
            c.reversing = false;
            endPacketTimer();
          }
          writer.cork();
          if (reply === null) throw new DropConnection("closed during a reverse CMD");
          if (reply.type !== "cmd_reply") {
            throw new DropConnection(`sent "${reply.type}" instead of a reverse CMD reply`);
          }
          return reply.output;
        },
      },
    };
    this.#connections.set(conn, c);

    let reason = "disconnected";
    let linger = false;
    try {
      if (this.#options.tls !== undefined || this.#tokens !== undefined) {
        // The handshake and the first request (the token) must come within packetTimeout.
        startPacketTimer();
      }
      if (this.#options.tls !== undefined) {
        try {
          await this.#wait(c, () => (conn as Deno.TlsConn).handshake(), startPacketTimer);
        } catch (error) {
          if (error instanceof ShuttingDown || c.closeReason !== undefined) throw error;
          throw new DropConnection(
            `TLS handshake failed: ${(error as Error).message}` +
              (/corrupt message|InvalidContentType/i.test((error as Error).message)
                ? " (a plain rap:// client?)"
                : ""),
          );
        }
        if (this.#tokens === undefined) endPacketTimer();
      }
      // Replies to a batch of pipelined requests are held back (corked) until the batch is
      // answered, then leave in one write.
      writer.cork();
      for (;;) {
        if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
        let header: PacketHeader | null | undefined = reader.bufferedHeader();
        if (header === undefined) {
          writer.uncork();
          header = await this.#wait(c, () => reader.header(), startPacketTimer);
          writer.cork();
        }
        if (!header) break;
        if (header.opcode === ExtOpcode.WRITE_AT && header.payloadSize > SERVER_BUFFERS.piece) {
          if (!c.authenticated) throw new DropConnection(this.#unauthenticated());
          this.#proven(c);
          await this.#streamWrite(c, header, startPacketTimer, endPacketTimer);
          continue;
        }
        let packet: RapPacket | null | undefined = reader.buffered();
        if (packet === undefined) {
          writer.uncork();
          packet = await this.#wait(c, () => reader.next(), startPacketTimer);
          writer.cork();
        }
        if (!packet) break;
        endPacketTimer();
        if (!c.authenticated) await this.#authenticate(c, packet);
        else {
          this.#proven(c);
          await this.#handle(c, packet);
        }
      }
      writer.uncork();
      await writer.flush();
    } catch (error) {
      writer.uncork();
      if (c.closeReason !== undefined) {
        reason = c.closeReason;
      } else if (error instanceof ShuttingDown) {
        reason = "closed: server shutting down";
        await writer.flush().catch(() => {});
      } else if (error instanceof DropConnection || error instanceof RapProtocolError) {
        linger = true;
        reason = `closed: ${error.message}`;
        if (error instanceof RapProtocolError && error.opcode === 0x16 && !c.ext) {
          reason += " (a TLS client? serve raps:// with --cert and --key)";
        }
        if (c.ext !== undefined && error instanceof RapProtocolError) {
          const code = error instanceof BadLengthError
            ? ExtErrorCode.TOO_LONG
            : ExtErrorCode.BAD_REQUEST;
          writer.write(encodePacket({ type: "error", code, message: error.message }));
        }
        await writer.flush().catch(() => {});
      } else if (
        error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted
      ) {
        reason = this.#closing ? "closed: server shutting down" : "disconnected";
      } else {
        reason = `closed after an internal error: ${(error as Error).message}`;
      }
    } finally {
      clearTimeout(timer);
      endPacketTimer();
      // The client may have sent more: end our side, drop the rest, then close (lingerClose).
      const lingering = linger && !this.#closing
        ? lingerClose(conn, { pending: c?.pending })
        : undefined;
      if (lingering === undefined) {
        try {
          conn.close();
        } catch { /* already closed */ }
        // A read still under way fails once the connection is closed: let it settle, so no
        // operation outlives the connection's task (and the server's `finished`).
        await c?.pending?.catch(() => {});
      }
      await session.closeAll().catch((error) =>
        this.#log(`[rap] ${peer}: error closing files: ${(error as Error).message}`)
      );
      this.#log(`[rap] ${peer}: ${reason}`);
      await lingering;
    }
  }

  /**
   * Give a session without a file a view of the default URI's descriptor, opened once for
   * all sessions (on first use when the server was made with `listen`; a failure is
   * retried by the next session).
   */
  async #ensureDefault(session: IoSession, readOnly: boolean): Promise<void> {
    const uri = this.#options.defaultUri;
    if (session.current !== undefined) return;
    if (uri === undefined && this.#shared === undefined) return;
    if (this.#shared === undefined && uri !== undefined) {
      const opening = (this.#options.registry ?? new IoRegistry()).open(uri, { write: !readOnly });
      this.#shared = opening;
      opening.catch(() => {
        if (this.#shared === opening) this.#shared = undefined;
      });
    }
    let shared: IoDescriptor;
    try {
      shared = await this.#shared!;
    } catch (error) {
      throw new DropConnection(`cannot open the default URI: ${(error as Error).message}`);
    }
    if (session.current === undefined) session.add(new SharedView(shared));
  }

  /**
   * Wait for `start()` (a read from the client). While the server shuts down, the wait ends
   * with {@linkcode ShuttingDown} once the client has been quiet for a moment: requests
   * already on their way are still answered, a client that sends nothing more is closed.
   * When a started packet is buffered, `onPartial` starts its deadline.
   */
  async #wait<T>(c: Connection, start: () => Promise<T>, onPartial: () => void): Promise<T> {
    // Before `start`: a read moves the buffered rest of a packet out of the decoder.
    const partial = c.reader.decoder.buffered > 0;
    if (partial) onPartial();
    c.received = false;
    const op = start();
    c.pending = op;
    if (!this.#closing) {
      // A promise of this wait's own (not a long-lived one: each race adds a reaction).
      const stop = Promise.withResolvers<typeof STOP>();
      c.interrupt = stop.resolve;
      try {
        const first = await Promise.race([op, stop.promise]);
        if (first !== STOP) return first as T;
      } finally {
        c.interrupt = undefined;
      }
      op.catch(() => {}); // it fails when the connection closes
      // Idle when the shutdown began (nothing of a request here): done at once.
      if (!partial && !c.received) throw new ShuttingDown("server shutting down");
    }
    op.catch(() => {}); // it fails when the connection closes
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<typeof STOP>((resolve) => {
      timer = setTimeout(() => resolve(STOP), SHUTDOWN_QUIET_MS);
    });
    try {
      const result = await Promise.race([op, quiet]);
      if (result === STOP) throw new ShuttingDown("server shutting down");
      return result as T;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why an unauthenticated request closes the connection (the log line). */
  #unauthenticated(): string {
    return "refused: the first request is not an extension probe with a token (--token-file); " +
      "plain radare2 clients cannot authenticate";
  }

  /**
   * The first request on a server with a token: an extension probe carrying the right
   * token lets the client in (and is answered like any probe); anything else closes the
   * connection. The token is never logged.
   */
  async #authenticate(c: Connection, packet: RapPacket): Promise<void> {
    const probe = packet.type === "cmd" && packet.command !== null
      ? parseProbe(packet.command)
      : undefined;
    if (probe === undefined) throw new DropConnection(this.#unauthenticated());
    const presented = probe.params.token;
    if (!await this.#tokens!.verify(presented)) {
      const auth = presented === undefined ? "required" : "denied";
      c.writer.write(
        encodePacket({ type: "cmd_reply", output: `${EXT_OFFER} ${EXT_VERSION} auth=${auth}\n` }),
      );
      await c.writer.flush().catch(() => {});
      throw new DropConnection(
        presented === undefined
          ? "refused: no token in the probe (--token-file)"
          : "refused: wrong token (--token-file)",
      );
    }
    c.authenticated = true;
    this.#proven(c);
    this.#log(`[rap] ${c.peer}: authenticated`);
    c.writer.write(encodePacket({ type: "cmd_reply", output: this.#negotiate(c, probe.params) }));
  }

  /** Run a CMD under the command timeout: on expiry, one error line answers it. */
  async #runCommand(c: Connection, command: string): Promise<string | null> {
    const limit = this.#options.commandTimeout ?? 5000;
    if (limit <= 0) return await this.#handler(command, c.context);
    // A command given up must not reach the client later: its reverse CMDs would
    // interleave with the next requests' replies. Its signal stops it.
    let abandoned = false;
    const stop = new AbortController();
    const context: CommandContext = {
      ...c.context,
      signal: stop.signal,
      reverseCommand: (text) =>
        abandoned
          ? Promise.reject(new Error(`The command timed out (--cmd-timeout)`))
          : c.context.reverseCommand(text),
    };
    const running = this.#handler(command, context);
    running.catch(() => {}); // a late failure of an abandoned command
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<typeof STOP>((resolve) => {
      timer = setTimeout(() => resolve(STOP), limit);
    });
    try {
      const result = await Promise.race([running, expired]);
      if (result !== STOP) return result as string | null;
    } finally {
      clearTimeout(timer);
    }
    abandoned = true;
    stop.abort(new Error(`The command timed out after ${limit} ms (--cmd-timeout)`));
    if (c.reversing) {
      // Its reverse CMD still waits for the client: the stream cannot be kept in step.
      throw new DropConnection(
        `command timed out after ${limit} ms during a reverse CMD (--cmd-timeout)`,
      );
    }
    this.#log(`[rap] ${c.peer}: command timed out after ${limit} ms (--cmd-timeout)`);
    return `Command timed out after ${limit} ms (--cmd-timeout)\n`;
  }

  /** With `fsync`, sync a written descriptor to disk (those that support it). */
  async #sync(desc: IoDescriptor | undefined): Promise<void> {
    if (this.#options.fsync && desc !== undefined) await (desc as Syncable).sync?.();
  }

  /** The descriptor an extended request addresses. */
  async #descriptor(c: Connection, fd: number): Promise<IoDescriptor> {
    if (fd === CURRENT_FD) {
      await this.#ensureDefault(c.session, c.context.readOnly);
      const current = c.session.current;
      if (current) return current;
      throw new ReplyError(ExtErrorCode.BAD_FD, "No file is open");
    }
    const desc = c.session.get(fd);
    if (!desc) throw new ReplyError(ExtErrorCode.BAD_FD, `No open file with fd ${fd}`);
    return desc;
  }

  #writable(c: Connection, desc: IoDescriptor): void {
    if (c.context.readOnly) {
      throw new ReplyError(ExtErrorCode.READ_ONLY, "The server is read-only (--read-only)");
    }
    if (!desc.writable) {
      throw new ReplyError(
        ExtErrorCode.READ_ONLY,
        `Cannot write to "${desc.uri}": opened read-only`,
      );
    }
    try {
      c.session.checkWriteMemory(desc);
    } catch (error) {
      throw new ReplyError(ExtErrorCode.NOT_PERMITTED, (error as Error).message);
    }
  }

  #offset(offset: bigint): number {
    if (offset > MAX_SAFE) {
      throw new ReplyError(
        ExtErrorCode.BAD_REQUEST,
        `Offset 0x${offset.toString(16)} is too large`,
      );
    }
    return Number(offset);
  }

  /** Before a request that may write: let queued views of in-memory files go out first. */
  async #settleViews(c: Connection): Promise<void> {
    if (!c.views) return;
    await c.writer.flush();
    c.views = false;
  }

  async #handle(c: Connection, packet: RapPacket): Promise<void> {
    const { session, writer } = c;
    const readOnly = c.context.readOnly;
    if (
      c.views && (packet.type === "write" || packet.type === "write_at" || packet.type === "cmd")
    ) {
      await this.#settleViews(c);
    }
    switch (packet.type) {
      case "open": {
        const write = !readOnly && (packet.flags & 2) !== 0;
        let fd: number;
        try {
          if (packet.name === "") throw new IoError("", "OPEN with an empty name");
          fd = await session.open(openTarget(packet.name), { write });
        } catch (error) {
          // radare2 clients only notice a failed OPEN when the connection closes; a client
          // that negotiated the extensions gets an error reply instead.
          if (/too many open files/.test((error as Error).message)) {
            (error as Error).message += " (--max-open-files)";
          }
          if (c.ext === undefined) {
            throw new DropConnection(
              packet.name === ""
                ? "OPEN with an empty name"
                : `OPEN failed: ${(error as Error).message}`,
            );
          }
          this.#log(`[rap] ${c.peer}: OPEN failed: ${(error as Error).message}`);
          const code = error instanceof PermissionDeniedError ||
              error instanceof Deno.errors.NotCapable
            ? ExtErrorCode.NOT_PERMITTED
            : ExtErrorCode.OPEN_FAILED;
          writer.write(encodePacket({ type: "error", code, message: (error as Error).message }));
          return;
        }
        session.seek = 0n;
        reply32(writer, OPEN_REPLY, fd);
        return;
      }
      case "read": {
        if (packet.length >= 0x80000000) {
          throw new DropConnection(`invalid READ length ${packet.length}`);
        }
        const length = Math.min(packet.length, RAP_PACKET_MAX);
        if (session.current === undefined) await this.#ensureDefault(session, readOnly);
        const mem = memoryBytes(session.current);
        const end = session.seek + BigInt(length);
        if (mem !== undefined && end <= BigInt(mem.length)) {
          // Copied into the reply batch at once: no copy of our own, no allocation.
          reply32(writer, READ_REPLY, length);
          writer.write(mem.subarray(Number(session.seek), Number(end)));
          return;
        }
        let data: Uint8Array;
        try {
          data = await session.readAt(session.seek, length);
        } catch (error) {
          this.#log(
            `[rap] read at 0x${session.seek.toString(16)} failed: ${(error as Error).message}`,
          );
          data = new Uint8Array(length).fill(0xff);
        }
        reply32(writer, READ_REPLY, data.length);
        writer.write(data);
        return;
      }
      case "write": {
        if (session.current === undefined) await this.#ensureDefault(session, readOnly);
        let written = 0;
        if (!readOnly && packet.data.length > 0) {
          try {
            written = await session.writeAt(session.seek, packet.data);
          } catch (error) {
            // radare2's reply has no room for a reason: 0 written (an error reply once the
            // extensions are on).
            return this.#failed(
              c,
              `WRITE at 0x${session.seek.toString(16)}`,
              error,
              () => reply32(writer, WRITE_REPLY, 0),
            );
          }
          if (written > 0 && this.#options.fsync) {
            try {
              await this.#sync(session.current);
            } catch (error) {
              // Not on disk: not acknowledged (radare2's reply has no room for a reason).
              this.#log(`[rap] ${c.peer}: sync failed: ${(error as Error).message}`);
              written = 0;
            }
          }
        }
        reply32(writer, WRITE_REPLY, written);
        return;
      }
      case "seek": {
        if (session.current === undefined) await this.#ensureDefault(session, readOnly);
        if (packet.whence === Whence.SET) session.seek = packet.offset;
        else if (packet.whence === Whence.CUR) session.seek = (session.seek + packet.offset) & U64;
        else if (packet.whence === Whence.END) {
          let size: bigint;
          try {
            size = await session.size();
          } catch (error) {
            // The seek stays; -1 is what radare2 answers for a size it cannot get.
            return this.#failed(c, "SEEK END", error, () => reply64(writer, SEEK_REPLY, UT64_MAX));
          }
          session.seek = size === UT64_MAX ? UT64_MAX : (size + packet.offset) & U64;
        }
        reply64(writer, SEEK_REPLY, session.seek);
        return;
      }
      case "close": {
        const closed = await session.close(packet.fd).catch(() => false);
        reply32(writer, CLOSE_REPLY, closed ? 0 : -1);
        return;
      }
      case "cmd": {
        if (packet.command === null) {
          writer.write(encodePacket({ type: "cmd_reply", output: null }));
          return;
        }
        const probe = parseProbe(packet.command);
        if (probe !== undefined) {
          writer.write(
            encodePacket({ type: "cmd_reply", output: this.#negotiate(c, probe.params) }),
          );
          return;
        }
        await this.#ensureDefault(session, readOnly).catch(() => {});
        writer.uncork(); // a command may take a while: let earlier replies go
        const output = await this.#runCommand(c, packet.command);
        writer.cork();
        writer.write(encodePacket({
          type: "cmd_reply",
          output: output === null ? null : capOutput(output, RAP_CMD_REPLY_MAX - 1),
        }));
        return;
      }
      case "read_at":
      case "write_at":
      case "size":
        try {
          await this.#handleExtended(c, packet);
        } catch (error) {
          if (!(error instanceof ReplyError)) throw error;
          writer.write(encodePacket({ type: "error", code: error.code, message: error.message }));
        }
        return;
      default:
        throw new DropConnection(`unexpected "${packet.type}" packet`);
    }
  }

  /**
   * A plain request the IO layer failed: logged, then answered with an error reply once
   * the extensions are on, else with `plain()` (radare2's answer, which has no room for a
   * reason).
   */
  #failed(c: Connection, what: string, error: unknown, plain: () => void): void {
    const message = (error as Error).message;
    this.#log(`[rap] ${c.peer}: ${what} failed: ${message}`);
    if (c.ext === undefined) return plain();
    c.writer.write(encodePacket({ type: "error", code: ioErrorCode(error), message }));
  }

  /** Answer a probe: the offer, and the extensions are on from the next packet. */
  #negotiate(c: Connection, params: Record<string, string>): string {
    if (this.#maxExtData === undefined) return "";
    const asked = Number(params.maxdata);
    const maxData = Number.isInteger(asked) && asked >= RAP_PACKET_MAX
      ? Math.min(asked, this.#maxExtData)
      : this.#maxExtData;
    if (c.ext === undefined) {
      c.reader.decoder.enableExtensions(maxData);
      c.ext = maxData;
      this.#log(`[rap] ${c.peer}: extensions on (maxdata ${maxData})`);
    }
    return formatOffer({
      version: EXT_VERSION,
      maxData: c.ext,
      ops: [...EXT_OPS],
      params: this.#tokens === undefined ? {} : { auth: "ok" },
    });
  }

  async #handleExtended(
    c: Connection,
    packet: Extract<RapPacket, { type: "read_at" | "write_at" | "size" }>,
  ): Promise<void> {
    const writer = c.writer;
    const desc = await this.#descriptor(c, packet.fd);
    switch (packet.type) {
      case "size": {
        const size = await desc.size().catch((error) => {
          throw new ReplyError(ioErrorCode(error), (error as Error).message);
        });
        reply64(writer, SIZE_REPLY, Number.isFinite(size) ? BigInt(size) : UT64_MAX);
        return;
      }
      case "write_at": {
        this.#writable(c, desc);
        const offset = this.#offset(packet.offset);
        const written = packet.data.length === 0
          ? 0
          : await c.session.writeTo(desc, offset, packet.data).catch((error) => {
            throw new ReplyError(ioErrorCode(error), (error as Error).message);
          });
        await this.#sync(desc).catch((error) => {
          throw new ReplyError(ExtErrorCode.IO_ERROR, `sync failed: ${(error as Error).message}`);
        });
        reply32(writer, WRITE_AT_REPLY, written);
        return;
      }
      case "read_at":
        return await this.#streamRead(c, desc, packet.offset, packet.length);
    }
  }

  /**
   * An extended READ: the first piece is read before the header goes out (so a failure
   * can still be an error reply), later pieces stream from the plugin to the socket.
   */
  async #streamRead(c: Connection, desc: IoDescriptor, at: bigint, length: number) {
    const max = c.ext!;
    if (length > max) {
      throw new ReplyError(ExtErrorCode.TOO_LONG, `READ of ${length} bytes is over maxdata ${max}`);
    }
    const writer = c.writer;
    const piece = SERVER_BUFFERS.piece;
    const offset = this.#offset(at);
    const mem = memoryBytes(desc);
    if (mem !== undefined) {
      // In-memory file: views of its bytes go to the socket, no copy (see memoryBytes).
      const view = mem.subarray(
        Math.min(offset, mem.length),
        Math.min(mem.length, offset + length),
      );
      reply32(writer, READ_AT_REPLY, view.length);
      for (let done = 0; done < view.length; done += piece) {
        if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
        writer.write(view.subarray(done, done + piece));
      }
      c.views = true;
      return;
    }
    const read = (offset: number, n: number) =>
      desc.read(offset, n).catch((error) => {
        throw new ReplyError(ioErrorCode(error), (error as Error).message);
      });
    const firstLength = Math.min(length, piece);
    const first = firstLength === 0 ? new Uint8Array(0) : await read(offset, firstLength);
    let total = first.length;
    if (first.length === firstLength && length > piece) {
      const size = await desc.size().catch(() => Infinity);
      total = Math.max(first.length, Math.min(length, size - offset));
    }
    reply32(writer, READ_AT_REPLY, total);
    writer.write(first.length > total ? first.subarray(0, total) : first);
    let done = Math.min(first.length, total);
    while (done < total) {
      if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
      const n = Math.min(piece, total - done);
      let data: Uint8Array;
      try {
        data = await desc.read(offset + done, n);
      } catch (error) {
        this.#log(`[rap] ${c.peer}: read of ${desc.uri} failed: ${(error as Error).message}`);
        data = new Uint8Array(0);
      }
      if (data.length > n) data = data.subarray(0, n);
      if (data.length < n) {
        // The header promised `total` bytes: pad what the plugin did not deliver.
        const padded = new Uint8Array(n).fill(0xff);
        padded.set(data);
        data = padded;
      }
      writer.write(data);
      done += n;
    }
  }

  /** An extended WRITE too large to hold: its payload goes to the plugin piece by piece. */
  async #streamWrite(
    c: Connection,
    header: PacketHeader,
    startPacketTimer: () => void,
    endPacketTimer: () => void,
  ): Promise<void> {
    const { reader, writer } = c;
    await this.#settleViews(c);
    const head = reader.takeHeader(header);
    const view = new DataView(head.buffer, head.byteOffset, head.length);
    const fd = view.getInt32(1);
    const at = view.getBigUint64(5);
    let left = header.payloadSize;
    let failure: ReplyError | undefined;
    let desc: IoDescriptor | undefined;
    let offset = 0;
    try {
      desc = await this.#descriptor(c, fd);
      this.#writable(c, desc);
      offset = this.#offset(at);
    } catch (error) {
      if (!(error instanceof ReplyError)) throw error;
      failure = error;
    }
    let written = 0;
    while (left > 0) {
      const data = new Uint8Array(Math.min(SERVER_BUFFERS.piece, left));
      // Each piece has its own deadline: a slow link may take a while for 8 MiB.
      startPacketTimer();
      await this.#wait(c, () => reader.readExactly(data), startPacketTimer);
      endPacketTimer();
      left -= data.length;
      if (failure !== undefined || desc === undefined) continue; // drain the payload
      try {
        written += await c.session.writeTo(desc, offset + written, data);
      } catch (error) {
        failure = new ReplyError(
          ioErrorCode(error),
          `${(error as Error).message} (after ${written} bytes)`,
        );
      }
    }
    if (!failure && written > 0) {
      await this.#sync(desc).catch((error) => {
        failure = new ReplyError(ExtErrorCode.IO_ERROR, `sync failed: ${(error as Error).message}`);
      });
    }
    if (failure) {
      writer.write(encodePacket({ type: "error", code: failure.code, message: failure.message }));
    } else {
      reply32(writer, WRITE_AT_REPLY, written);
    }
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
      for (const c of this.#connections.values()) c?.interrupt?.(STOP);
      const grace = this.#options.shutdownTimeout ?? 3000;
      const deadline = setTimeout(() => {
        if (this.#connections.size > 0) {
          this.#log(
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
      this.finished.finally(() => clearTimeout(deadline));
    }
    await this.finished;
  }

  /** Same as {@linkcode RapServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
