/**
 * One client of a {@linkcode RapServer}: its session, its reader and writer, its timers
 * (idle, packet, first request), the handshake (TLS, token), and the loop that reads
 * requests and hands each to its handler.
 *
 * @module
 */

import { IoSession } from "../io/session.ts";
import type { ConnectionSlot } from "../net/connection_slots.ts";
import { lingerClose } from "../net/linger.ts";
import { PacketReader } from "../net/packet_reader.ts";
import { QueuedWriter } from "../net/write_queue.ts";
import { ExtOpcode, RAP_CMD_REPLY_MAX, RAP_PACKET_MAX } from "../protocol/constants.ts";
import type { PacketHeader } from "../protocol/decode.ts";
import { encodePacket } from "../protocol/encode.ts";
import { RapProtocolError } from "../protocol/errors.ts";
import type { RapPacket } from "../protocol/packets.ts";
import { SERVER_BUFFERS } from "./buffers.ts";
import type { CommandContext } from "./command.ts";
import type { ConnectionContext, ServerContext } from "./context.ts";
import { authenticate, tlsHandshake, unauthenticated } from "./handshake.ts";
import { handle } from "./handlers/mod.ts";
import { streamWrite } from "./handlers/extended.ts";
import { RemoteRegistry } from "./remote_registry.ts";
import { DropConnection, endReason, ShuttingDown } from "./wire_errors.ts";

/** How long a connection may stay quiet during a shutdown before it counts as done. */
const SHUTDOWN_QUIET_MS = 100;

const STOP = Symbol("stop");

/** `host:port` of an address. */
export function formatAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}

/** One client connection: create it, then {@linkcode Connection.serve} it. */
export class Connection implements ConnectionContext {
  /** `host:port` of the client. */
  readonly peer: string;
  /** The socket. */
  readonly conn: Deno.Conn;
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
  /** Its connection slot: pending until the first complete request (or the token). */
  readonly slot: ConnectionSlot;
  /** The negotiated `maxdata`, once the extensions are on. */
  ext: number | undefined;
  /** Views of in-memory files are queued: flush them before anything may write. */
  views = false;
  /** Whether the client may send requests (false until a server with a token saw it). */
  authenticated: boolean;
  /** Why the connection was closed by a timer (logged instead of "disconnected"). */
  closeReason: string | undefined;
  /** A reverse CMD is waiting for the client's reply. */
  reversing = false;
  /** A refused write of a read-only server was logged (once per connection). */
  readOnlyLogged = false;
  /** Ends the current wait for the client (at shutdown). */
  #interrupt: ((stop: typeof STOP) => void) | undefined;
  /** Bytes arrived during the current wait. */
  #received = false;
  /** The read from the client under way, if any (settled before the connection ends). */
  #pending: Promise<unknown> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #packetTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Take an accepted connection.
   *
   * @param conn The socket.
   * @param slot Its connection slot.
   * @param server Its server.
   */
  constructor(conn: Deno.Conn, slot: ConnectionSlot, server: ServerContext) {
    const { options } = server;
    this.peer = formatAddr(conn.remoteAddr);
    this.conn = conn;
    this.server = server;
    this.slot = slot;
    const hostname = (conn.remoteAddr as Deno.NetAddr).hostname;
    this.session = new IoSession({
      // Not the server's stdin, not the server itself; network files take connection slots.
      registry: new RemoteRegistry(server.registry, {
        reserveConnection: () => server.slots.reserveOutbound(hostname),
      }),
      readOnly: options.readOnly,
      maxOpenFiles: options.maxOpenFiles,
      maxMemory: options.maxSessionMemory,
      memoryBudget: options.memoryBudget,
    });
    this.reader = new PacketReader(conn, { role: "server", maxData: RAP_PACKET_MAX });
    this.writer = new QueuedWriter(conn, { highWaterMark: SERVER_BUFFERS.highWaterMark });
    this.authenticated = server.tokens === undefined;
    this.context = {
      session: this.session,
      readOnly: options.readOnly,
      remoteAddr: conn.remoteAddr as Deno.NetAddr,
      maxOutput: RAP_CMD_REPLY_MAX - 1,
      reverseCommand: (command) => this.#reverseCommand(command),
    };
    this.reader.onData = () => {
      this.#received = true;
      if (this.slot.pending) this.slot.started();
      this.#armIdle();
      this.startPacketTimer();
    };
  }

  /** Log a line about this connection. */
  log(line: string): void {
    this.server.log(`[rap] ${this.peer}: ${line}`);
  }

  /** Close the socket (the serve loop then ends). */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** End the current wait for the client: the server is shutting down. */
  interrupt(): void {
    this.#interrupt?.(STOP);
  }

