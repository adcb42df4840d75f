/**
 * A buffered reader of one HTTP connection: request heads, bodies (by length or chunked)
 * and draining, each bounded by a size limit so that a client cannot make the server hold
 * more than it allows.
 *
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import { type BodyFraming, findHeadEnd, HttpRequestError, parseChunkSize } from "./request.ts";

/** What the reader reads from (a `Deno.Conn`). */
export interface ByteSource {
  /** Read into `p`; `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** The client closed the connection in the middle of a request (nothing to answer). */
export class ClientClosed extends Error {}

/** Longest chunk-size or trailer line of a chunked body. */
const LINE_MAX = 4096;

/** Reads requests from a connection, keeping what arrived beyond the current one. */
export class ConnReader {
  readonly #source: ByteSource;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  /** Called when bytes arrive (the server starts a request's deadline then). */
  onData: (() => void) | undefined;

  constructor(source: ByteSource, size = 4096) {
    this.#source = source;
    this.#buf = new Uint8Array(size);
  }

  /** Bytes received and not consumed yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Whether the client closed its side. */
  get ended(): boolean {
    return this.#eof;
  }

  /** Read more bytes, growing the buffer up to `max` bytes; false at the end of the stream. */
  async fill(max = this.#buf.length): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const used = this.#end - this.#start;
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(used + 1024, Math.min(max, used * 2)));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    const n = await this.#source.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    if (n > 0) this.onData?.();
    return true;
  }

  /**
   * The next request head (up to and including its empty line), or `null` when the client
   * closed before sending anything but empty lines.
   *
   * @param max Largest head accepted.
   * @throws {HttpRequestError} 431 when the head is larger than `max`.
   * @throws {ClientClosed} When the client closed in the middle of the head.
   */
  async head(max: number): Promise<Uint8Array | null> {
    for (;;) {
      const view = this.#buf.subarray(this.#start, this.#end);
      const end = findHeadEnd(view, view.length);
      if (end >= 0) {
        if (end > max) throw new HttpRequestError(431, `Request head larger than ${max} bytes`);
        this.#start += end;
        return view.slice(0, end);
      }
      if (view.length >= max) {
        throw new HttpRequestError(431, `Request head larger than ${max} bytes`);
      }
      if (!await this.fill(max)) {
        if (view.every((b) => b === 0x0d || b === 0x0a)) return null;
        throw new ClientClosed("closed in the middle of a request head");
      }
    }
  }

  /** `n` bytes, copied out. */
  async exact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let done = Math.min(n, this.buffered);
    out.set(this.#buf.subarray(this.#start, this.#start + done));
    this.#start += done;
    while (done < n) {
      const got = await this.#source.read(out.subarray(done));
      if (got === null) {
        this.#eof = true;
        throw new ClientClosed(`closed after ${done} of ${n} body bytes`);
      }
      if (got > 0) this.onData?.();
      done += got;
    }
    return out;
  }

  /** One line (without its line end), at most `max` bytes. */
  async line(max: number): Promise<Uint8Array> {
    for (;;) {
      const view = this.#buf.subarray(this.#start, this.#end);
      const nl = view.indexOf(0x0a);
      if (nl >= 0) {
        this.#start += nl + 1;
        return view.slice(0, nl > 0 && view[nl - 1] === 0x0d ? nl - 1 : nl);
      }
      if (view.length >= max) throw new HttpRequestError(400, "Line too long in a chunked body");
      if (!await this.fill(max + 2)) throw new ClientClosed("closed in the middle of a body");
    }
  }

  /**
   * The whole body of a request.
   *
   * @param framing How it is framed.
   * @param max Largest body accepted.
   * @throws {HttpRequestError} 413 when it is larger than `max`; 400 for a bad chunk.
   * @throws {ClientClosed} When the client closed before the end.
   */
  async body(framing: BodyFraming, max: number): Promise<Uint8Array> {
    if (framing.kind === "none") return new Uint8Array(0);
    if (framing.kind === "length") {
      if (framing.length > max) throw tooLarge(max);
      return await this.exact(framing.length);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const size = parseChunkSize(await this.line(LINE_MAX));
      if (size === 0) break;
      if (total + size > max) throw tooLarge(max);
      parts.push(await this.exact(size));
      total += size;
      if ((await this.line(LINE_MAX)).length !== 0) {
        throw new HttpRequestError(400, "Missing line end after a chunk");
      }
    }
    for (let trailers = 0;; trailers++) {
      if ((await this.line(LINE_MAX)).length === 0) break;
      if (trailers > 64) throw new HttpRequestError(431, "Too many trailer fields");
    }
    return concatBytes(parts);
  }

  /**
   * Read and drop what the client still sends, up to `max` bytes or its end (so that
   * closing does not reset the connection before the client has read the reply).
   *
   * @returns Whether the client's side ended.
   */
  async drain(max: number): Promise<boolean> {
    let dropped = this.buffered;
    this.#start = this.#end = 0;
    while (dropped < max) {
      const n = await this.#source.read(this.#buf);
      if (n === null) {
        this.#eof = true;
        return true;
      }
      dropped += n;
    }
    return false;
  }
}

function tooLarge(max: number): HttpRequestError {
  return new HttpRequestError(413, `Request body larger than ${max} bytes`);
}
