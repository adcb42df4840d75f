/**
 * One client of the GDB server (`=g`, `serve --gdb-port`): the GDB remote protocol over a
 * file's bytes. Acks until `QStartNoAckMode`; `qSupported`, `?`, `g`, `m`/`M`/`X`,
 * `qAttached`, `vCont?`, `D`, `k` and the queries gdb sends on `target remote` are answered
 * here. When the file is a process behind a GDB stub (`gdb://`, `dbg://`), registers,
 * execution (`c`, `s`, `vCont`, a 0x03 interrupt), breakpoints (`Z`/`z`), memory and the
 * target description pass through to the stub; packets that reach beyond the file (`vRun`,
 * `vAttach`, `vFile`, `!`, `QNonStop`) are refused with an empty reply, as unsupported.
 *
 * @example
 * ```ts
 * import { answerQuery } from "./server_session.ts";
 * console.assert(answerQuery("qAttached") === "1");
 * ```
 *
 * @module
 */

import {
  encodeGdbPacket,
  fromHex,
  GdbPacketDecoder,
  latin1Bytes,
  latin1Text,
  toHex,
  unescapeGdbBinary,
} from "./codec.ts";
import type { GdbStubLink } from "./stub_link.ts";

/**
 * The bytes a GDB server serves, and the stub behind them when they are a process.
 *
 * @example
 * ```ts
 * import type { GdbServedFile } from "./server_session.ts";
 * const bytes = new Uint8Array(32);
 * const file: GdbServedFile = { read: (o, n) => Promise.resolve(bytes.slice(o, o + n)) };
 * console.assert(file.write === undefined);
 * ```
 */
export interface GdbServedFile {
  /**
   * Read bytes at an offset (the address).
   *
   * @param offset The offset.
   * @param length How many bytes at most.
   * @returns The bytes; shorter (or empty) past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Write bytes at an offset; absent when the file is served read-only. */
  write?(offset: number, data: Uint8Array): Promise<number>;
  /** The stub behind the file, when the file is a process (`gdb://`, `dbg://`). */
  link?: GdbStubLink;
}

/**
 * Runs a `monitor` command (`qRcmd`) under the server's command policy.
 *
 * @example
 * ```ts
 * import type { GdbMonitor } from "./server_session.ts";
 * const echo: GdbMonitor = (command) => Promise.resolve(`${command}\n`);
 * console.assert(typeof echo === "function");
 * ```
 */
export type GdbMonitor = (
  command: string,
  signal: AbortSignal,
  peer: Deno.NetAddr,
) => Promise<string>;

/**
 * How one connection is served.
 *
 * @example
 * ```ts
 * import type { GdbSessionOptions } from "./server_session.ts";
 * const options: GdbSessionOptions = { file: () => undefined, maxPacket: 16384, log: () => {} };
 * console.assert(options.maxPacket === 16384);
 * ```
 */
export interface GdbSessionOptions {
  /** The file served now (`undefined`: none, memory packets fail). */
  file: () => GdbServedFile | undefined;
  /** The largest packet accepted and advertised (`PacketSize`). */
  maxPacket: number;
  /** Runs `monitor` commands; without it `monitor` is unsupported. */
  monitor?: GdbMonitor;
  /** Milliseconds to wait for the first packet (0: no limit). */
  firstPacketTimeout?: number;
  /** Milliseconds a `monitor` command may run (0: no limit). */
  commandTimeout?: number;
  /** Where the connection's end reason goes. */
  log: (line: string) => void;
}

/** Stub features that pass through to the client in the `qSupported` reply. */
const PASSED_FEATURES =
  /^(multiprocess|swbreak|hwbreak|vContSupported|qXfer:(features|threads|auxv|exec-file|libraries-svr4):read)\+$/;
