/**
 * RapServer: a RAP server on `Deno.listen`, wire-compatible with radare2 clients, with one
 * IO session per connection.
 *
 * @module
 */

import { IoError } from "./io/errors.ts";
import { IoRegistry } from "./io/registry.ts";
import { IoSession } from "./io/session.ts";
import { PacketReader } from "./packet_reader.ts";
import { RAP_CMD_REPLY_MAX, RAP_PACKET_MAX, UT64_MAX, Whence } from "./protocol/constants.ts";
import { encodePacket } from "./protocol/encode.ts";
import { RapProtocolError } from "./protocol/errors.ts";
import type { RapPacket, RapReply } from "./protocol/packets.ts";
import { VERSION } from "./version.ts";
import { writeAll } from "./write_all.ts";

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
}

/**
 * Runs the text of a CMD packet and returns its output (`null` answers with length 0).
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
  /** A URI opened for sessions that read, seek or send CMD before any OPEN. */
  defaultUri?: string;
  /** Most connections served at once; more are closed at accept (default 256). */
  maxConnections?: number;
  /** Close a connection idle for this many milliseconds (default 0 = never). */
  idleTimeout?: number;
  /** Most files one session may have open (default 64). */
  maxOpenFiles?: number;
  /** The registry that opens URIs (default: the built-in plugins). */
  registry?: IoRegistry;
  /** Runs CMD packets (default {@linkcode basicCommandHandler}). */
  commandHandler?: CommandHandler;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
}

/** Thrown inside a connection to close it with a logged reason. */
class DropConnection extends Error {}

const U64 = (1n << 64n) - 1n;
const FLUSH_BYTES = 256 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function formatAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}

/** Cut `text` so that it encodes to at most `max` UTF-8 bytes. */
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

