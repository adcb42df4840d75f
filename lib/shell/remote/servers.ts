/**
 * The servers a shell starts: RAP over its files (`=:port` in the foreground, `=&:port` in
 * the background), the plain-TCP command server (`=t port`), the HTTP endpoint (`=h port`
 * in the foreground, `=h& port` in the background) and the GDB remote-protocol server
 * (`=g port [uri]`).
 * Their peers run commands under the shell's `peerPolicy`.
 *
 * @module
 */

import { type HttpEndpoint, serveCommands } from "../../http/endpoint.ts";
import { GdbServer } from "../../gdb/server.ts";
import type { GdbServedFile } from "../../gdb/server_session.ts";
import { isGdbStubLink } from "../../gdb/stub_link.ts";
import { IoRegistry } from "../../io/registry.ts";
import { FirstBytesListener } from "../../net/first_bytes.ts";
import { writeAll } from "../../net/write_queue.ts";
import { RapServer } from "../../server/server.ts";
import type { CommandShell } from "../command.ts";
import { OutputBuffer, type ShellOutput } from "../output.ts";
import { httpCommandRunnerWith, shellCommandHandlerWith, type ShellFactory } from "../peer.ts";
import { CommandPolicy } from "../policy.ts";
import { sessionViewPlugin } from "../session_view.ts";
import { registerSession, unregisterSession } from "../sessions.ts";

/** Milliseconds a `=t` client has to send its command. */
const TCP_COMMAND_TIMEOUT = 10_000;
/** `=t` clients waiting to send their command at once; the oldest makes room for more. */
const TCP_COMMAND_WAITING = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The servers one shell started, reached as `shell.remote.servers`.
 *
 * @example
 * ```ts
 * import { OutputBuffer, Shell } from "@rap/cli/shell";
 * import { RapClient } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell({ log: () => {} });
 * await shell.session.open("hex://cafe");
 * const server = shell.remote.servers.serveBackground(0, new OutputBuffer());
 * await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * assert.equal(await client.cmd("p8 2"), "cafe\n");
 * assert.equal(shell.remote.servers.background.length, 1);
 * ```
 */
export class ShellServers {
  readonly #shell: CommandShell;
  readonly #spawn: ShellFactory;
  readonly #background = new Set<RapServer>();
  #http: HttpEndpoint | undefined;

  /**
   * Create it.
   *
   * @param shell The shell whose files the servers serve and whose commands they run.
   * @param spawn Makes the shells of the servers' peers (the shell's own class).
   */
  constructor(shell: CommandShell, spawn: ShellFactory) {
    this.#shell = shell;
    this.#spawn = spawn;
  }

  /** The running HTTP endpoint (`=h`), if any. */
  get http(): HttpEndpoint | undefined {
    return this.#http;
  }

  /** The background RAP servers (`=&:port`). */
  get background(): RapServer[] {
    return [...this.#background];
  }

  #log(out: ShellOutput | undefined): (line: string) => void {
    const log = this.#shell.options.log;
    if (log) return log;
    if (out) return (line) => out.message(`INFO: ${line}`);
    return (line) => console.error(line);
  }