/** Packets that go to the stub as they are, when there is one. */
const PASSED =
  /^(g|p[0-9a-fA-F]+|[Hh][gc].*|T.*|qC|q[fs]ThreadInfo|qThreadExtraInfo,.*|qOffsets|qSymbol:.*|qXfer:(features|threads|auxv|exec-file|libraries-svr4):read:.*|Q(Pass|Program)Signals:.*|[Zz][0-4],.*|m[0-9a-fA-F]+,[0-9a-fA-F]+)$/;
/** Packets that change the process's registers: passed through only when writable. */
const REGISTER_WRITE = /^[GP]/;
/** Execution packets: waited for however long the process runs. */
const RESUME = /^([cCsS]|vCont;.*)$/;
/**
 * The `g` reply of a plain file: zeros up to and including the program counter of gdb's
 * default architecture when it has no file, so gdb finds a pc (0) and keeps the
 * connection. gdb takes a short `g` reply that ends on a register boundary: 144 bytes is
 * one for i386 (eip at 32, st7 ends at 144) and for x86-64 (rip ends at 136, fs at 144);
 * aarch64's pc ends at 264. The other registers are unavailable.
 */
const PLAIN_REGISTERS = "00".repeat(Deno.build.arch === "aarch64" ? 264 : 144);
/** Most bytes of `monitor` output sent. */
const MAX_MONITOR_OUTPUT = 1 << 20;
/** Packets that may wait in line behind a running one before the client is dropped. */
const MAX_QUEUED = 64;

/**
 * The answer to a query that does not depend on the file: `qAttached` (1: gdb detaches
 * when it quits, it never kills the served process), `vMustReplyEmpty` and the tracing
 * and extended-mode queries (empty: unsupported), or `undefined` for the others.
 *
 * @param packet The packet.
 * @returns The reply, or `undefined`.
 *
 * @example
 * ```ts
 * import { answerQuery } from "./server_session.ts";
 * console.assert(answerQuery("vMustReplyEmpty") === "" && answerQuery("m0,1") === undefined);
 * ```
 */
export function answerQuery(packet: string): string | undefined {
  if (/^qAttached(:.*)?$/.test(packet)) return "1";
  if (/^qSymbol:/.test(packet)) return "OK";
  if (
    /^(vMustReplyEmpty|!|vRun.*|vAttach.*|vFile:.*|QNonStop:.*|qT.*|QStartupWithShell.*)$/.test(
      packet,
    )
  ) {
    return "";
  }
  return undefined;
}

/**
 * Serve one connection until the client detaches, kills, closes, or breaks a limit.
 *
 * @example
 * ```ts
 * import { GdbServerSession } from "./server_session.ts";
 * console.assert(typeof GdbServerSession.prototype.serve === "function");
 * ```
 */
export class GdbServerSession {
  readonly #conn: Deno.Conn;
  readonly #options: GdbSessionOptions;
  readonly #peer: string;
  readonly #peerAddr: Deno.NetAddr;
  readonly #decoder: GdbPacketDecoder;
  #noAck = false;
  #queued = 0;
  #work: Promise<void> = Promise.resolve();
  #writes: Promise<void> = Promise.resolve();
  /** Aborted by an interrupt (0x03) or the end of the connection: stops a running `c`. */
  #running: AbortController | undefined;
  #ended: string | undefined;
  readonly #closed = new AbortController();

  /**
   * Make it.
   *
   * @param conn The accepted connection (closed by {@linkcode GdbServerSession.serve}).
   * @param options How to serve it.
   */
  constructor(conn: Deno.Conn, options: GdbSessionOptions) {
    this.#conn = conn;
    this.#options = options;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.#peerAddr = addr;
    this.#peer = `${addr.hostname}:${addr.port}`;
    this.#decoder = new GdbPacketDecoder(options.maxPacket);
  }

  /** Stop serving: a running `c` is interrupted, the connection closed. */
  close(): void {
    this.#end("server shutting down");
  }

