/**
 * The memory of a process behind a GDB stub: reads with `m addr,len`, split to fit the
 * stub's packet size, with unreadable pages as 0xff; writes with `X` (binary), or `M` (hex)
 * when the stub lacks `X`.
 *
 * @example
 * ```ts
 * import { StubMemory } from "./_gdb_memory.ts";
 * console.assert(typeof StubMemory.prototype.read === "function");
 * ```
 *
 * @module
 */

import { escapeGdbBinary, fromHex, latin1Bytes, latin1Text, toHex } from "../lib/gdb/codec.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { IoError } from "../lib/io/errors.ts";

/** Granularity of the retry after an error reply to a memory read. */
const PAGE_SIZE = 4096;

/** An `Exx` or `E.text` error reply (never valid hex data: odd length or a dot). */
function isErrorReply(reply: string): boolean {
  return reply.startsWith("E") && (reply.length % 2 === 1 || reply[1] === ".");
}

function hexAddress(address: number): string {
  return `0x${address.toString(16)}`;
}

/**
 * Memory reads and writes over one stub connection.
 *
 * @example
 * ```ts
 * import { StubMemory } from "./_gdb_memory.ts";
 * console.assert(typeof StubMemory.prototype.write === "function");
 * ```
 */
export class StubMemory {
  readonly #remote: GdbRemote;
  readonly #target: { readonly uri: string; readonly packetSize: number };
  /** `X` support: unknown until the first write. */
  #binaryWrites: boolean | undefined;

  /**
   * Make it.
   *
   * @param remote The stub connection.
   * @param target The descriptor's URI (for errors) and packet size (read at each request).
   */
  constructor(remote: GdbRemote, target: { readonly uri: string; readonly packetSize: number }) {
    this.#remote = remote;
    this.#target = target;
  }

  /** Bytes of memory per `m` request, so the hex reply fits a packet. */
  get #maxRead(): number {
    return Math.max(16, Math.floor((this.#target.packetSize - 4) / 2));
  }

  /** Bytes of data per `X`/`M` request, so even fully escaped data fits a packet. */
  get #maxWrite(): number {
    return Math.max(8, Math.floor((this.#target.packetSize - 40) / 2));
  }

  /** One `m` request: the bytes, or `undefined` on an error reply. */
  async #readChunk(address: number, length: number): Promise<Uint8Array | undefined> {
    const reply = await this.#remote.requestText(`m${address.toString(16)},${length.toString(16)}`);
    if (reply === "" || isErrorReply(reply)) return undefined;
    try {
      return fromHex(reply);
    } catch (error) {
      const uri = this.#target.uri;
      throw new IoError(
        uri,
        `Cannot read "${uri}" at ${hexAddress(address)}: malformed reply "${reply.slice(0, 40)}"`,
        { cause: error },
      );
    }
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
    const out = new Uint8Array(Math.max(0, length)).fill(0xff);
    let pos = 0;
    while (pos < out.length) {
      const address = offset + pos;
      const n = Math.min(this.#maxRead, out.length - pos);
      let data = await this.#readChunk(address, n);
      const toPage = PAGE_SIZE - (address % PAGE_SIZE);
      if ((!data || data.length === 0) && n > toPage) {
        // The error may come from a later page: retry up to the page boundary alone.
        data = await this.#readChunk(address, toPage);
      }
      if (data && data.length > 0) {
        const k = Math.min(data.length, out.length - pos);
        out.set(data.subarray(0, k), pos);
        pos += k;
      } else {
        pos += Math.min(toPage, out.length - pos); // unreadable page: stays 0xff
      }
    }
    return out;
  }

  /**
   * Write memory, in packet-sized chunks.
   *
   * @param offset The address.
   * @param data The bytes.
   * @throws {IoError} On an error reply, naming the address.
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    for (let pos = 0; pos < data.length; pos += this.#maxWrite) {
      const chunk = data.subarray(pos, pos + this.#maxWrite);
      await this.#writeChunk(offset + pos, chunk);
    }
  }

  async #writeChunk(address: number, chunk: Uint8Array): Promise<void> {
    const head = `${address.toString(16)},${chunk.length.toString(16)}:`;
    let reply: string;
    if (this.#binaryWrites !== false) {
      const header = latin1Bytes(`X${head}`);
      const body = escapeGdbBinary(chunk);
      const packet = new Uint8Array(header.length + body.length);
      packet.set(header);
      packet.set(body, header.length);
      reply = latin1Text(await this.#remote.request(packet));
      if (reply === "" && this.#binaryWrites === undefined) {
        this.#binaryWrites = false; // X unsupported: use M from now on
      } else {
        this.#binaryWrites = true;
      }
    }
    if (this.#binaryWrites === false) {
      reply = await this.#remote.requestText(`M${head}${toHex(chunk)}`);
    }
    if (reply! !== "OK") {
      const answer = reply! === ""
        ? "memory writes are not supported"
        : `the stub answered ${reply!}`;
      const uri = this.#target.uri;
      throw new IoError(
        uri,
        `Cannot write ${chunk.length} bytes at ${hexAddress(address)} of "${uri}": ${answer}`,
      );
    }
  }
}
