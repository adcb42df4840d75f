/**
 * `gdb://HOST:PORT` and `gdb://HOST:PORT/PID` — the memory of a process behind a GDB stub
 * (gdbserver, `qemu -s`, an OpenOCD or a JTAG probe) over the GDB remote serial protocol.
 * With `/PID` the stub attaches to that process first (`vAttach`, needs
 * `gdbserver --multi`). The size is unbounded; offsets are addresses.
 *
 * - Reads use `m addr,len`, split to fit the stub's `PacketSize`. Unmapped memory reads as
 *   0xff: an error reply for a range is retried page by page (4 KiB), and pages the stub
 *   cannot read stay 0xff. radare2 stops at the first error instead (the rest is 0xff too).
 * - Writes (when opened for writing) use `X` (binary), or `M` (hex) when the stub does not
 *   support `X`. An error reply is an `IoError` naming the address.
 * - Commands (`=!cmd`): `pid`, `pkt PACKET` (send a raw packet, return the reply),
 *   `monitor CMD` (`qRcmd`, returns the output), `pktsz [N]`.
 * - Closing detaches (`D`) from a process the stub attached to, and kills (`vKill`/`k`) a
 *   process the stub created, as gdb does on quit (`qAttached` tells them apart).
 *
 * The serial form `gdb:///dev/ttyX` is not supported: Deno has no serial port API.
 *
 * @example
 * ```ts
 * import gdb, { parseGdbUri } from "./gdb.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseGdbUri("gdb://127.0.0.1:1234/42"), {
 *   hostname: "127.0.0.1",
 *   port: 1234,
 *   pid: 42,
 * });
 * assert.deepEqual(gdb.permissions("gdb://localhost:1234", {}), [
 *   { name: "net", host: "localhost:1234" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { GdbRemote, GdbRemoteError } from "../lib/gdb/remote.ts";
import type { GdbStubLink } from "../lib/gdb/stub_link.ts";
import type { SystemOptions } from "../lib/io/types.ts";
import { DEBUG_HELP, GdbDebugger } from "./_gdb_debug.ts";
import { StubMemory } from "./_gdb_memory.ts";
import { runStubMonitor } from "./_gdb_monitor.ts";
import { connectFailure } from "./_open_error.ts";

/** The packet size assumed when the stub does not say (gdb's own default). */
const DEFAULT_PACKET_SIZE = 400;
/** The smallest packet size `pktsz` accepts. */
const MIN_PACKET_SIZE = 64;

const USAGE = [
  "Usage: =!cmd args",
  " =!pid             - show the targeted pid",
  " =!pkt s           - send packet 's' and show the reply",
  " =!monitor cmd     - run a monitor command of the stub (qRcmd)",
  " =!pktsz           - show the packet size in use",
  " =!pktsz bytes     - set the packet size",
  "Debugger (also as shell commands dr, ds ... on the current file):",
].join("\n") + "\n" + DEBUG_HELP;

/**
 * Where a `gdb://` URI points.
 *
 * @example
 * ```ts
 * import type { GdbTarget } from "./gdb.ts";
 * const target: GdbTarget = { hostname: "127.0.0.1", port: 1234 };
 * console.assert(target.pid === undefined);
 * ```
 */
export interface GdbTarget {
  /** Host name or address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** The process to attach to, if any. */
  pid?: number;
}

/**
 * Parse `gdb://HOST:PORT[/PID]`.
 *
 * @param uri The URI.
 * @returns The target.
 * @throws {IoError} For the serial form, a missing port or a bad PID.
 *
 * @example
 * ```ts
 * import { parseGdbUri } from "./gdb.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseGdbUri("gdb://[::1]:1234").hostname, "::1");
 * assert.throws(() => parseGdbUri("gdb://localhost"), /missing port/);
 * ```
 */
