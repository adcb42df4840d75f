/**
 * The `=` remote-session commands of radare2 and their host table: `=+` adds a host
 * (`rap://`, `raps://`, `tcp://`, `udp://`, `http://`), `=N cmd` runs a command there,
 * `==N` opens an interactive session, `=<` pushes output, `=-` removes hosts, `=!` and
 * `:` reach the current file's plugin, `!=!` / `=!=` switch remote mode, `=:port` and
 * `=&:port` serve RAP, `=t` is the plain-TCP command server and client, `=h` the HTTP
 * endpoint.
 *
 * Where radare2's help and its code disagree, this follows the help (marked "help" in
 * the comments below), since the help is what users read.
 *
 * @module
 */

import { formatSessions, listSessions, registerSession, unregisterSession } from "./sessions.ts";
import { reversePrompt } from "./reverse_prompt.ts";
import { RapClient } from "../client/client.ts";
import { type HttpEndpoint, serveCommands } from "../http/endpoint.ts";
import { IoRegistry } from "../io/registry.ts";
import { FirstBytesListener } from "../net/first_bytes.ts";
import { ownListeningAddress, refuseOwnConnection, selfDialing } from "../net/own_addresses.ts";
import { RapServer } from "../server/server.ts";
import type { CommandEnv, CommandSpec } from "./command.ts";
import { ioSystem } from "./commands/misc.ts";
import {
  createHttpCommandRunner,
  createReverseCommandHandler,
  createShellCommandHandler,
} from "./handler.ts";
import { OutputBuffer, type ShellOutput } from "./output.ts";
import { CommandPolicy } from "./policy.ts";
import { sessionViewPlugin } from "./session_view.ts";
import type { Shell } from "./shell.ts";

/** radare2's `RTR_MAX_HOSTS`. */
const MAX_HOSTS = 255;
/** The most bytes read back from a `tcp://` host, as radare2. */
const TCP_REPLY_MAX = 4096;
/** Milliseconds a `=t` client has to send its command. */
const TCP_COMMAND_TIMEOUT = 10_000;
/** `=t` clients waiting to send their command at once; the oldest makes room for more. */
const TCP_COMMAND_WAITING = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A protocol of the host table.
 *
 * @example
 * ```ts
 * import type { RemoteProtocol } from "@rap/cli/shell";
 * const proto: RemoteProtocol = "rap";
 * console.assert(proto === "rap");
 * ```
 */
export type RemoteProtocol = "rap" | "raps" | "tcp" | "udp" | "http";

/**
 * The parts of a `=+` target.
 *
 * @example
 * ```ts
 * import { parseRemoteTarget, type RemoteTarget } from "@rap/cli/shell";
 * const target: RemoteTarget = parseRemoteTarget("rap://127.0.0.1:9999//bin/ls");
 * console.assert(target.file === "/bin/ls");
 * ```
 */
export interface RemoteTarget {
  /** The protocol (default `rap`). */
  proto: RemoteProtocol;
  /** Host name. */
  host: string;
  /** Port. */
  port: number;
  /** What follows the first `/` after the port (for `rap`, the file to OPEN). */
  file: string;
}

/**
 * Parse the argument of `=+`: `[proto://]host:port[/file]`, as radare2 does (the file is
 * what follows the first `/` after the port, so `//bin/ls` is `/bin/ls`). Unlike
 * radare2, `raps://` is recognised (help), a missing port is an error (radare2 silently
 * uses 80) except for `http://`, and an unknown scheme is an error instead of `rap`.
 *
 * @param text The target.
 * @returns Its parts.
 * @throws {SyntaxError} If it cannot be parsed.
 *
 * @example
 * ```ts
 * import { parseRemoteTarget } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRemoteTarget("127.0.0.1:9999"), {
 *   proto: "rap", host: "127.0.0.1", port: 9999, file: "",
 * });
 * assert.deepEqual(parseRemoteTarget("http://localhost:9090/cmd/"), {
 *   proto: "http", host: "localhost", port: 9090, file: "cmd/",
 * });
 * ```
 */
