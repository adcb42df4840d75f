/**
 * Where shell commands write: standard output (bytes or text) and message lines
 * (`ERROR: ...`, `INFO: ...`) that a terminal shows on standard error.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The sink a command writes to.
 *
 * @example
 * ```ts
 * import type { ShellOutput } from "@rap/cli/shell";
 * const lines: string[] = [];
 * const out: ShellOutput = { write: () => {}, message: (line) => void lines.push(line) };
 * out.message("INFO: hi");
 * console.assert(lines.length === 1);
 * ```
 */
export interface ShellOutput {
  /**
   * Write command output (standard output).
   *
   * @param data Text or raw bytes.
   */
  write(data: string | Uint8Array): void;
  /**
   * Report one message line (no trailing newline), e.g. `ERROR: Cannot write`.
   *
   * @param line The line.
   */
  message(line: string): void;
}

/**
 * Thrown by an output that is full: the command writing to it is stopped there.
 *
 * @example
 * ```ts
 * import { OutputBuffer, OutputLimitError } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const out = new OutputBuffer(undefined, { limit: 4 });
 * assert.throws(() => out.write("hello"), OutputLimitError);
 * ```
 */
export class OutputLimitError extends RangeError {
  /** The output that is full. */
  readonly output: ShellOutput;
  /** Its limit, in bytes. */
  readonly limit: number;

  /**
   * Create it.
   *
   * @param output The output that is full.
   * @param limit Its limit, in bytes.
   */
  constructor(output: ShellOutput, limit: number) {
    super(`Output is over ${limit} bytes`);
    this.name = "OutputLimitError";
    this.output = output;
    this.limit = limit;
  }
}

/**
 * The note that ends output cut at `limit` bytes.
 *
 * @param limit The limit, in bytes.
 * @returns The note, with a newline before and after.
 *
 * @example
 * ```ts
 * import { truncationNote } from "@rap/cli/shell";
 * console.assert(truncationNote(16383).includes("truncated at 16383 bytes"));
 * ```
 */
export function truncationNote(limit: number): string {
  return `\n[output truncated at ${limit} bytes; use @ and a smaller size]\n`;
}

/**
 * Make sure non-empty output ends with one newline (as radare2 prints a remote reply).
 *
 * @param text The output.
 * @returns The output, with a final newline unless empty.
 *
 * @example
 * ```ts
 * import { withNewline } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(withNewline("a"), "a\n");
 * assert.equal(withNewline("a\n"), "a\n");
 * assert.equal(withNewline(""), "");
 * ```
 */
export function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : text + "\n";
}