/**
 * A RAP server. Each connection has its own {@linkcode IoSession}: its own open files,
 * seek and permissions, unlike radare2, which shares one state between all clients.
 * Malformed input closes only the offending connection, with a logged reason.
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
  readonly #listener: Deno.Listener;
  readonly #options: RapServerOptions;
  readonly #registry: IoRegistry;
  readonly #handler: CommandHandler;
  readonly #log: (line: string) => void;
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #closing = false;

  private constructor(listener: Deno.Listener, options: RapServerOptions) {
    this.#listener = listener;
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.#registry = options.registry ?? new IoRegistry();
    this.#handler = options.commandHandler ?? ((command) => basicCommandHandler(command));
    this.#log = options.log ?? ((line) => console.error(line));
    this.finished = this.#acceptLoop();
  }

  /**
   * Start listening.
   *
   * @param options See {@linkcode RapServerOptions}.
   * @returns The running server.
   */
  static listen(options: RapServerOptions = {}): RapServer {
    const listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 9999,
      transport: "tcp",
    });
    return new RapServer(listener, options);
  }

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  async #acceptLoop(): Promise<void> {
    const max = this.#options.maxConnections ?? 256;
    try {
      for await (const conn of this.#listener) {
        const peer = formatAddr(conn.remoteAddr);
        if (this.#connections.size >= max) {
          this.#log(`[rap] ${peer}: refused, ${max} connections already open (--max-connections)`);
          conn.close();
          continue;
        }
        this.#connections.add(conn);
        const task = this.#serve(conn).finally(() => {
          this.#connections.delete(conn);
          this.#tasks.delete(task);
        });
        this.#tasks.add(task);
      }
    } catch (error) {
      if (!this.#closing) this.#log(`[rap] accept failed: ${(error as Error).message}`);
    }
    await Promise.allSettled([...this.#tasks]);
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr);
    const readOnly = this.#options.readOnly ?? false;
    (conn as Deno.TcpConn).setNoDelay?.(true);
    this.#log(`[rap] ${peer}: connected`);
    const session = new IoSession({
      registry: this.#registry,
      maxOpenFiles: this.#options.maxOpenFiles,
    });
    const reader = new PacketReader(conn, {
      role: "server",
      maxData: RAP_PACKET_MAX,
    });

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
    reader.onData = armIdle;
    armIdle();

    const out: Uint8Array[] = [];
    let outBytes = 0;
    const send = (reply: RapReply) => {
      const bytes = encodePacket(reply);
      out.push(bytes);
      outBytes += bytes.length;
    };
    const flush = async () => {
      if (out.length === 0) return;
      const chunks = out.splice(0);
      outBytes = 0;
      await writeAll(conn, chunks);
    };

    const context: CommandContext = {
      session,
      readOnly,
      remoteAddr: conn.remoteAddr as Deno.NetAddr,
      reverseCommand: async (command) => {
        send({ type: "cmd", command });
        await flush();
        const reply = await reader.next();
        if (reply === null) throw new DropConnection("closed during a reverse CMD");
        if (reply.type !== "cmd_reply") {
          throw new DropConnection(`sent "${reply.type}" instead of a reverse CMD reply`);
        }
        return reply.output;
      },
    };

    let reason = "disconnected";
    try {
      for (;;) {
        let packet: RapPacket | null | undefined = reader.buffered();
        if (packet === undefined) {
          await flush();
          packet = await reader.next();
        }
        if (packet === null) break;
        await this.#handle(packet, session, context, send, readOnly);
        if (outBytes >= FLUSH_BYTES) await flush();
      }
      await flush();
    } catch (error) {
      if (error instanceof DropConnection || error instanceof RapProtocolError) {
        reason = `closed: ${error.message}`;
        await flush().catch(() => {});
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
      try {
        conn.close();
      } catch { /* already closed */ }
      await session.closeAll().catch((error) =>
        this.#log(`[rap] ${peer}: error closing files: ${(error as Error).message}`)
      );
      this.#log(`[rap] ${peer}: ${reason}`);
    }
  }

  async #ensureDefault(session: IoSession, readOnly: boolean): Promise<void> {
    const uri = this.#options.defaultUri;
    if (uri === undefined || session.current !== undefined) return;
    try {
      await session.open(uri, { write: !readOnly });
    } catch (error) {
      throw new DropConnection(`cannot open the default URI: ${(error as Error).message}`);
    }
  }

  async #handle(
    packet: RapPacket,
    session: IoSession,
    context: CommandContext,
    send: (reply: RapReply) => void,
    readOnly: boolean,
  ): Promise<void> {
    switch (packet.type) {
      case "open": {
        if (packet.name === "") throw new DropConnection("OPEN with an empty name");
        const write = !readOnly && (packet.flags & 2) !== 0;
        let fd: number;
        try {
          fd = await session.open(openTarget(packet.name), { write });
        } catch (error) {
          // radare2 clients only notice a failed OPEN when the connection closes.
          throw new DropConnection(`OPEN failed: ${(error as Error).message}`);
        }
        session.seek = 0n;
        send({ type: "open_reply", fd });
        return;
      }
      case "read": {
        if (packet.length >= 0x80000000) {
          throw new DropConnection(`invalid READ length ${packet.length}`);
        }
        const length = Math.min(packet.length, RAP_PACKET_MAX);
        await this.#ensureDefault(session, readOnly);
        let data: Uint8Array;
        try {
          data = await session.readAt(session.seek, length);
        } catch (error) {
          this.#log(
            `[rap] read at 0x${session.seek.toString(16)} failed: ${(error as Error).message}`,
          );
          data = new Uint8Array(length).fill(0xff);
        }
        send({ type: "read_reply", data });
        return;
      }
      case "write": {
        await this.#ensureDefault(session, readOnly);
        let written = 0;
        if (!readOnly && packet.data.length > 0) {
          try {
            written = await session.writeAt(session.seek, packet.data);
          } catch (error) {
            if (!(error instanceof IoError)) throw error;
            written = 0;
          }
        }
        send({ type: "write_reply", result: written });
        return;
      }
      case "seek": {
        await this.#ensureDefault(session, readOnly);
        if (packet.whence === Whence.SET) session.seek = packet.offset;
        else if (packet.whence === Whence.CUR) session.seek = (session.seek + packet.offset) & U64;
        else if (packet.whence === Whence.END) {
          const size = await session.size();
          session.seek = size === UT64_MAX ? UT64_MAX : (size + packet.offset) & U64;
        }
        send({ type: "seek_reply", offset: session.seek });
        return;
      }
      case "close": {
        const closed = await session.close(packet.fd).catch(() => false);
        send({ type: "close_reply", result: closed ? 0 : -1 });
        return;
      }
      case "cmd": {
        if (packet.command === null) {
          send({ type: "cmd_reply", output: null });
          return;
        }
        await this.#ensureDefault(session, readOnly).catch(() => {});
        const output = await this.#handler(packet.command, context);
        send({
          type: "cmd_reply",
          output: output === null ? null : capOutput(output, RAP_CMD_REPLY_MAX - 1),
        });
        return;
      }
      default:
        throw new DropConnection(`unexpected "${packet.type}" packet`);
    }
  }

  /**
   * Stop accepting, close every connection and wait for them to finish.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch { /* already closed */ }
      for (const conn of this.#connections) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
    await this.finished;
  }

  /** Same as {@linkcode RapServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
