/**
 * A client of the GDB remote serial protocol over one TCP connection: acks and
 * retransmission, `QStartNoAckMode`, run-length decoding of replies, and one request at a
 * time. The pure codec is in `codec.ts`.
 *
 * @example
 * ```ts
 * import { GdbRemote } from "./remote.ts";
 * console.assert(typeof GdbRemote.connect === "function");
 * ```
 *
 * @module
 */

import {
  decodeGdbRle,
  encodeGdbPacket,
  GdbPacketDecoder,
  type GdbWireEvent,
  latin1Bytes,
  latin1Text,
} from "./codec.ts";

/**
 * The connection broke, the peer went silent, or it kept refusing a packet.
 *
 * @example
 * ```ts
 * import { GdbRemoteError } from "./remote.ts";
 * const error = new GdbRemoteError("no reply");
 * console.assert(error.name === "GdbRemoteError");
 * ```
 */
export class GdbRemoteError extends Error {
  /**
   * Make the error.
   *
   * @param message What went wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GdbRemoteError";
  }
}

/**
 * Options of {@linkcode GdbRemote.connect}.
 *
 * @example
 * ```ts
 * import type { GdbRemoteOptions } from "./remote.ts";
 * const options: GdbRemoteOptions = { timeout: 5000 };
 * console.assert(options.timeout === 5000);
 * ```
 */
export interface GdbRemoteOptions {
  /** Milliseconds to wait for any expected byte (default 10000). */
  timeout?: number;
  /** How many times a packet is sent before giving up when the peer answers `-` (default 5). */
  retries?: number;
}

/**
 * One connection to a GDB stub (gdbserver, `qemu -s`, ...). Requests are queued, so
 * concurrent callers never interleave packets.
 *
 * @example Talk to a stub (here a tiny one answering "OK" to everything)
 * ```ts
 * import { GdbRemote } from "./remote.ts";
 * import { encodeGdbPacket, GdbPacketDecoder } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const stub = (async () => {
 *   using conn = await listener.accept();
 *   const decoder = new GdbPacketDecoder();
 *   const buf = new Uint8Array(1024);
 *   for (let n; (n = await conn.read(buf)) !== null;) {
 *     for (const e of decoder.push(buf.subarray(0, n))) {
 *       if (e.type === "packet") await conn.write(new Uint8Array([0x2b, ...encodeGdbPacket("OK")]));
 *     }
 *   }
 * })();
 * const remote = await GdbRemote.connect("127.0.0.1", listener.addr.port);
 * assert.equal(await remote.requestText("QStartNoAckMode"), "OK");
 * remote.close();
 * await stub;
 * ```
 */
export class GdbRemote {
  readonly #conn: Deno.Conn;
  readonly #decoder = new GdbPacketDecoder();
  readonly #events: GdbWireEvent[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  readonly #timeout: number;
  readonly #retries: number;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #broken: Error | undefined;
  /** Whether acks are off (after a successful `QStartNoAckMode`). */
  noAck = false;

  private constructor(conn: Deno.Conn, options: GdbRemoteOptions) {
    this.#conn = conn;
    this.#timeout = options.timeout ?? 10_000;
    this.#retries = options.retries ?? 5;
  }

  /**
   * Connect to a stub.
   *
   * @param hostname Host name or address.
   * @param port TCP port.
   * @param options Timeouts and retries.
   * @returns The connected client.
   */
  static async connect(
    hostname: string,
    port: number,
    options: GdbRemoteOptions = {},
  ): Promise<GdbRemote> {
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new GdbRemote(conn, options);
  }