export function parseRemoteTarget(text: string): RemoteTarget {
  let rest = text.trim();
  let proto: RemoteProtocol = "rap";
  const scheme = /^([a-z0-9]+):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name === "r2p") proto = "rap";
    else if (["rap", "raps", "tcp", "udp", "http"].includes(name)) proto = name as RemoteProtocol;
    else {
      throw new SyntaxError(
        `Unknown protocol "${name}://" (expected rap, raps, tcp, udp or http)`,
      );
    }
    rest = rest.slice(scheme[0].length);
  }
  const m = /^(\[[^\]]*\]|[^:/]*)(?::(\d*))?(?:\/(.*))?$/s.exec(rest);
  if (!m || m[1] === "") {
    throw new SyntaxError(`Invalid host "${text}" (expected [proto://]host:port[/file])`);
  }
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  let port: number;
  if (m[2] === undefined || m[2] === "") {
    if (proto !== "http") throw new SyntaxError(`Missing port in "${text}" (host:port)`);
    port = 80;
  } else {
    port = Number(m[2]);
    if (port < 1 || port > 65535) throw new SyntaxError(`Invalid port in "${text}"`);
  }
  const file = m[3] ?? (proto === "http" ? "cmd/" : "");
  return { proto, host, port, file };
}

/**
 * The part of a UDP socket (`Deno.DatagramConn`, behind `--unstable-net`) the shell uses.
 *
 * @example
 * ```ts
 * import type { Datagram } from "@rap/cli/shell";
 * const noop: Datagram = { send: () => Promise.resolve(0), close: () => {} };
 * console.assert(typeof noop.send === "function");
 * ```
 */
export interface Datagram {
  /**
   * Send one datagram.
   *
   * @param p The bytes.
   * @param addr Where to.
   */
  send(p: Uint8Array, addr: Deno.NetAddr): Promise<number>;
  /** Close the socket. */
  close(): void;
}

/**
 * One entry of the host table.
 *
 * @example
 * ```ts
 * import type { RemoteHost } from "@rap/cli/shell";
 * const show = (h: RemoteHost) => `${h.proto}://${h.host}:${h.port}/${h.file}`;
 * console.assert(typeof show === "function");
 * ```
 */
export interface RemoteHost extends RemoteTarget {
  /**
   * A number for the connection, shown as `fd:N` by `=` (radare2 shows the socket's OS
   * descriptor, which Deno does not expose; `-1` for HTTP hosts, as radare2).
   */
  fd: number;
  /** The RAP client (`rap`, `raps`). */
  client?: RapClient;
  /** The datagram socket (`udp`). */
  udp?: Datagram;
}

/** Make sure non-empty output ends with one newline. */
function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : text + "\n";
}

async function readAll(conn: Deno.Conn, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(4096);
  while (total < max) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, Math.min(n, max - total)));
    total += n;
  }
  const out = new Uint8Array(Math.min(total, max));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function writeAllTo(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await conn.write(data.subarray(done));
}

function parseHostPort(text: string, fallbackHost: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]*\]|[^:\s]*):)?(\d+)$/.exec(text);
  if (!m) throw new SyntaxError(`Invalid address "${text}" (expected [host:]port)`);
  const port = Number(m[2]);
  if (port > 65535) throw new SyntaxError(`Invalid port "${m[2]}"`);
  const host = m[1] === undefined ? fallbackHost : m[1].replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? fallbackHost : host, port };
}

/**
 * The `=` state of one shell: the host table, the remote mode and the servers it started.
 *
 * @example
 * ```ts
 * import { Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * assert.equal(shell.remote.hosts().length, 0);
 * assert.equal(shell.remote.mode, undefined);
 * ```
 */
export class RemoteState {
  /**
   * Remote mode: `undefined` when off; `""` sends every line to the current host (or, with
   * none, to the current file's plugin); a number as text sends to that host.
   */
  mode: string | undefined;
  /** The current host slot. */
  current = 0;
  readonly #shell: Shell;
  readonly #slots: (RemoteHost | undefined)[] = [];
  readonly #servers = new Set<RapServer>();
  #http: HttpEndpoint | undefined;
  #nextFd = 3;