export function parseGdbUri(uri: string): GdbTarget {
  const rest = uri.replace(/^gdb:\/\//i, "");
  if (rest.startsWith("/")) {
    throw new IoError(
      uri,
      `Cannot open "${uri}": serial gdb targets are not supported (Deno has no serial port API)`,
    );
  }
  const m = /^(\[[^\]]+\]|[^:/]+):([^/]*)(?:\/(.*))?$/.exec(rest);
  if (!m) {
    throw new IoError(uri, `Cannot open "${uri}": missing port (use gdb://HOST:PORT[/PID])`);
  }
  const hostname = m[1].replace(/^\[|\]$/g, "");
  const port = Number(m[2]);
  if (!/^\d+$/.test(m[2]) || port < 1 || port > 65535) {
    throw new IoError(uri, `Cannot open "${uri}": invalid port "${m[2]}"`);
  }
  if (m[3] === undefined || m[3] === "") return { hostname, port };
  if (!/^\d+$/.test(m[3]) || Number(m[3]) < 1) {
    throw new IoError(uri, `Cannot open "${uri}": invalid pid "${m[3]}"`);
  }
  return { hostname, port, pid: Number(m[3]) };
}

function netHost({ hostname, port }: GdbTarget): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * How {@linkcode GdbDescriptor.connect} sets a descriptor up for another plugin (`dbg://`).
 *
 * @example
 * ```ts
 * import type { GdbConnectOptions } from "./gdb.ts";
 * const options: GdbConnectOptions = { plugin: "dbg" };
 * console.assert(options.plugin === "dbg");
 * ```
 */
export interface GdbConnectOptions {
  /** The plugin name the descriptor reports (default `gdb`). */
  plugin?: string;
  /** Called once the connection is closed, by `close()` (e.g. to stop a gdbserver). */
  afterRelease?: () => Promise<void>;
}

/**
 * An open `gdb://` target.
 *
 * @example
 * ```ts
 * import { GdbDescriptor } from "./gdb.ts";
 * console.assert(typeof GdbDescriptor.open === "function");
 * ```
 */
export class GdbDescriptor extends DescriptorBase implements GdbStubLink {
  /** The process id the stub reports (`qC`), or -1 when unknown. */
  pid: number = -1;
  /** The largest packet the stub accepts (`PacketSize` of `qSupported`). */
  packetSize: number = DEFAULT_PACKET_SIZE;
  /** Whether the stub speaks multiprocess extensions. */
  multiprocess: boolean = false;
  /** Whether the process was attached to (detach on close) rather than created (kill). */
  attached: boolean = true;
  /** The features of the stub's `qSupported` reply. */
  stubFeatures: readonly string[] = [];
  readonly #remote: GdbRemote;
  readonly #debugger: GdbDebugger;
  readonly #memory: StubMemory;
  readonly #afterRelease: (() => Promise<void>) | undefined;

  private constructor(
    uri: string,
    remote: GdbRemote,
    writable: boolean,
    options: GdbConnectOptions,
  ) {
    super(uri, options.plugin ?? "gdb", writable);
    this.#remote = remote;
    this.#debugger = new GdbDebugger(remote, this);
    this.#memory = new StubMemory(remote, this);
    this.#afterRelease = options.afterRelease;
  }

  /**
   * Connect to the stub of `uri` and set the session up: `qSupported`,
   * `QStartNoAckMode`, `vAttach` for `/PID`, `?`, `qC`, `qAttached`.
   *
   * @param uri The `gdb://` URI.
   * @param options How to open it.
   * @returns The descriptor.
   * @throws {IoError} When the stub cannot be reached or refuses the session.
   */
  static open(uri: string, options: OpenOptions = {}): Promise<GdbDescriptor> {
    return GdbDescriptor.connect(uri, parseGdbUri(uri), options);
  }

