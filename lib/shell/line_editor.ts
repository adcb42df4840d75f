/**
 * An interactive line editor for a terminal in raw mode: cursor movement, history and
 * the usual Emacs-style keys, with no dependencies.
 *
 * | Keys | Action |
 * |---|---|
 * | ← → Home End, Ctrl-B Ctrl-F Ctrl-A Ctrl-E | move |
 * | ↑ ↓, Ctrl-P Ctrl-N | history |
 * | Backspace, Delete, Ctrl-K, Ctrl-U, Ctrl-W | delete |
 * | Ctrl-L | clear the screen |
 * | Ctrl-C | drop the line |
 * | Ctrl-D | end of input on an empty line |
 *
 * @module
 */

/**
 * What the editor reads from and writes to.
 *
 * @example
 * ```ts
 * import type { LineEditorIo } from "@rap/cli/shell";
 * const io: LineEditorIo = {
 *   read: () => Promise.resolve(null), write: () => {}, setRaw: () => {},
 * };
 * console.assert(typeof io.read === "function");
 * ```
 */
export interface LineEditorIo {
  /**
   * Read raw key bytes.
   *
   * @param p The buffer.
   */
  read(p: Uint8Array): Promise<number | null>;
  /**
   * Write terminal output.
   *
   * @param text The text (with escape sequences).
   */
  write(text: string): void;
  /**
   * Switch raw mode.
   *
   * @param raw On or off.
   */
  setRaw(raw: boolean): void;
}

const decoder = new TextDecoder();

/**
 * Reads lines from a terminal with editing and history.
 *
 * @example
 * ```ts
 * import { LineEditor } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const keys = [new TextEncoder().encode("pz\x7fx 16\x1b[D\x1b[D\x1b[C\r")];
 * const editor = new LineEditor({
 *   read: (p) => {
 *     const next = keys.shift();
 *     if (!next) return Promise.resolve(null);
 *     p.set(next);
 *     return Promise.resolve(next.length);
 *   },
 *   write: () => {},
 *   setRaw: () => {},
 * });
 * assert.equal(await editor.readLine("> "), "px 16");
 * assert.deepEqual(editor.history, ["px 16"]);
 * assert.equal(await editor.readLine("> "), null);
 * ```
 */
export class LineEditor {
  /** Past lines, oldest first. */
  readonly history: string[] = [];
  readonly #io: LineEditorIo;
  readonly #maxHistory: number;
  #pending: number[] = [];

  /**
   * Create it.
   *
   * @param io The terminal.
   * @param maxHistory How many lines to remember.
   */
  constructor(io: LineEditorIo, maxHistory = 1000) {
    this.#io = io;
    this.#maxHistory = maxHistory;
  }

  async #byte(): Promise<number | null> {
    if (this.#pending.length === 0) {
      const buf = new Uint8Array(256);
      const n = await this.#io.read(buf);
      if (n === null || n === 0) return null;
      this.#pending = [...buf.subarray(0, n)];
    }
    return this.#pending.shift()!;
  }

  /** Read the rest of a UTF-8 character that starts with `first`. */
  async #char(first: number): Promise<string> {
    const extra = first >= 0xf0 ? 3 : first >= 0xe0 ? 2 : first >= 0xc0 ? 1 : 0;
    const bytes = [first];
    for (let i = 0; i < extra; i++) {
      const b = await this.#byte();
      if (b === null) break;
      bytes.push(b);
    }
    return decoder.decode(new Uint8Array(bytes));
  }

  /** Read an escape sequence after ESC; returns a key name. */
  async #escape(): Promise<string> {
    const b = await this.#byte();
    if (b !== 0x5b && b !== 0x4f) return "";
    let seq = "";
    for (;;) {
      const c = await this.#byte();
      if (c === null) return "";
      seq += String.fromCharCode(c);
      if (c >= 0x40 && c <= 0x7e) break;
    }
    return ({
      A: "up",
      B: "down",
      C: "right",
      D: "left",
      H: "home",
      F: "end",
      "1~": "home",
      "7~": "home",
      "4~": "end",
      "8~": "end",
      "3~": "delete",
    } as Record<string, string>)[seq] ?? "";
  }

  /**
   * Read one line.
   *
   * @param prompt The prompt.
   * @returns The line, or `null` at the end of input (Ctrl-D on an empty line).
   */
  async readLine(prompt: string): Promise<string | null> {
    let chars: string[] = [];
    let cursor = 0;
    let browsing = this.history.length;
    let draft: string[] = [];
    const render = () => {
      const back = chars.length - cursor;
      this.#io.write(`\r${prompt}${chars.join("")}\x1b[K${back > 0 ? `\x1b[${back}D` : ""}`);
    };
    const recall = (index: number) => {
      if (browsing === this.history.length) draft = chars;
      browsing = index;
      chars = index === this.history.length ? draft : [...this.history[index]];
      cursor = chars.length;
    };
    this.#io.setRaw(true);
    try {
      render();
      for (;;) {
        const b = await this.#byte();
        if (b === null) {
          this.#io.write("\r\n");
          return null;
        }
        let key = "";
        if (b === 0x1b) key = await this.#escape();
        else if (b === 0x0d || b === 0x0a) key = "enter";
        else if (b === 0x7f || b === 0x08) key = "backspace";
        else if (b < 0x20) key = ["ctrl", String.fromCharCode(b + 0x40)].join("-");
        switch (key) {
          case "enter": {
            this.#io.write("\r\n");
            const line = chars.join("");
            if (line.trim() !== "" && this.history.at(-1) !== line) {
              this.history.push(line);
              if (this.history.length > this.#maxHistory) this.history.shift();
            }
            return line;
          }
          case "ctrl-C":
            this.#io.write("^C\r\n");
            chars = [];
            cursor = 0;
            browsing = this.history.length;
            break;
          case "ctrl-D":
            if (chars.length === 0) {
              this.#io.write("\r\n");
              return null;
            }
            if (cursor < chars.length) chars.splice(cursor, 1);
            break;
          case "delete":
            if (cursor < chars.length) chars.splice(cursor, 1);
            break;
          case "backspace":
          case "ctrl-H":
            if (cursor > 0) chars.splice(--cursor, 1);
            break;
          case "left":
          case "ctrl-B":
            if (cursor > 0) cursor--;
            break;
          case "right":
          case "ctrl-F":
            if (cursor < chars.length) cursor++;
            break;
          case "home":
          case "ctrl-A":
            cursor = 0;
            break;
          case "end":
          case "ctrl-E":
            cursor = chars.length;
            break;
          case "ctrl-K":
            chars.splice(cursor);
            break;
          case "ctrl-U":
            chars.splice(0, cursor);
            cursor = 0;
            break;
          case "ctrl-W": {
            let start = cursor;
            while (start > 0 && chars[start - 1] === " ") start--;
            while (start > 0 && chars[start - 1] !== " ") start--;
            chars.splice(start, cursor - start);
            cursor = start;
            break;
          }
          case "ctrl-L":
            this.#io.write("\x1b[H\x1b[2J");
            break;
          case "up":
          case "ctrl-P":
            if (browsing > 0) recall(browsing - 1);
            break;
          case "down":
          case "ctrl-N":
            if (browsing < this.history.length) recall(browsing + 1);
            break;
          case "":
            if (b >= 0x20 && b !== 0x1b) {
              chars.splice(cursor++, 0, await this.#char(b));
            }
            break;
        }
        render();
      }
    } finally {
      this.#io.setRaw(false);
    }
  }
}
