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
 * An output that keeps what it is given. Messages are either kept in order with the output
 * (`messages: "inline"`, what a remote peer receives) or passed to another output.
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
 * ```
 */
export class OutputBuffer implements ShellOutput {
  readonly #chunks: Uint8Array[] = [];
  readonly #forward: ShellOutput | undefined;
  #size = 0;

  /**
   * Create it.
   *
   * @param forwardMessages Where messages go; by default they are kept inline.
   */
  constructor(forwardMessages?: ShellOutput) {
    this.#forward = forwardMessages;
  }

  /**
   * Keep output.
   *
   * @param data Text or bytes.
   */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data.slice();
    this.#chunks.push(bytes);
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

   * The bytes kept so far.

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
    return out;
  }

  /**

   * The output as text (UTF-8, invalid sequences replaced).

   *

   * @returns The output as text (UTF-8, invalid sequences replaced).

   */
  text(): string {
    return decoder.decode(this.bytes());
  }
}