  /**
   * Connect to the stub at `target` and set the session up as {@linkcode GdbDescriptor.open}
   * does, for a descriptor of `uri` (another plugin's, such as `dbg://`).
   *
   * @param uri The URI the descriptor reports.
   * @param target Where the stub listens (and the process to attach to).
   * @param options How to open it.
   * @param connect The plugin name, and what to do after closing.
   * @returns The descriptor.
   * @throws {IoError} When the stub cannot be reached or refuses the session.
   */
  static async connect(
    uri: string,
    target: GdbTarget,
    options: OpenOptions = {},
    connect: GdbConnectOptions = {},
  ): Promise<GdbDescriptor> {
    let remote: GdbRemote;
    try {
      remote = await GdbRemote.connect(target.hostname, target.port);
    } catch (error) {
      throw connectFailure(uri, error, netHost(target));
    }
    const desc = new GdbDescriptor(uri, remote, options.write ?? false, connect);
    try {
      await desc.#handshake(target);
    } catch (error) {
      remote.close();
      throw desc.failure(error, "open");
    }
    return desc;
  }

  async #handshake(target: GdbTarget): Promise<void> {
    const remote = this.#remote;
    const features =
      (await remote.requestText("qSupported:multiprocess+;swbreak+;xmlRegisters=i386,arm")).split(
        ";",
      );
    this.stubFeatures = features;
    for (const feature of features) {
      const size = /^PacketSize=([0-9a-fA-F]+)$/.exec(feature);
      if (size) this.packetSize = Math.max(MIN_PACKET_SIZE, parseInt(size[1], 16));
      if (feature === "multiprocess+") this.multiprocess = true;
    }
    if (features.includes("QStartNoAckMode+")) {
      // The OK is still acked; from then on neither side acks.
      if (await remote.requestText("QStartNoAckMode") === "OK") remote.noAck = true;
    }
    if (target.pid !== undefined) {
      await remote.requestText("!");
      const reply = await remote.requestText(`vAttach;${target.pid.toString(16)}`);
      if (reply === "") {
        throw new Error(`the stub cannot attach to processes (run gdbserver --multi)`);
      }
      if (!/^[TS]/.test(reply)) throw new Error(`cannot attach to pid ${target.pid} (${reply})`);
      this.pid = target.pid;
    } else {
      await remote.requestText("?");
    }
    const current = await remote.requestText("qC");
    const qc = /^QC(?:p([0-9a-fA-F]+)\.)?([0-9a-fA-F]+)/.exec(current);
    if (qc) this.pid = parseInt(qc[1] ?? qc[2], 16);
    const attached = await remote.requestText(
      this.multiprocess && this.pid > 0 ? `qAttached:${this.pid.toString(16)}` : "qAttached",
    );
    this.attached = attached !== "0";
  }

  /**
   * The size: unbounded.
   *
   * @returns `Infinity`.
   */
  size(): Promise<number> {
    return Promise.resolve(Infinity);
  }

  /**
   * Read memory. Unreadable pages come back as 0xff, so the result always has `length`
   * bytes.
   *
   * @param offset The address.
   * @param length How many bytes.
   * @returns The bytes.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.checkOpen();
    if (this.#debugger.ended !== undefined) {
      return new Uint8Array(Math.max(0, length)).fill(0xff); // the process is gone: no memory
    }
    try {
      return await this.#memory.read(offset, length);
    } catch (error) {
      throw this.failure(error, "read");
    }
  }

  /**
   * Write memory with `X` (or `M` when the stub lacks `X`).
   *
   * @param offset The address.
   * @param data The bytes.
   * @returns `data.length`.
   * @throws {IoError} On an error reply, naming the address.
   */
  override async write(offset: number, data: Uint8Array): Promise<number> {
    this.checkWritable();
    try {
      await this.#memory.write(offset, data);
    } catch (error) {
      throw this.failure(error, "write to");
    }
    return data.length;
  }

  /**
   * Run a plugin command: `pid`, `pkt PACKET`, `monitor CMD`, `pktsz [N]`, `?`, and the
   * debugger's `dr`, `ds`, `dso`, `dc`, `db`, `dm`, `dp`, `dk` (see `_gdb_debug.ts`).
   *
   * @param command The command.
   * @param options `signal` interrupts a running `dc` or `ds` (the process stops).
   * @returns Its output.
   * @throws {IoError} For an unknown command or an error reply to `monitor`.
   */
  async system(command: string, options: SystemOptions = {}): Promise<string> {
    this.checkOpen();
    const cmd = command.trim();
    if (cmd === "" || cmd === "?" || cmd === "help") return USAGE;
    const [word] = cmd.split(/\s+/, 1);
    const arg = cmd.slice(word.length).trim();
    try {
      const output = await this.#debugger.run(cmd, options.signal);
      if (output !== undefined) return output;
      switch (word) {
        case "pid":
          return `${this.pid}\n`;
        case "pkt":
          if (arg === "") throw new IoError(this.uri, `Usage: pkt PACKET`);
          return `${await this.#remote.requestText(arg)}\n`;
        case "pktsz": {
          if (arg === "") return `packet size: ${this.packetSize} bytes\n`;
          const size = Number(arg);
          if (!Number.isSafeInteger(size) || size < 1) {
            throw new IoError(this.uri, `Invalid packet size "${arg}"`);
          }
          this.packetSize = Math.max(MIN_PACKET_SIZE, size);
          return "";
        }
        case "monitor":
          return await runStubMonitor(this.#remote, this.uri, arg === "" ? "help" : arg);
      }
    } catch (error) {
      throw this.failure(error, "run a command on");
    }
    throw new IoError(this.uri, `Unknown gdb command "${word}" (try "?")`);
  }

  /**
   * Send a packet to the stub as it is and return its reply (for the GDB server's
   * pass-through: `g`, `Z0` ...).
   *
   * @param payload The packet (latin-1).
   * @returns The reply (latin-1, escapes kept).
   */
  stubRequest(payload: string): Promise<string> {
    this.checkOpen();
    if (this.#debugger.ended !== undefined) {
      return Promise.resolve(`E.process ${this.pid} ${this.#debugger.ended}`);
    }
    return this.#remote.requestText(payload);
  }

  /**
   * Send an execution packet (`c`, `s`, `vCont;...`) and wait for the stop reply, however
   * long it takes; the end of the process is noted as `dc` notes it.
   *
   * @param payload The packet.
   * @param signal Interrupts the process.
   * @returns The stop reply.
   */
  stubResume(payload: string, signal?: AbortSignal): Promise<string> {
    this.checkOpen();
    return this.#debugger.resumeRaw(payload, signal);
  }

  /** Detach from (or kill, see the module doc) the process and close the connection. */
  protected override async release(): Promise<void> {
    const remote = this.#remote;
    try {
      // A continue still waiting for its stop: interrupt it, so the detach can follow.
      if (this.#debugger.running) remote.interrupt();
      if (!remote.closed && this.#debugger.ended === undefined) {
        const pid = this.pid > 0 ? this.pid.toString(16) : "";
        if (this.attached) {
          await remote.requestText(this.multiprocess && pid ? `D;${pid}` : "D");
        } else if (this.multiprocess && pid) {
          const reply = await remote.requestText(`vKill;${pid}`);
          if (reply === "") await remote.send("k");
        } else {
          await remote.send("k");
        }
      }
    } catch (error) {
      if (!(error instanceof GdbRemoteError)) throw error;
      // The stub may drop the connection right away; nothing is left to do.
    } finally {
      remote.close();
      await this.#afterRelease?.();
    }
  }
}

/**
 * The `gdb` plugin.
 *
 * @example
 * ```ts
 * import gdb from "./gdb.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(gdb.open("gdb:///dev/ttyUSB0", {}), /serial/);
 * ```
 */
const gdb: IoPlugin = definePlugin({
  name: "gdb",
  description: "memory of a process behind a GDB remote stub (gdb://HOST:PORT[/PID])",
  uriForms: ["gdb://HOST:PORT", "gdb://HOST:PORT/PID"],
  capabilities: { write: true, system: true },
  permissions: (uri) => [{ name: "net", host: netHost(parseGdbUri(uri)) }],
  open: (uri, options) => GdbDescriptor.open(uri, options),
});

export default gdb;
