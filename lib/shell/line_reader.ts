/**
 * Reading lines from a byte stream (piped standard input, scripts).
 *
 * @module
 */

/**
 * Reads `\n`-terminated lines (a `\r` before the `\n` is dropped) from a byte stream.
 *
 * @example
 * ```ts
 * import { LineReader } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const reader = new LineReader(ReadableStream.from([new TextEncoder().encode("a\r\nb")]));
 * assert.equal(await reader.readLine(), "a");
 * assert.equal(await reader.readLine(), "b");
 * assert.equal(await reader.readLine(), null);
 * ```
 */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;

  /**
   * Create it.
   *
   * @param stream The bytes.
   */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /**

   * The next line, or `null` at the end.

   *

   * @returns The next line, or `null` at the end.

   */
  async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl).replace(/\r$/, "");
        this.#buffer = this.#buffer.slice(nl + 1);
        return line;
      }
      if (this.#done) {
        if (this.#buffer === "") return null;
        const line = this.#buffer.replace(/\r$/, "");
        this.#buffer = "";
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }

  /** Stop reading and release the stream. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