  /**
   * Create it.
   *
   * @param shell The shell this state belongs to.
   */
  constructor(shell: Shell) {
    this.#shell = shell;
  }

  /**

   * The used slots, in slot order, with their numbers.

   *

   * @returns The used slots, in slot order, with their numbers.

   */
  hosts(): { slot: number; host: RemoteHost }[] {
    const out: { slot: number; host: RemoteHost }[] = [];
    this.#slots.forEach((host, slot) => host && out.push({ slot, host }));
    return out;
  }

  /** The running HTTP endpoint (`=h`), if any. */
  get http(): HttpEndpoint | undefined {
    return this.#http;
  }

  /** The background RAP servers (`=&:port`). */
  get servers(): RapServer[] {
    return [...this.#servers];
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

  /** Add a host (`=+`); it becomes the current one. */
  async add(text: string, out: ShellOutput): Promise<number> {
    const target = parseRemoteTarget(text);
    const slot = this.#slots.findIndex((h) => h === undefined);
    const index = slot >= 0 ? slot : this.#slots.length;
    if (index >= MAX_HOSTS) throw new Error(`Too many hosts (at most ${MAX_HOSTS})`);
    // A remote peer (with --allow-cmd remote) cannot make the server connect to itself.
    const peer = this.#shell.activePeer;
    const own = peer ? ownListeningAddress(target.host, target.port) : undefined;
    if (own !== undefined) throw new Error(`Cannot add "${text}": ${selfDialing(own)}`);
    const host: RemoteHost = { ...target, fd: target.proto === "http" ? -1 : this.#nextFd++ };
    switch (target.proto) {
      case "rap":
      case "raps": {
        const options = {
          hostname: target.host,
          port: target.port,
          onReverseCommand: createReverseCommandHandler(this.#shell),
          onConnect: peer ? refuseOwnConnection : undefined,
        };
        // raps:// verifies the server's certificate (system roots plus the shell's caCerts).
        const client = await RapClient.connect({
          ...options,
          tls: target.proto === "raps" ? { caCerts: this.#shell.options.caCerts } : undefined,
        });
        if (target.file !== "") {
          try {
            // radare2's =+ always sends OPEN with permission 0.
            const fd = await client.open(target.file, 0);
            out.message(`INFO: opened as fd = ${fd}`);
          } catch (error) {
            await client.close();
            throw error;
          }
        }
        host.client = client;
        break;
      }
      case "tcp": {
        const conn = await Deno.connect({ hostname: target.host, port: target.port });
        conn.close();
        break;
      }
      case "udp": {
        const listen = (Deno as unknown as {
          listenDatagram?: (o: { hostname: string; port: number; transport: "udp" }) => Datagram;
        }).listenDatagram;
        if (!listen) {
          throw new Error("udp:// needs Deno's --unstable-net flag (Deno.listenDatagram)");
        }
        host.udp = listen({ hostname: "0.0.0.0", port: 0, transport: "udp" });
        break;
      }
      case "http": {
        try {
          const res = await fetch(`http://${target.host}:${target.port}/${target.file}`);
          await res.body?.cancel();
        } catch (error) {
          throw new Error(
            `Cannot find peer http://${target.host}:${target.port}/: ${(error as Error).message}`,
          );
        }
        break;
      }
    }
    this.#slots[index] = host;
    this.current = index;
    return index;
  }

  #host(slot: number): RemoteHost {
    const host = slot >= 0 && slot < MAX_HOSTS ? this.#slots[slot] : undefined;
    if (!host) throw new Error(`Unknown host ${slot} (list them with =, add one with =+)`);
    return host;
  }

  /** Run `command` on host `slot` and return its output (`=N cmd`). */
  async command(slot: number, command: string): Promise<string> {
    const host = this.#host(slot);
    this.current = slot;
    switch (host.proto) {
      case "rap":
      case "raps": {
        if (!host.client?.connected) {
          throw new Error(
            `The connection to ${host.host}:${host.port} is closed (remove it with =-${slot})`,
          );
        }
        return await host.client.cmd(command.trim());
      }
      case "tcp": {
        if (command.length < 1 || command.length > 16384) return "";
        const conn = await Deno.connect({ hostname: host.host, port: host.port });
        try {
          await writeAllTo(conn, encoder.encode(command + "\n\0"));
          return decoder.decode(await readAll(conn, TCP_REPLY_MAX));
        } finally {
          conn.close();
        }
      }
      case "http": {
        const url = `http://${host.host}:${host.port}/${host.file}${encodeURIComponent(command)}`;
        const res = await fetch(url);
        return await res.text();
      }
      case "udp":
        throw new Error(`udp hosts only take output (=<${slot} cmd), not commands`);
    }
  }

  /** Send bytes to host `slot` (`=<`). */
  async push(slot: number, data: Uint8Array): Promise<void> {
    const host = this.#host(slot);
    switch (host.proto) {
      case "tcp": {
        const conn = await Deno.connect({ hostname: host.host, port: host.port });
        try {
          await writeAllTo(conn, data);
        } finally {
          conn.close();
        }
        return;
      }
      case "udp":
        await host.udp!.send(data, { transport: "udp", hostname: host.host, port: host.port });
        return;
      default:
        throw new Error(`Cannot use '=<' to a ${host.proto} connection (tcp and udp only)`);
    }
  }

  async #closeHost(host: RemoteHost): Promise<void> {
    await host.client?.close();
    try {
      host.udp?.close();
    } catch { /* already closed */ }
  }

  /** Remove host `slot`, or all with `undefined` (`=-`). */
  async remove(slot?: number): Promise<void> {
    if (slot === undefined) {
      const all = this.#slots.splice(0);
      this.current = 0;
      for (const host of all) if (host) await this.#closeHost(host);
      return;
    }
    const host = this.#host(slot);
    this.#slots[slot] = undefined;
    await this.#closeHost(host);
  }

  /** Forward a line in remote mode. */
  async forward(line: string, out: ShellOutput): Promise<void> {
    if (line.startsWith("q")) {
      this.mode = undefined;
      return;
    }
    const mode = this.mode ?? "";
    if (mode === "" && this.#slots[this.current] === undefined) {
      await ioSystem({ shell: this.#shell, name: "=!", args: line, out });
      return;
    }
    const slot = mode === "" ? this.current : Number(mode);
    out.write(withNewline(await this.command(slot, line)));
  }

  /** Start a RAP server over the shell's files. */
  listen(port: number, out: ShellOutput | undefined): RapServer {
    const session = this.#shell.session;
    const current = session.currentFd;
    return RapServer.listen({
      hostname: this.#hostname(),
      port,
      defaultUri: current === undefined ? undefined : `shell://${current}`,
      registry: new IoRegistry([sessionViewPlugin(session)]),
      commandHandler: createShellCommandHandler({ policy: this.#peerPolicy() }),
      log: this.#log(out),
    });
  }

  /** `=:port`: serve RAP in the foreground until interrupted. */
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

  /** `=&:port`: serve RAP in the background. */
  serveBackground(port: number, out: ShellOutput): RapServer {
    const server = this.listen(port, undefined);
    this.#servers.add(server);
    out.message(
      `INFO: Background rap server listening on rap://${server.addr.hostname}:${server.addr.port}/`,
    );
    return server;
  }

  /** `=&-`: stop the background RAP servers. */
  async stopBackground(): Promise<void> {
    const servers = [...this.#servers];
    this.#servers.clear();
    await Promise.all(servers.map((s) => s.close()));
  }

  /**
   * `=t port`: the plain-TCP command server, in the foreground until interrupted. Each
   * connection sends one command (its first read, up to 4096 bytes, as radare2) and gets
   * its output; commands run one at a time, in the order they arrive. Connections reset,
   * empty or silent (closed after 10 s, or when 64 wait) hold up no one.
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
      await writeAllTo(conn, bytes.length > 0 ? bytes : encoder.encode("\n"));
    } catch (error) {
      log(`tcp client failed: ${(error as Error).message}`);
    } finally {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /** `=t host:port cmd`: one command to a `=t` server. */
  async tcpQuery(host: string, port: number, command: string): Promise<Uint8Array> {
    let conn: Deno.TcpConn | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 6 && !conn; attempt++) {
      try {
        conn = await Deno.connect({ hostname: host, port });
      } catch (error) {
        lastError = error;
      }
    }
    if (!conn) {
      throw new Error(`Cannot connect to ${host}:${port}: ${(lastError as Error).message}`);
    }
    try {
      await writeAllTo(conn, encoder.encode(command));
      await conn.closeWrite();
      return await readAll(conn, 1 << 30);
    } finally {
      conn.close();
    }
  }

  /** `=h [port]`: start the HTTP endpoint in the background. */
  async startHttp(port: number, out: ShellOutput): Promise<HttpEndpoint> {
    if (this.#http) throw new Error("http server is already running (stop it with =h-)");
    // The runner's shell shares the console's session (as radare2's =h shares its core),
    // with a seek of its own; lib/http/ knows nothing of the shell.
    const runner = createHttpCommandRunner({
      session: this.#shell.session,
      policy: this.#peerPolicy(),
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
    const url = `http://${endpoint.addr.hostname}:${endpoint.addr.port}`;
    // Registered for =l, as radare2 does (best effort: needs write access to $TMPDIR/r2).
    await registerSession(
      `r2web://${endpoint.addr.hostname}:${endpoint.addr.port}/cmd`,
      this.#shell.session.current?.uri ?? "",
    ).catch((error) => out.message(`WARN: session not registered for =l: ${error.message}`));
    out.message(
      `INFO: http server listening on ${url}/ (r2 -C ${url}/cmd/, r2 r2web://${endpoint.addr.hostname}:${endpoint.addr.port}/cmd/)`,
    );
    return endpoint;
  }

  /** Whether the `=h` endpoint runs. */
  get httpRunning(): boolean {
    return this.#http !== undefined;
  }

  /** `=h-`: stop the HTTP endpoint. */
  async stopHttp(): Promise<boolean> {
    const http = this.#http;
    this.#http = undefined;
    if (!http) return false;
    await unregisterSession();
    await http.shutdown();
    return true;
  }

  /** Close every host and server. */
  async close(): Promise<void> {
    this.mode = undefined;
    await this.remove();
    await this.stopBackground();
    await this.stopHttp();
  }
}

function listHosts(state: RemoteState, style: "" | "*" | "j"): string {
  const hosts = state.hosts();
  if (style === "j") {
    return JSON.stringify(hosts.map(({ host }) => ({
      protocol: host.proto,
      fd: host.fd,
      host: host.host,
      port: host.port,
      file: host.file,
    }))) + "\n";
  }
  const prefix = style === "*" ? "# " : "";
  return hosts.map(({ slot, host }) =>
    `${prefix}${slot} fd:${host.fd} ${host.proto}://${host.host}:${host.port}/${host.file}\n`
  ).join("");
}

const HELP = `Usage: =[:!+-=hH] [...]  # connect with other instances of r2 or rap
| =[*j]                   list the remote hosts
| =+ [proto://]host:port[/file]  add a host (rap://, raps://, tcp://, udp://, http://)
| =-[n]                   remove host n, or all hosts
| =[n] cmd                run cmd on host n (default: the current host)
| ==[n]                   interactive session with host n ('q' or an empty line leaves)
| =<[n] cmd               send the output of a local cmd to host n (tcp, udp)
| =!cmd                   run cmd through the current file's plugin (same as :cmd)
| !=![n]                  remote mode on: every line goes to host n (or the current file)
| =!=                     remote mode off (also =!q, or a line starting with q)
| =:port                  serve rap in the foreground (interrupt to stop)
| =&:port                 serve rap in the background (=&- stops those servers)
| =:host:port cmd         run cmd on a rap server (one connection)
| =r port                 same as =:port
| =r host:port, =R ...    reverse prompt: let host:port type commands here (=R retries)
| =t port                 plain-TCP command server, in the foreground
| =t [host:]port cmd      send cmd to a =t server and print the reply
| =h [port]               start the HTTP endpoint in the background (default port 9090)
| =h-                     stop the HTTP endpoint
| =l, =lj                 list the sessions registered by =h ($TMPDIR/r2/PID.pid)
| =ll, =l-                serve =h on a free port and register it / stop it
`;

async function equals(env: CommandEnv): Promise<void> {
  const { shell, out } = env;
  const state = shell.remote;
  const text = env.args;
  const first = text[0] ?? "";
  const rest = text.slice(1).trim();
  switch (first) {
    case "":
    case "*":
    case "j":
      if (rest !== "") break;
      out.write(listHosts(state, first as "" | "*" | "j"));
      return;
    case "?":
      out.write(HELP);
      return;
    case "+":
      if (rest === "" || rest === "?") return out.write(HELP);
      await state.add(rest, out);
      return;
    case "-": {
      // help: "=-[fd] remove all hosts or host 'fd'" (radare2's code treats "=- 1" as all).
      if (rest === "") return await state.remove();
      if (!/^\d+$/.test(rest)) throw new SyntaxError("Usage: =-[n]");
      return await state.remove(Number(rest));
    }
    case "<": {
      // help: "=<[fd] cmd" works with any host (radare2's code only finds the current one).
      const m = /^(\d+)\s+([\s\S]+)$/.exec(rest);
      const slot = m ? Number(m[1]) : state.current;
      const command = m ? m[2] : rest;
      if (command === "") throw new SyntaxError("Usage: =<[n] cmd");
      const buffer = new OutputBuffer(out);
      await shell.execute(command, buffer, { signal: env.signal });
      await state.push(slot, buffer.bytes());
      return;
    }
    case "=": {
      if (rest.startsWith("=")) throw new Error("===errmsg (stderr FIFO) is not supported");
      const slot = rest === "" ? state.current : Number(rest);
      if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_HOSTS) {
        throw new SyntaxError(`Invalid fd "${rest}"`);
      }
      const host = state.hosts().find((h) => h.slot === slot)?.host;
      if (!host) throw new Error(`Unknown host ${slot}`);
      if (host.proto === "udp") throw new Error("Invalid connection: udp hosts take no commands");
      const prompt = `[${host.proto}://${host.host}:${host.port}/]> `;
      const stop = shell.interrupted();
      for (;;) {
        const line = await Promise.race([shell.readLine(prompt), stop.then(() => null)]);
        if (line === null || line.trim() === "" || line.trim().startsWith("q")) return;
        try {
          out.write(withNewline(await state.command(slot, line.trim())));
        } catch (error) {
          out.message(`ERROR: ${(error as Error).message}`);
        }
      }
    }
    case "!": {
      if (rest === "=") {
        // help: "=!= disable remote cmd mode" (radare2's code enables it).
        state.mode = undefined;
        return;
      }
      if (rest.startsWith("=")) {
        // radare2's code: "=!=N" turns remote mode on for host N; kept for its users.
        const arg = rest.slice(1).trim();
        if (!/^\d+$/.test(arg)) throw new SyntaxError("Usage: !=![n] (on), =!= (off)");
        state.mode = arg;
        return;
      }
      if (rest === "q") {
        state.mode = undefined;
        return;
      }
      await ioSystem({ shell, name: "=!", args: text.slice(1), out });
      return;
    }
    case "h":
    case "H": {
      if (rest === "-" || rest === "--") {
        if (!await state.stopHttp()) out.message("INFO: the http server is not running");
        return;
      }
      if (rest === "?") return out.write(HELP);
      const arg = rest.replace(/^&/, "").trim();
      const port = arg === "" ? 9090 : Number(arg);
      if (!/^\d*$/.test(arg) || port > 65535) throw new SyntaxError("Usage: =h [port], =h-");
      await state.startHttp(port, out);
      return;
    }
    case "t": {
      if (rest === "") throw new SyntaxError("Usage: =t port (server), =t [host:]port cmd");
      const m = /^(\S+)(?:\s+([\s\S]+))?$/.exec(rest)!;
      const { host, port } = parseHostPort(m[1], "localhost");
      if (m[2] === undefined) return await state.serveTcp(port, out);
      const reply = await state.tcpQuery(host, port, m[2]);
      out.write(reply.length && reply.at(-1) !== 0x0a ? withNewline(decoder.decode(reply)) : reply);
      return;
    }
    case "r":
    case "R": {
      // help: "=r port start the rap server"; radare2's code: "=r host:port" opens a
      // reverse prompt (=R retries the connection every second). Both work here.
      if (/^\d+$/.test(rest)) return await state.serveForeground(Number(rest), out);
      if (rest === "") throw new SyntaxError("Usage: =r port (serve), =r host:port, =R host:port");
      const { host, port } = parseHostPort(rest, "localhost");
      const count = await reversePrompt(shell, host, port, {
        retry: first === "R",
        policy: shell.options.peerPolicy ?? CommandPolicy.RESTRICTED,
      });
      out.message(`INFO: reverse prompt to ${host}:${port} closed after ${count} command(s)`);
      return;
    }
    case "&": {
      if (rest === "-") return await state.stopBackground();
      const m = /^:(\d+)$/.exec(rest);
      if (!m) throw new SyntaxError("Usage: =&:port, =&- (stop)");
      state.serveBackground(Number(m[1]), out);
      return;
    }
    case ":": {
      const server = /^(\d+)$/.exec(rest);
      if (server) return await state.serveForeground(Number(server[1]), out);
      // help: "=:host:port cmd" (radare2's code falls through to "=cmd").
      const query = /^(\[[^\]]*\]|[^:\s]*):(\d+)\s+([\s\S]+)$/.exec(rest);
      if (!query) throw new SyntaxError("Usage: =:port (serve), =:host:port cmd");
      await using client = await RapClient.connect({
        hostname: query[1].replace(/^\[(.*)\]$/, "$1") || "localhost",
        port: Number(query[2]),
        onReverseCommand: createReverseCommandHandler(shell),
      });
      out.write(withNewline(await client.cmd(query[3])));
      return;
    }
    case "l": {
      // =l list, =lj JSON, =ll serve =h on a free port and register, =l- stop it.
      if (rest === "" || rest === "j") {
        return out.write(formatSessions(await listSessions(), rest === "j"));
      }
      if (rest === "l") {
        if (!state.httpRunning) await state.startHttp(0, out);
        return;
      }
      if (rest === "-") {
        if (!await state.stopHttp()) out.message("INFO: the http server is not running");
        return;
      }
      throw new SyntaxError("Usage: =l (list sessions), =lj, =ll (serve and register), =l-");
    }
    case "g":
      throw new Error("=g (gdbserver) is not supported");
  }
  // "=N cmd" or "=cmd" (the current host).
  const m = /^(\d+)(?:\s+([\s\S]*))?$/.exec(text);
  const slot = m ? Number(m[1]) : state.current;
  const command = m ? m[2] ?? "" : text;
  if (command.trim() === "") {
    state.current = slot;
    return;
  }
  out.write(withNewline(await state.command(slot, command)));
}

/**
 * The `=` family as shell commands (`=…` and `!=!`), all needing the `remote` capability.
 *
 * @example
 * ```ts
 * import { REMOTE_COMMANDS } from "@rap/cli/shell";
 * console.assert(REMOTE_COMMANDS.every((c) => c.capability === "remote"));
 * ```
 */
export const REMOTE_COMMANDS: readonly CommandSpec[] = [
  {
    name: "=",
    usage: "[?]",
    help: "remote hosts and servers (=? for the list)",
    capability: "remote",
    unlocked: true,
    run: equals,
  },
  {
    name: "!=!",
    usage: "[n]",
    help: "remote mode on: every line goes to host n (=!= turns it off)",
    capability: "remote",
    unlocked: true,
    run({ shell, args }) {
      // help: "!=! enable remote cmd mode" (radare2's code disables it).
      if (args !== "" && !/^\d+$/.test(args)) throw new SyntaxError("Usage: !=![n]");
      shell.remote.mode = args;
    },
  },
];