/** `bytes` cut at a character boundary so that they and the note fit in `limit` bytes. */
function cutWithNote(bytes: Uint8Array, limit: number): Uint8Array {
  const note = encoder.encode(truncationNote(limit));
  let cut = Math.min(bytes.length, Math.max(0, limit - note.length));
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--; // stay on a character boundary
  const out = new Uint8Array(cut + note.length);
  out.set(bytes.subarray(0, cut));
  out.set(note, cut);
  return out.subarray(0, Math.max(limit, 0));
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Options of an {@linkcode OutputBuffer}.
 *
 * @example
 * ```ts
 * import type { OutputBufferOptions } from "@rap/cli/shell";
 * const options: OutputBufferOptions = { limit: 16383 };
 * console.assert(options.limit === 16383);
 * ```
 */
export interface OutputBufferOptions {
  /**
   * The most bytes kept (messages kept inline included). A write that goes over keeps what
   * fits and throws {@linkcode OutputLimitError}, and so does every later one; the kept
   * output then ends with {@linkcode truncationNote}, all within `limit` bytes.
   */
  limit?: number;
}

/**
 * An output that keeps what it is given. Messages are either kept in order with the output
 * (`messages: "inline"`, what a remote peer receives) or passed to another output. With a
 * `limit` it never holds more than that many bytes.
 *
 * @example
 * ```ts
 * import { OutputBuffer } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const out = new OutputBuffer();
 * out.write("a\n");
 * out.message("ERROR: b");
 * assert.equal(out.text(), "a\nERROR: b\n");
 *
 * const small = new OutputBuffer(undefined, { limit: 64 });
 * assert.throws(() => small.write("x".repeat(100)));
 * assert.ok(small.truncated);
 * assert.match(small.text(), /^x+\n\[output truncated at 64 bytes/);
 * assert.ok(small.bytes().length <= 64);
 * ```
 */
export class OutputBuffer implements ShellOutput {
  readonly #chunks: Uint8Array[] = [];
  readonly #forward: ShellOutput | undefined;
  readonly #limit: number;
  #size = 0;
  #truncated = false;

  /**
   * Create it.
   *
   * @param forwardMessages Where messages go; by default they are kept inline.
   * @param options See {@linkcode OutputBufferOptions}.
   */
  constructor(forwardMessages?: ShellOutput, options: OutputBufferOptions = {}) {
    this.#forward = forwardMessages;
    this.#limit = options.limit ?? Infinity;
  }

  /** The limit, in bytes (`Infinity` without one). */
  get limit(): number {
    return this.#limit;
  }

  /** Whether output went over the limit (and was cut). */
  get truncated(): boolean {
    return this.#truncated;
  }

  /**
   * Keep output.
   *
   * @param data Text or bytes.
   * @throws {OutputLimitError} When it does not fit in the limit (what fits is kept).
   */
  write(data: string | Uint8Array): void {
    if (this.#truncated) throw new OutputLimitError(this, this.#limit);
    const bytes = toBytes(data);
    const room = this.#limit - this.#size;
    if (bytes.length > room) {
      this.#truncated = true;
      this.#chunks.push(bytes.slice(0, room));
      this.#size = this.#limit;
      throw new OutputLimitError(this, this.#limit);
    }
    this.#chunks.push(typeof data === "string" ? bytes : bytes.slice());
    this.#size += bytes.length;
  }

  /**
   * Keep or forward a message line.
   *
   * @param line The line.
   */
  message(line: string): void {
    if (this.#forward) this.#forward.message(line);
    else this.write(line + "\n");
  }

  /**
   * The bytes kept so far; when cut, their beginning and the truncation note.
   *
   * @returns The bytes kept so far.
   */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return this.#truncated ? cutWithNote(out, this.#limit) : out;
  }

  /**
   * The output as text (UTF-8, invalid sequences replaced); with a limit, its UTF-8 form
   * fits in it too (each replaced byte takes three), cut with the note if need be.
   *
   * @returns The output as text.
   */
  text(): string {
    const text = decoder.decode(this.bytes());
    if (this.#limit === Infinity || text.length * 3 <= this.#limit) return text;
    const bytes = encoder.encode(text);
    return bytes.length <= this.#limit ? text : decoder.decode(cutWithNote(bytes, this.#limit));
  }
}

/**
 * An output that passes what it is given on to another one, up to a limit: output stops
 * {@linkcode truncationNote}'s length short of `limit` bytes (messages count as their line
 * and a newline), then {@linkcode LimitedOutput.finish} writes the note.
 *
 * @example
 * ```ts
 * import { LimitedOutput, OutputBuffer } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const inner = new OutputBuffer();
 * const out = new LimitedOutput(inner, 80);
 * assert.throws(() => out.write("y".repeat(100)));
 * out.finish();
 * assert.ok(inner.bytes().length <= 80);
 * assert.match(inner.text(), /truncated at 80 bytes/);
 * ```
 */
export class LimitedOutput implements ShellOutput {
  readonly #inner: ShellOutput;
  readonly #limit: number;
  readonly #room: number;
  #size = 0;
  #truncated = false;

  /**
   * Create it.
   *
   * @param inner Where output goes.
   * @param limit The most bytes passed on, the note included.
   */
  constructor(inner: ShellOutput, limit: number) {
    this.#inner = inner;
    this.#limit = limit;
    this.#room = Math.max(0, limit - encoder.encode(truncationNote(limit)).length);
  }

  /** Whether output went over the limit. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /**
   * Pass output on.
   *
   * @param data Text or bytes.
   * @throws {OutputLimitError} When it does not fit (what fits is passed on).
   */
  write(data: string | Uint8Array): void {
    const bytes = toBytes(data);
    let fits = this.#take(bytes.length);
    if (fits === undefined) return this.#inner.write(data);
    while (fits > 0 && (bytes[fits] & 0xc0) === 0x80) fits--; // stay on a character boundary
    if (fits > 0) this.#inner.write(bytes.subarray(0, fits));
    throw new OutputLimitError(this, this.#limit);
  }

  /**
   * Pass a message line on.
   *
   * @param line The line.
   * @throws {OutputLimitError} When it does not fit (it is then not passed on).
   */
  message(line: string): void {
    if (this.#take(encoder.encode(line).length + 1) !== undefined) {
      throw new OutputLimitError(this, this.#limit);
    }
    this.#inner.message(line);
  }

  /** After the last output: when it was cut, write the note. */
  finish(): void {
    if (this.#truncated) this.#inner.write(truncationNote(this.#limit));
  }

  /** Count `n` bytes: undefined when they fit, else how many of them do. */
  #take(n: number): number | undefined {
    if (this.#truncated) return 0;
    if (this.#size + n <= this.#room) {
      this.#size += n;
      return undefined;
    }
    this.#truncated = true;
    const fits = this.#room - this.#size;
    this.#size = this.#room;
    return fits;
  }
}