  /**
   * Read packets and answer them until the connection ends.
   *
   * @returns When the connection is closed (never rejects).
   */
  async serve(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    const first = this.#options.firstPacketTimeout ?? 0;
    let timer = first > 0
      ? setTimeout(() => this.#end(`no packet within ${first} ms`), first)
      : undefined;
    try {
      while (this.#ended === undefined) {
        const n = await this.#conn.read(buffer).catch((e) => {
          if (this.#ended === undefined) this.#end(`read failed: ${(e as Error).message}`);
          return null;
        });
        if (n === null) break;
        let events;
        try {
          events = this.#decoder.push(buffer.subarray(0, n));
        } catch (error) {
          this.#end(`${(error as Error).message} (the server accepts ${this.#options.maxPacket})`);
          break;
        }
        for (const event of events) {
          if (event.type === "interrupt") this.#running?.abort();
          if (event.type !== "packet") continue;
          clearTimeout(timer);
          timer = undefined;
          if (!event.checksumOk) {
            if (!this.#noAck) await this.#write(Uint8Array.of(0x2d));
            continue;
          }
          if (!this.#noAck) await this.#write(Uint8Array.of(0x2b));
          if (++this.#queued > MAX_QUEUED) {
            this.#end(`more than ${MAX_QUEUED} packets sent without waiting for replies`);
            break;
          }
          const payload = event.payload;
          this.#work = this.#work.then(() => this.#answer(payload)).finally(() => this.#queued--);
        }
      }
    } finally {
      clearTimeout(timer);
      this.#end(this.#ended ?? "client closed the connection");
      await this.#work.catch(() => {});
      try {
        this.#conn.close();
      } catch { /* closed already */ }
    }
  }

  #end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#running?.abort();
    this.#closed.abort();
    if (!/^(client (closed|detached|killed))/.test(reason)) {
      this.#options.log(`[gdb] ${this.#peer}: ${reason}`);
    }
    try {
      this.#conn.close();
    } catch { /* closed already */ }
  }

  /** Write bytes after those already queued (an ack never splits a reply). */
  #write(bytes: Uint8Array): Promise<void> {
    this.#writes = this.#writes.then(async () => {
      try {
        let done = 0;
        while (done < bytes.length) done += await this.#conn.write(bytes.subarray(done));
      } catch (error) {
        this.#end(`write failed: ${(error as Error).message}`);
      }
    });
    return this.#writes;
  }

  async #reply(text: string | Uint8Array): Promise<void> {
    if (this.#ended !== undefined) return;
    await this.#write(encodeGdbPacket(typeof text === "string" ? latin1Bytes(text) : text));
  }

  async #answer(payload: Uint8Array): Promise<void> {
    if (this.#ended !== undefined) return;
    const packet = latin1Text(payload);
    let reply: string;
    try {
      reply = await this.#replyTo(packet, payload);
    } catch (error) {
      this.#options.log(
        `[gdb] ${this.#peer}: "${packet.slice(0, 40)}" failed: ${(error as Error).message}`,
      );
      reply = "E01";
    }
    await this.#reply(reply);
    if (packet === "QStartNoAckMode" && reply === "OK") this.#noAck = true;
    if (/^(D|D;.*)$/.test(packet)) this.#end("client detached");
    if (/^(k|vKill;.*)$/.test(packet)) this.#end("client killed the session");
  }

  async #replyTo(packet: string, payload: Uint8Array): Promise<string> {
    const file = this.#options.file();
    const link = file?.link;
    const fixed = answerQuery(packet);
    if (fixed !== undefined) return fixed;
    if (packet.startsWith("qSupported")) return this.#supported(link);
    if (packet === "QStartNoAckMode") return "OK";
    if (packet.startsWith("qRcmd,")) return await this.#monitor(packet.slice(6));
    if (/^(D|D;.*|k|vKill;.*)$/.test(packet)) return "OK";
    if (!file) return "E01";
    if (link) {
      if (packet === "?" || packet === "vCont?" || PASSED.test(packet)) {
        return await link.stubRequest(packet);
      }
      if (REGISTER_WRITE.test(packet)) {
        return file.write ? await link.stubRequest(packet) : "E01";
      }
      if (RESUME.test(packet)) return await this.#resume(link, packet);
      if (/^[MX]/.test(packet)) return await this.#writeMemory(file, packet, payload);
      return "";
    }
    return await this.#plain(file, packet, payload);
  }

  #supported(link: GdbStubLink | undefined): string {
    const passed = link?.stubFeatures.filter((f) => PASSED_FEATURES.test(f)) ?? [];
    return [`PacketSize=${this.#options.maxPacket.toString(16)}`, "QStartNoAckMode+", ...passed]
      .join(";");
  }

  /** Packets on a plain file: memory, and a process that is always stopped. */
  async #plain(file: GdbServedFile, packet: string, payload: Uint8Array): Promise<string> {
    if (packet === "?" || RESUME.test(packet)) return "S05";
    if (packet === "g") return PLAIN_REGISTERS;
    if (/^(H.*|T.*)$/.test(packet)) return "OK";
    if (packet === "qC") return "QC1";
    if (packet === "qfThreadInfo") return "m1";
    if (packet === "qsThreadInfo") return "l";
    const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(packet);
    if (m) {
      const length = Math.min(parseInt(m[2], 16), Math.floor((this.#options.maxPacket - 4) / 2));
      const bytes = await file.read(parseInt(m[1], 16), length);
      return bytes.length === 0 && length > 0 ? "E01" : toHex(bytes);
    }
    if (/^[MX]/.test(packet)) return await this.#writeMemory(file, packet, payload);
    return "";
  }

  /** `M addr,len:hex` or `X addr,len:binary`, through the file (or the stub). */
  async #writeMemory(file: GdbServedFile, packet: string, payload: Uint8Array): Promise<string> {
    if (!file.write) return "E01";
    const m = /^([MX])([0-9a-fA-F]+),([0-9a-fA-F]+):/.exec(packet);
    if (!m) return "E01";
    const [head, kind, addr, len] = m;
    const data = kind === "M"
      ? fromHex(packet.slice(head.length))
      : unescapeGdbBinary(payload.subarray(head.length));
    if (data.length !== parseInt(len, 16)) return "E01";
    if (data.length === 0) return "OK";
    const written = await file.write(parseInt(addr, 16), data);
    return written === data.length ? "OK" : "E01";
  }

  /** An execution packet through the stub; a 0x03 or the end of the connection interrupts it. */
  async #resume(link: GdbStubLink, packet: string): Promise<string> {
    const running = this.#running = new AbortController();
    if (this.#ended !== undefined) running.abort();
    try {
      return await link.stubResume(packet, running.signal);
    } finally {
      this.#running = undefined;
    }
  }

  /** `qRcmd,HEX`: run the command under the server's policy; its output in `O` packets. */
  async #monitor(hex: string): Promise<string> {
    const monitor = this.#options.monitor;
    if (!monitor) return "";
    const command = new TextDecoder().decode(fromHex(hex));
    const timeout = this.#options.commandTimeout ?? 0;
    const signals = [this.#closed.signal];
    if (timeout > 0) signals.push(AbortSignal.timeout(timeout));
    let output: string;
    try {
      output = await monitor(command, AbortSignal.any(signals), this.#peerAddr);
    } catch (error) {
      output = `${(error as Error).message}\n`;
    }
    const bytes = new TextEncoder().encode(output).subarray(0, MAX_MONITOR_OUTPUT);
    const chunk = Math.max(1, Math.floor((this.#options.maxPacket - 8) / 2));
    for (let pos = 0; pos < bytes.length; pos += chunk) {
      await this.#reply(`O${toHex(bytes.subarray(pos, pos + chunk))}`);
    }
    return "OK";
  }
}
