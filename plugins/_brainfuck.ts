/**
 * A small brainfuck virtual machine with a step limit, used by the `bfdbg` plugin.
 *
 * Conventions: a tape of 30000 byte cells (by default) that wrap modulo 256; the pointer
 * starts at cell 0 and moving it off either end of the tape stops the machine with an
 * error; `,` at the end of the input stores 0; every character other than the eight
 * commands `+ - < > [ ] . ,` is a comment.
 *
 * @example
 * ```ts
 * import { BrainfuckVm } from "./_brainfuck.ts";
 * import assert from "node:assert/strict";
 *
 * const vm = new BrainfuckVm("++>+++[<+>-]");
 * vm.run(1000);
 * assert.deepEqual([...vm.tape.subarray(0, 2)], [5, 0]);
 * ```
 *
 * @module
 */

/** The tape length of the classic brainfuck machine. */
export const DEFAULT_TAPE_SIZE = 30000;

/**
 * A brainfuck machine: program, tape, pointer, input and output.
 *
 * @example Step through a program
 * ```ts
 * import { BrainfuckVm } from "./_brainfuck.ts";
 * import assert from "node:assert/strict";
 *
 * const vm = new BrainfuckVm(",[.,]");
 * vm.setInput(new TextEncoder().encode("hi"));
 * assert.equal(vm.step(2), 2);
 * assert.equal(vm.pc, 2);
 * vm.run(100);
 * assert.ok(vm.halted);
 * assert.equal(new TextDecoder().decode(vm.output), "hi");
 * ```
 */
export class BrainfuckVm {
  /** The tape; a live view that writers may change. */
  readonly tape: Uint8Array;
  /** The commands of the program, comments removed. */
  readonly code: string;
  /** For each command, its index in the original program text. */
  readonly #positions: number[];
  /** For each `[` and `]`, the index of its partner. */
  readonly #jumps: Int32Array;
  #input: Uint8Array = new Uint8Array(0);
  #inputPos = 0;
  #output: number[] = [];
  /** Index of the next command in {@linkcode BrainfuckVm.code}. */
  pc = 0;
  /** The tape pointer (a cell index). */
  ptr = 0;
  /** Commands executed since the last reset. */
  steps = 0;
  /** Why the machine stopped early (pointer off the tape), or undefined. */
  error: string | undefined = undefined;

  /**
   * Load a program and make an empty tape.
   *
   * @param program The program text.
   * @param tapeSize The number of cells.
   * @throws {SyntaxError} When the brackets do not match (the message gives the position).
   */
  constructor(program: string, tapeSize: number = DEFAULT_TAPE_SIZE) {
    if (!Number.isSafeInteger(tapeSize) || tapeSize < 1) {
      throw new RangeError(`Invalid tape size ${tapeSize}`);
    }
    const positions: number[] = [];
    let code = "";
    for (let i = 0; i < program.length; i++) {
      if ("+-<>[].,".includes(program[i])) {
        code += program[i];
        positions.push(i);
      }
    }
    const jumps = new Int32Array(code.length).fill(-1);
    const open: number[] = [];
    for (let i = 0; i < code.length; i++) {
      if (code[i] === "[") open.push(i);
      else if (code[i] === "]") {
        const start = open.pop();
        if (start === undefined) {
          throw new SyntaxError(`Unmatched "]" at offset ${positions[i]}`);
        }
        jumps[start] = i;
        jumps[i] = start;
      }
    }
    if (open.length > 0) {
      throw new SyntaxError(`Unmatched "[" at offset ${positions[open[open.length - 1]]}`);
    }
    this.code = code;
    this.#positions = positions;
    this.#jumps = jumps;
    this.tape = new Uint8Array(tapeSize);
  }

  /** Whether the machine has stopped: at the end of the program or on an error. */
  get halted(): boolean {
    return this.pc >= this.code.length || this.error !== undefined;
  }

  /** The offset in the original program text of the next command (its length when done). */
  get textOffset(): number {
    return this.#positions[this.pc] ?? (this.#positions.at(-1) ?? -1) + 1;
  }

  /** Everything `.` printed since the last reset. */
  get output(): Uint8Array {
    return Uint8Array.from(this.#output);
  }

  /** How many input bytes `,` has not consumed yet. */
  get inputLeft(): number {
    return this.#input.length - this.#inputPos;
  }

  /**
   * Give the program its input, replacing what it has not read yet. A reset rewinds to
   * the start of this input.
   *
   * @param input The bytes `,` will read.
   */
  setInput(input: Uint8Array): void {
    this.#input = input.slice();
    this.#inputPos = 0;
  }

  /** Start again: zero tape, pointer and counters, clear output, rewind the input. */
  reset(): void {
    this.tape.fill(0);
    this.pc = 0;
    this.ptr = 0;
    this.steps = 0;
    this.error = undefined;
    this.#output = [];
    this.#inputPos = 0;
  }

  /**
   * Execute up to `count` commands.
   *
   * @param count The most commands to execute.
   * @returns How many were executed (fewer when the machine halts).
   */
  step(count = 1): number {
    const code = this.code;
    const tape = this.tape;
    const jumps = this.#jumps;
    let pc = this.pc;
    let ptr = this.ptr;
    let done = 0;
    if (this.error !== undefined) return 0;
    while (done < count && pc < code.length) {
      switch (code.charCodeAt(pc)) {
        case 0x2b: // +
          tape[ptr]++;
          break;
        case 0x2d: // -
          tape[ptr]--;
          break;
        case 0x3e: // >
          if (ptr + 1 >= tape.length) {
            this.error = `pointer moved past the end of the tape at offset ${this.#positions[pc]}`;
          } else ptr++;
          break;
        case 0x3c: // <
          if (ptr === 0) {
            this.error = `pointer moved before the start of the tape at offset ${
              this.#positions[pc]
            }`;
          } else ptr--;
          break;
        case 0x5b: // [
          if (tape[ptr] === 0) pc = jumps[pc];
          break;
        case 0x5d: // ]
          if (tape[ptr] !== 0) pc = jumps[pc];
          break;
        case 0x2e: // .
          this.#output.push(tape[ptr]);
          break;
        case 0x2c: // ,
          tape[ptr] = this.#inputPos < this.#input.length ? this.#input[this.#inputPos++] : 0;
          break;
      }
      if (this.error !== undefined) break;
      pc++;
      done++;
    }
    this.pc = pc;
    this.ptr = ptr;
    this.steps += done;
    return done;
  }

  /**
   * Run until the machine halts or `maxSteps` commands have run.
   *
   * @param maxSteps The step limit.
   * @returns How many commands were executed.
   */
  run(maxSteps: number): number {
    return this.step(maxSteps);
  }
}
