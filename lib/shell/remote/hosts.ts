/**
 * The `=` state of one shell ({@linkcode RemoteState}): its host table (`=+` adds a
 * `rap://`, `raps://`, `tcp://`, `udp://` or `http://` host, `=N cmd` runs a command there,
 * `=<` pushes output, `=-` removes hosts), the remote mode (`!=!`) and the servers it
 * started (`servers.ts`).
 *
 * @module
 */

import type { RapClient } from "../../client/client.ts";
import { ownListeningAddress, refuseOwnConnection, selfDialing } from "../../net/own_addresses.ts";
import { writeAll } from "../../net/write_queue.ts";
import type { CommandShell } from "../command.ts";
import { ioSystem } from "../commands/misc.ts";
import type { ShellOutput } from "../output.ts";
import { createReverseCommandHandler, type ShellFactory } from "../peer.ts";
import { dialRap, explainRefusal, type RapDial } from "./dial.ts";
import { ShellServers } from "./servers.ts";
import { parseRemoteTarget, type RemoteTarget } from "./target.ts";

/**
 * The most hosts of the table (radare2's `RTR_MAX_HOSTS`).
 *
 * @example
 * ```ts
 * import { MAX_HOSTS } from "@rap/cli/shell";
 * console.assert(MAX_HOSTS === 255);
 * ```
 */
export const MAX_HOSTS = 255;
/** The most bytes read back from a `tcp://` host, as radare2. */
const TCP_REPLY_MAX = 4096;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/**
 * The shell as the `=` family sees it: a {@linkcode CommandShell} with its `=` state.
 *
 * @example
 * ```ts
 * import { type RemoteShell, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * const seen: RemoteShell = shell;
 * await seen.run("!=!");
 * assert.equal(seen.remote.mode, "");
 * ```
 */
export interface RemoteShell extends CommandShell {
  /** The `=` state: remote hosts, servers, remote mode. */
  readonly remote: RemoteState;
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

/** Connect, send `data`, and close (`=<` to a `tcp://` host). */
async function sendTcp(host: RemoteTarget, data: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: host.host, port: host.port });
  try {
    await writeAll(conn, [data]);
  } finally {
    conn.close();
  }
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
  /** The servers the shell started (`=:port`, `=&:port`, `=t port`, `=h`). */
  readonly servers: ShellServers;
  readonly #shell: CommandShell;
  readonly #slots: (RemoteHost | undefined)[] = [];
  /** How each RAP host was dialled: a later refusal can then say it was the token. */
  readonly #dials = new WeakMap<RapClient, RapDial>();
  #nextFd = 3;

  /**
   * Create it.
   *
   * @param shell The shell this state belongs to.
   * @param spawn Makes the shells of the peers of the servers it starts (the shell's class).
   */
  constructor(shell: CommandShell, spawn: ShellFactory) {
    this.#shell = shell;
    this.servers = new ShellServers(shell, spawn);
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

  /**
   * Add a host (`=+`); it becomes the current one.
   *
   * @param text The target, `[proto://]host:port[/file]`.
   * @param out Where messages go.
   * @returns Its slot.
   */
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
      case "raps":
        host.client = await this.#connectRap(target, peer, out);
        break;
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

  /**
   * Connect to a `rap://` or `raps://` host (with the shell's CAs and token), and OPEN its
   * file if it names one.
   */
  async #connectRap(target: RemoteTarget, peer: boolean, out: ShellOutput): Promise<RapClient> {
    const dial: RapDial = {
      hostname: target.host,
      port: target.port,
      tls: target.proto === "raps",
      credentials: this.#shell.options,
      onReverseCommand: createReverseCommandHandler(this.#shell),
      onConnect: peer ? refuseOwnConnection : undefined,
    };
    const client = await dialRap(dial);
    this.#dials.set(client, dial);
    if (target.file !== "") {
      try {
        // radare2's =+ always sends OPEN with permission 0.
        const fd = await client.open(target.file, 0);
        out.message(`INFO: opened as fd = ${fd}`);
      } catch (error) {
        await client.close();
        throw await explainRefusal(error, dial);
      }
    }
    return client;
  }

  #host(slot: number): RemoteHost {
    const host = slot >= 0 && slot < MAX_HOSTS ? this.#slots[slot] : undefined;
    if (!host) throw new Error(`Unknown host ${slot} (list them with =, add one with =+)`);
    return host;
  }

  /**
   * Run `command` on host `slot` and return its output (`=N cmd`).
   *
   * @param slot The host.
   * @param command The command.
   * @returns Its output.
   */
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
        const client = host.client;
        return await client.cmd(command.trim()).catch(async (error) => {
          // A token server closes a connection at its first request without the token.
          throw await explainRefusal(error, this.#dials.get(client)!);
        });
      }
      case "tcp": {
        if (command.length < 1 || command.length > 16384) return "";
        const conn = await Deno.connect({ hostname: host.host, port: host.port });
        try {
          await writeAll(conn, [encoder.encode(command + "\n\0")]);
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

  /**
   * Run `command` on host `slot` and return what radare2 prints for it (`=N cmd`, `==`,
   * remote mode): the reply and a newline for rap and tcp hosts (radare2's
   * `r_cons_println`, so a reply ending in a newline is followed by an empty line), the
   * reply alone for http hosts, nothing for a tcp command radare2 does not send.
   *
   * @param slot The host.
   * @param command The command.
   * @returns The text to print.
   */
  async printed(slot: number, command: string): Promise<string> {
    const { proto } = this.#host(slot);
    if (proto === "tcp" && (command.length < 1 || command.length > 16384)) return "";
    const reply = await this.command(slot, command);
    return proto === "http" ? reply : reply + "\n";
  }

  /**
   * Send bytes to host `slot` (`=<`).
   *
   * @param slot The host (`tcp` or `udp`).
   * @param data The bytes.
   */
  async push(slot: number, data: Uint8Array): Promise<void> {
    const host = this.#host(slot);
    switch (host.proto) {
      case "tcp":
        return await sendTcp(host, data);
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

  /**
   * Remove host `slot`, or all with `undefined` (`=-`).
   *
   * @param slot The host.
   */
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

  /**
   * Forward a line in remote mode: to the mode's host, or with none to the current file's
   * plugin; a line starting with `q` ends the mode.
   *
   * @param line The line.
   * @param out Where its output goes.
   */
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
    out.write(await this.printed(slot, line));
  }

  /**
   * `=t host:port cmd`: one command to a `=t` server.
   *
   * @param host Where the server is.
   * @param port Its port.
   * @param command The command.
   * @returns The reply.
   */
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
      await writeAll(conn, [encoder.encode(command)]);
      await conn.closeWrite();
      return await readAll(conn, 1 << 30);
    } finally {
      conn.close();
    }
  }

  /** Close every host and server. */
  async close(): Promise<void> {
    this.mode = undefined;
    await this.remove();
    await this.servers.close();
  }
}