  /** Whether the connection has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Send a packet and return its reply, run-length decoded (escapes are kept: the caller
   * knows whether the reply is binary).
   *
   * @param payload The payload (a string is latin-1).
   * @returns The reply payload.
   * @throws {GdbRemoteError} On a broken connection, a timeout or too many naks.
   */
  request(payload: string | Uint8Array): Promise<Uint8Array> {
    return this.#run(async () => {
      await this.#sendPacket(payload);
      return await this.#readPacket();
    });
  }

  /**
   * {@linkcode GdbRemote.request} with a latin-1 text reply.
   *
   * @param payload The payload.
   * @returns The reply as text.
   */
  async requestText(payload: string | Uint8Array): Promise<string> {
    const reply = await this.request(payload);
    return latin1Text(reply);
  }

  /**
   * Send a packet whose stub may answer with console output packets (`O<hex>`) before the
   * final reply, as `qRcmd` does; every output packet is passed to `onOutput`.
   *
   * @param payload The payload.
   * @param onOutput Receives the hex text of each `O` packet (without the `O`).
   * @returns The final reply.
   */
  requestWithOutput(
    payload: string | Uint8Array,
    onOutput: (hex: string) => void,
  ): Promise<string> {
    return this.#run(async () => {
      await this.#sendPacket(payload);
      for (;;) {
        const text = latin1Text(await this.#readPacket());
        if (isOutputPacket(text)) {
          onOutput(text.slice(1));
          continue;
        }
        return text;
      }
    });
  }

  /**
   * Send an execution packet (`c`, `s`, `vCont;...`, `C05` ...) and wait for the stop reply
   * (`T05...`, `S05`, `W00`, `X09` ...) however long the process runs: no timeout. Console
   * output packets (`O<hex>`) before it go to `onOutput`. When `signal` aborts, the process
   * is interrupted (a 0x03 byte, as gdb's ^C) and its stop reply is still awaited, within
   * the timeout, so the connection stays in step.
   *
   * @param payload The packet.
   * @param options `signal` interrupts the process; `onOutput` receives output packets.
   * @returns The stop reply.
   * @throws {GdbRemoteError} On a broken connection, or no stop reply after the interrupt.
   */
  resume(
    payload: string | Uint8Array,
    options: { signal?: AbortSignal; onOutput?: (hex: string) => void } = {},
  ): Promise<string> {
    return this.#run(async () => {
      await this.#sendPacket(payload);
      const { signal } = options;
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        if (deadline !== undefined) return;
        deadline = setTimeout(() => {
          this.#fail(
            new GdbRemoteError(`No stop reply within ${this.#timeout} ms of an interrupt`),
          );
        }, this.#timeout);
        this.#write(Uint8Array.of(0x03)).catch(() => {});
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) onAbort();
      try {
        for (;;) {
          const text = latin1Text(await this.#readPacket(0));
          if (isOutputPacket(text)) {
            options.onOutput?.(text.slice(1));
            continue;
          }
          return text;
        }
      } finally {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(deadline);
      }
    });
  }

  /**
   * Interrupt the running process (a 0x03 byte outside any packet, as gdb's ^C): the
   * pending {@linkcode GdbRemote.resume} then gets its stop reply. Does nothing once closed.
   */
  interrupt(): void {
    if (this.#closed) return;
    this.#write(Uint8Array.of(0x03)).catch(() => {});
  }

  /**
   * Send a packet that has no reply (e.g. `k` in all-stop mode); waits for its ack only.
   *
   * @param payload The payload.
   */
  send(payload: string | Uint8Array): Promise<void> {
    return this.#run(() => this.#sendPacket(payload));
  }

  /** Close the connection (pending requests fail). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by a timeout
    }
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      if (this.#closed) throw new GdbRemoteError("The connection is closed");
      if (this.#broken) throw this.#broken;
      return op();
    });
    this.#queue = result.catch(() => {});
    return result;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < bytes.length) done += await this.#conn.write(bytes.subarray(done));
    } catch (error) {
      throw this.#fail(
        new GdbRemoteError(`Connection error: ${(error as Error).message}`, { cause: error }),
      );
    }
  }

  async #sendPacket(payload: string | Uint8Array): Promise<void> {
    const frame = encodeGdbPacket(typeof payload === "string" ? latin1Bytes(payload) : payload);
    for (let attempt = 0;; attempt++) {
      await this.#write(frame);
      if (this.noAck) return;
      const event = await this.#nextEvent((e) => e.type !== "interrupt");
      if (event.type === "ack") return;
      if (event.type === "packet") {
        // A stub that does not ack: keep the packet as the reply.
        this.#events.unshift(event);
        return;
      }
      if (attempt + 1 >= this.#retries) {
        throw this.#fail(new GdbRemoteError(`The stub refused a packet ${this.#retries} times`));
      }
    }
  }

  /** The next packet, acked; `timeout` 0 waits for ever (the connection may still fail). */
  async #readPacket(timeout = this.#timeout): Promise<Uint8Array> {
    for (let attempt = 0;; attempt++) {
      const event = await this.#nextEvent((e) => e.type === "packet", timeout);
      if (event.type !== "packet") continue;
      if (!event.checksumOk) {
        if (this.noAck || attempt + 1 >= this.#retries) {
          throw this.#fail(new GdbRemoteError("Received a packet with a bad checksum"));
        }
        await this.#write(new Uint8Array([0x2d])); // '-': please resend
        continue;
      }
      if (!this.noAck) await this.#write(new Uint8Array([0x2b]));
      try {
        return decodeGdbRle(event.payload);
      } catch (error) {
        throw this.#fail(new GdbRemoteError("Malformed reply", { cause: error }));
      }
    }
  }

  #fail(error: Error): Error {
    this.#broken = error;
    this.close();
    return error;
  }

  /** The next event accepted by `want` (others are dropped), reading as needed. */
  async #nextEvent(
    want: (event: GdbWireEvent) => boolean,
    timeout = this.#timeout,
  ): Promise<GdbWireEvent> {
    for (;;) {
      while (this.#events.length > 0) {
        const event = this.#events.shift()!;
        if (want(event)) return event;
      }
      const n = await this.#readWithTimeout(timeout);
      if (n === null) throw this.#fail(new GdbRemoteError("The stub closed the connection"));
      try {
        this.#events.push(...this.#decoder.push(this.#buffer.subarray(0, n)));
      } catch (error) {
        throw this.#fail(new GdbRemoteError("Malformed packet", { cause: error }));
      }
    }
  }

  async #readWithTimeout(ms: number): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = this.#conn.read(this.#buffer);
    const timeout = new Promise<never>((_, reject) => {
      if (ms <= 0) return;
      timer = setTimeout(() => {
        reject(new GdbRemoteError(`No reply from the stub within ${ms} ms`));
      }, ms);
    });
    try {
      return await Promise.race([read, timeout]);
    } catch (error) {
      read.catch(() => {});
      if (error instanceof GdbRemoteError) throw this.#fail(error);
      throw this.#fail(
        new GdbRemoteError(`Connection error: ${(error as Error).message}`, { cause: error }),
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether a reply is console output (`O` + hex), not the final reply (`OK` is not). */
function isOutputPacket(text: string): boolean {
  return text.length > 1 && text[0] === "O" && text !== "OK" && /^O[0-9a-fA-F]*$/.test(text);
}