  #peerPolicy(): CommandPolicy {
    return this.#shell.options.peerPolicy ?? CommandPolicy.RESTRICTED;
  }

  #hostname(): string {
    return this.#shell.options.hostname ?? "127.0.0.1";
  }

  /**
   * Start a RAP server over the shell's files (`shell://FD`, the current one by default).
   *
   * @param port The port (0: any free one).
   * @param out Where the server logs, unless the shell has a `log`.
   * @returns The listening server.
   */
  listen(port: number, out: ShellOutput | undefined): RapServer {
    const session = this.#shell.session;
    const current = session.currentFd;
    return RapServer.listen({
      hostname: this.#hostname(),
      port,
      defaultUri: current === undefined ? undefined : `shell://${current}`,
      registry: new IoRegistry([sessionViewPlugin(session)]),
      commandHandler: shellCommandHandlerWith(this.#spawn, { policy: this.#peerPolicy() }),
      log: this.#log(out),
    });
  }

  /**
   * `=:port`: serve RAP in the foreground until interrupted.
   *
   * @param port The port.
   * @param out Where messages go.
   */
  async serveForeground(port: number, out: ShellOutput): Promise<void> {
    const server = this.listen(port, out);
    out.message(
      `INFO: rap server listening on rap://${server.addr.hostname}:${server.addr.port}/ ` +
        `(interrupt to stop)`,
    );
    try {
      await Promise.race([server.finished, this.#shell.interrupted()]);
    } finally {
      await server.close();
    }
  }

  /**
   * `=&:port`: serve RAP in the background.
   *
   * @param port The port.
   * @param out Where messages go.
   * @returns The listening server.
   */
  serveBackground(port: number, out: ShellOutput): RapServer {
    const server = this.listen(port, undefined);
    this.#background.add(server);
    out.message(
      `INFO: Background rap server listening on rap://${server.addr.hostname}:${server.addr.port}/`,
    );
    return server;
  }

  /** `=&-`: stop the background RAP servers. */
  async stopBackground(): Promise<void> {
    const servers = [...this.#background];
    this.#background.clear();
    await Promise.all(servers.map((s) => s.close()));
  }

  /**
   * `=t port`: the plain-TCP command server, in the foreground until interrupted. Each
   * connection sends one command (its first read, up to 4096 bytes, as radare2) and gets
   * its output; commands run one at a time, in the order they arrive. Connections reset,
   * empty or silent (closed after 10 s, or when 64 wait) hold up no one.
   *
   * @param port The port.
   * @param out Where messages go.
   */
  async serveTcp(port: number, out: ShellOutput): Promise<void> {
    const log = this.#log(out);
    let queue = Promise.resolve();
    const server = new FirstBytesListener(
      Deno.listen({ hostname: this.#hostname(), port, transport: "tcp" }),
      {
        label: "[=t]",
        log,
        size: 4096,
        timeout: TCP_COMMAND_TIMEOUT,
        maxWaiting: TCP_COMMAND_WAITING,
        onData: (conn, first) => {
          queue = queue.then(() => this.#tcpCommand(conn, first, log));
        },
      },
    );
    const addr = server.addr as Deno.NetAddr;
    out.message(`INFO: tcp command server listening on ${addr.hostname}:${addr.port}`);
    try {
      await Promise.race([server.finished, this.#shell.interrupted()]);
    } finally {
      await server.close();
      await queue;
    }
  }

  /** Run one `=t` client's command and send the output back. */
  async #tcpCommand(conn: Deno.Conn, first: Uint8Array, log: (line: string) => void) {
    try {
      // As radare2: newlines separate commands, the last one (and a NUL) ends the text.
      let text = decoder.decode(first).replace(/\0[\s\S]*$/, "");
      text = text.replace(/\n$/, "").replaceAll("\n", ";");
      const reply = new OutputBuffer();
      await this.#shell.execute(text, reply, { policy: this.#peerPolicy(), peer: true });
      const bytes = reply.bytes();
      await writeAll(conn, [bytes.length > 0 ? bytes : encoder.encode("\n")]);
    } catch (error) {
      log(`tcp client failed: ${(error as Error).message}`);
    } finally {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /**
   * `=g port [uri]`: the GDB remote-protocol server over the current file (or `uri`,
   * opened for the while), in the foreground until interrupted: `gdb -ex 'target remote
   * 127.0.0.1:PORT'` reads its bytes, and debugs it when it is a `dbg://` or `gdb://`
   * process. gdb's `monitor CMD` runs CMD under the peers' policy.
   *
   * @param port The port (0: any free one).
   * @param uri A URI to serve instead of the current file.
   * @param out Where messages go.
   */
  async serveGdb(port: number, uri: string | undefined, out: ShellOutput): Promise<void> {
    const session = this.#shell.session;
    const fd = uri === undefined
      ? session.currentFd
      : await session.open(uri, { write: this.#shell.writable });
    if (fd === undefined) throw new Error("No file to serve: open one first, or give =g a URI");
    const desc = session.descriptor(fd);
    const file: GdbServedFile = {
      read: (offset, length) => session.read(fd, BigInt(offset), length),
      ...(desc.writable
        ? { write: (offset: number, data: Uint8Array) => session.write(fd, BigInt(offset), data) }
        : {}),
      ...(isGdbStubLink(desc) ? { link: desc } : {}),
    };
    const policy = this.#peerPolicy();
    let server: GdbServer;
    try {
      server = GdbServer.listen({
        hostname: this.#hostname(),
        port,
        file: () => session.get(fd) === desc ? file : undefined,
        monitor: async (command, signal) => {
          const reply = new OutputBuffer(undefined, { limit: 1 << 20 });
          await this.#shell.execute(command, reply, { policy, peer: true, signal });
          return decoder.decode(reply.bytes());
        },
        log: this.#log(out),
      });
    } catch (error) {
      if (uri !== undefined) await session.close(fd);
      throw error;
    }
    const { hostname, port: bound } = server.addr;
    out.message(
      `INFO: gdb server listening on ${hostname}:${bound} ` +
        `(gdb -ex 'target remote ${hostname}:${bound}'; interrupt to stop)`,
    );
    try {
      await Promise.race([server.finished, this.#shell.interrupted()]);
    } finally {
      await server.close();
      if (uri !== undefined) await session.close(fd);
    }
  }

  /**
   * `=h [port]`, `=H [port]`: serve the HTTP endpoint in the foreground, as radare2 does
   * (`r2 -qc '=h 9090' FILE` serves until stopped): until interrupted (^C, SIGINT), until
   * `=h-` (from one of its own clients), or until the shell closes (SIGTERM in `rap shell`).
   *
   * @param port The port (0: any free one).
   * @param out Where messages go.
   */
  async serveHttp(port: number, out: ShellOutput): Promise<void> {
    const endpoint = await this.startHttp(port, out, "interrupt or =h- to stop");
    try {
      await Promise.race([endpoint.finished, this.#shell.interrupted()]);
    } finally {
      if (this.#http === endpoint) await this.stopHttp();
    }
  }

  /**
   * `=h& [port]`: start the HTTP endpoint in the background (`=h-` stops it).
   *
   * @param port The port (0: any free one).
   * @param out Where messages go.
   * @param how How it stops, for the message (default: `=h- to stop`).
   * @returns The listening endpoint.
   */
  async startHttp(port: number, out: ShellOutput, how = "=h- to stop"): Promise<HttpEndpoint> {
    if (this.#http) throw new Error("http server is already running (stop it with =h-)");
    // The runner's shell shares the console's session (as radare2's =h shares its core),
    // with a seek of its own; lib/http/ knows nothing of the shell. Its =h- stops this
    // endpoint once the reply is out.
    const runner = httpCommandRunnerWith(this.#spawn, {
      session: this.#shell.session,
      policy: this.#peerPolicy(),
      endpoint: { stop: () => void this.stopHttp() },
    });
    const endpoint = serveCommands({
      hostname: this.#hostname(),
      port,
      portFlag: "=h port",
      run: runner.run,
      onClose: runner.close,
      log: this.#log(undefined),
    });
    this.#http = endpoint;
    const { hostname, port: bound } = endpoint.addr;
    const url = `http://${hostname}:${bound}`;
    // Registered for =l, as radare2 does (best effort: needs write access to $TMPDIR/r2).
    await registerSession(
      `r2web://${hostname}:${bound}/cmd`,
      this.#shell.session.current?.uri ?? "",
    ).catch((error) => out.message(`WARN: session not registered for =l: ${error.message}`));
    out.message(
      `INFO: http server listening on ${url}/ (the page; r2 -C ${url}/cmd/, ` +
        `r2 r2web://${hostname}:${bound}/cmd/; ${how})`,
    );
    return endpoint;
  }

  /**
   * `=h-`: stop the HTTP endpoint (in a shell that runs the requests of one, that one, once
   * the reply is out).
   *
   * @returns Whether it was running.
   */
  async stopHttp(): Promise<boolean> {
    const http = this.#http;
    this.#http = undefined;
    if (!http) {
      const owner = this.#shell.options.endpoint;
      owner?.stop();
      return owner !== undefined;
    }
    await unregisterSession();
    await http.shutdown();
    return true;
  }

  /** Stop every server. */
  async close(): Promise<void> {
    await this.stopBackground();
    await this.stopHttp();
  }
}