  /**
   * Serve the connection until the client leaves, it is closed, or the server stops; then
   * close its files and log why it ended.
   */
  async serve(): Promise<void> {
    (this.conn as Deno.TcpConn).setNoDelay?.(true);
    this.log("connected");
    this.#armIdle();
    let reason = "disconnected";
    let linger = false;
    try {
      await tlsHandshake(this, this.conn);
      await this.#requests();
      this.writer.uncork();
      await this.writer.flush();
    } catch (error) {
      this.writer.uncork();
      // Dropped for what it sent: it may have sent more, which must not reset the replies.
      linger = error instanceof DropConnection || error instanceof RapProtocolError;
      reason = this.closeReason ?? await endReason(this, error);
    } finally {
      clearTimeout(this.#idleTimer);
      this.endPacketTimer();
      // The client may have sent more: end our side, drop the rest, then close (lingerClose).
      const lingering = linger && !this.server.closing
        ? lingerClose(this.conn, { pending: this.#pending })
        : undefined;
      if (lingering === undefined) {
        this.close();
        // A read still under way fails once the connection is closed: let it settle, so no
        // operation outlives the connection's task (and the server's `finished`).
        await this.#pending?.catch(() => {});
      }
      await this.session.closeAll().catch((error) =>
        this.log(`error closing files: ${(error as Error).message}`)
      );
      this.log(reason);
      await lingering;
    }
  }

  /**
   * Read requests and hand each to its handler. Replies to a batch of pipelined requests
   * are held back (corked) until the batch is answered, then leave in one write.
   */
  async #requests(): Promise<void> {
    const { reader, writer } = this;
    writer.cork();
    for (;;) {
      if (writer.queued > SERVER_BUFFERS.highWaterMark) await writer.ready();
      let header: PacketHeader | null | undefined = reader.bufferedHeader();
      if (header === undefined) {
        writer.uncork();
        header = await this.wait(() => reader.header());
        writer.cork();
      }
      if (!header) return;
      if (header.opcode === ExtOpcode.WRITE_AT && header.payloadSize > SERVER_BUFFERS.piece) {
        if (!this.authenticated) throw new DropConnection(unauthenticated());
        this.proven();
        await streamWrite(this, header);
        continue;
      }
      let packet: RapPacket | null | undefined = reader.buffered();
      if (packet === undefined) {
        writer.uncork();
        packet = await this.wait(() => reader.next());
        writer.cork();
      }
      if (!packet) return;
      this.endPacketTimer();
      if (!this.authenticated) {
        await authenticate(this, packet);
      } else {
        this.proven();
        this.server.requestsUnderWay++;
        try {
          await handle(this, packet);
        } finally {
          this.server.requestsUnderWay--;
        }
      }
    }
  }

  /**
   * The connection completed its first request (with a token: authenticated): it leaves
   * the pending pool, unless its address already has all the slots it may use.
   */
  proven(): void {
    if (!this.slot.pending) return;
    const refusal = this.slot.promote();
    if (refusal !== undefined) throw new DropConnection(`refused, ${refusal}`);
  }

  #armIdle(): void {
    const idle = this.server.options.idleTimeout;
    if (idle <= 0) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.log(`closed after ${idle} ms idle (--idle-timeout)`);
      this.close();
    }, idle);
  }

  /**
   * A started request must arrive whole within `packetTimeout` (slow senders); the timer
   * runs while the server waits for the rest of a packet.
   */
  startPacketTimer(): void {
    const timeout = this.server.options.packetTimeout;
    if (timeout <= 0 || this.#packetTimer !== undefined) return;
    this.#packetTimer = setTimeout(() => {
      this.closeReason = `closed: request not complete within ${timeout} ms (--packet-timeout)`;
      this.close();
    }, timeout);
  }

  /** The awaited request arrived whole. */
  endPacketTimer(): void {
    clearTimeout(this.#packetTimer);
    this.#packetTimer = undefined;
  }

  /** Before a request that may write: let queued views of in-memory files go out first. */
  async settleViews(): Promise<void> {
    if (!this.views) return;
    await this.writer.flush();
    this.views = false;
  }

  /** Give the session a view of the server's default file when it has none. */
  async ensureDefault(): Promise<void> {
    try {
      await this.server.shared.ensure(this.session);
    } catch (error) {
      throw new DropConnection(`cannot open the default URI: ${(error as Error).message}`);
    }
  }

  async #reverseCommand(command: string): Promise<string | null> {
    const { reader, writer } = this;
    writer.write(encodePacket({ type: "cmd", command }));
    writer.uncork();
    this.reversing = true;
    let reply;
    try {
      reply = await this.wait(() => reader.next());
    } finally {
      this.reversing = false;
      this.endPacketTimer();
    }
    writer.cork();
    if (reply === null) throw new DropConnection("closed during a reverse CMD");
    if (reply.type !== "cmd_reply") {
      throw new DropConnection(`sent "${reply.type}" instead of a reverse CMD reply`);
    }
    return reply.output;
  }

  /**
   * Wait for `start()` (a read from the client). While the server shuts down, the wait ends
   * with {@linkcode ShuttingDown} once the client has been quiet for a moment: requests
   * already on their way are still answered, a client that sends nothing more is closed.
   * When a started packet is buffered, its deadline starts.
   *
   * @param start The read.
   * @returns What it read.
   */
  async wait<T>(start: () => Promise<T>): Promise<T> {
    // Before `start`: a read moves the buffered rest of a packet out of the decoder.
    const partial = this.reader.decoder.buffered > 0;
    if (partial) this.startPacketTimer();
    this.#received = false;
    const op = start();
    this.#pending = op;
    if (!this.server.closing) {
      // A promise of this wait's own (not a long-lived one: each race adds a reaction).
      const stop = Promise.withResolvers<typeof STOP>();
      this.#interrupt = stop.resolve;
      try {
        const first = await Promise.race([op, stop.promise]);
        if (first !== STOP) return first as T;
      } finally {
        this.#interrupt = undefined;
      }
      op.catch(() => {}); // it fails when the connection closes
      // Idle when the shutdown began (nothing of a request here): done at once.
      if (!partial && !this.#received) throw new ShuttingDown();
    }
    op.catch(() => {}); // it fails when the connection closes
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<typeof STOP>((resolve) => {
      timer = setTimeout(() => resolve(STOP), SHUTDOWN_QUIET_MS);
    });
    try {
      const result = await Promise.race([op, quiet]);
      if (result === STOP) throw new ShuttingDown();
      return result as T;
    } finally {
      clearTimeout(timer);
    }
  }
}
