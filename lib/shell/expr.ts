/**
 * radare2's expression evaluator (`r_num_math`, its `libr/util/math.c`) over 64-bit
 * unsigned BigInts that wrap as radare2's `ut64` does: `-1` is `0xffffffffffffffff`,
 * `0xffffffffffffffff+1` is 0. The grammar and its quirks are radare2's: `* / %` bind
 * tighter, every other operator (`+ - & | ^ << >> <<< >>> < > && || ^^ == !=`) is one
 * level evaluated left to right (`1+2<<3` is 24); text after a complete expression is
 * ignored (`1 2` is 1); `/` by zero gives 0 and an error.
 *
 * @module
 */

import { parseLiteral, U64_MAX } from "./literal.ts";

/** radare2's calculator value: the ut64 and the double it computes beside it. */
interface Value {
  n: bigint;
  d: number;
}

/**
 * The result of {@linkcode evaluate}.
 *
 * @example
 * ```ts
 * import type { Evaluation } from "@rap/cli/shell";
 * const result: Evaluation = { value: 0n, divisionByZero: true };
 * console.assert(result.divisionByZero);
 * ```
 */
export interface Evaluation {
  /** The value, modulo 2^64 (radare2 uses it even when there is an error). */
  value: bigint;
  /** The last error, as radare2 words it (`unknown symbol`, `')' expected` ...). */
  error?: string;
  /** Whether a `/` had a zero divisor (radare2's "Division by Zero"). */
  divisionByZero: boolean;
}

type Token =
  | "name"
  | "number"
  | "end"
  | "++"
  | "--"
  | "~"
  | "!"
  | "&&"
  | "||"
  | "^^"
  | "=="
  | "!="
  | "<<"
  | ">>"
  | "<<<"
  | ">>>"
  | "<"
  | ">"
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "&"
  | "|"
  | "^"
  | "="
  | "("
  | ")";

const wrap = (n: bigint) => BigInt.asUintN(64, n);
const num = (n: bigint): Value => ({ n, d: Number(n) });
const bool = (b: boolean) => (b ? 1n : 0n);

/** The operators of radare2's `expr` level, all left-associative and equal. */
const BINARY: Partial<Record<Token, (a: Value, b: Value) => Value>> = {
  "<<": (a, b) => ({ n: b.n < 64n ? wrap(a.n << b.n) : 0n, d: a.d + b.d }),
  ">>": (a, b) => ({ n: b.n < 64n ? a.n >> b.n : 0n, d: a.d + b.d }),
  "<<<": (a, b) => ({ n: rotate(a.n, b.n & 63n), d: a.d + b.d }),
  ">>>": (a, b) => ({ n: rotate(a.n, (64n - (b.n & 63n)) & 63n), d: a.d + b.d }),
  "+": (a, b) => ({ n: wrap(a.n + b.n), d: a.d + b.d }),
  "-": (a, b) => ({ n: wrap(a.n - b.n), d: a.d - b.d }),
  "^": (a, b) => ({ n: a.n ^ b.n, d: b.d }),
  "|": (a, b) => ({ n: a.n | b.n, d: b.d }),
  "&": (a, b) => ({ n: a.n & b.n, d: b.d }),
  "<": (a, b) => ({ n: bool(a.n < b.n), d: b.d }),
  ">": (a, b) => ({ n: bool(a.n > b.n), d: b.d }),
  "||": (a, b) => ({ n: bool(a.n !== 0n || b.n !== 0n), d: b.d }),
  "&&": (a, b) => ({ n: bool(a.n !== 0n && b.n !== 0n), d: b.d }),
  "^^": (a, b) => ({ n: bool((a.n !== 0n) !== (b.n !== 0n)), d: b.d }),
  "==": (a, b) => ({ n: bool(a.n === b.n), d: b.d }),
  "!=": (a, b) => ({ n: bool(a.n !== b.n), d: b.d }),
};

function rotate(n: bigint, left: bigint): bigint {
  return left === 0n ? n : wrap((n << left) | (n >> (64n - left)));
}

const VALID_NAME = /[A-Za-z0-9:$._?\\ [\]{}]/;

/** One evaluation: radare2's `RNumCalc` state and its recursive-descent parser. */
class Calc {
  readonly #text: string;
  readonly #variables: (name: string) => bigint | undefined;
  #at = 0;
  #back = ""; // radare2's one character of push-back ("" for none)
  token: Token = "end";
  #number: Value = num(0n);
  #name = "";
  error: string | undefined;
  divisionByZero = false;

  constructor(text: string, variables: (name: string) => bigint | undefined) {
    this.#text = text;
    this.#variables = variables;
  }

  /** The next character, or `undefined` at the end (radare2's `cin_get`). */
  #get(): string | undefined {
    if (this.#back !== "") {
      const c = this.#back;
      this.#back = "";
      return c;
    }
    const c = this.#text[this.#at];
    if (c === undefined || c === "\0") {
      this.#at = this.#text.length;
      return undefined;
    }
    this.#at++;
    return c;
  }

  /** Whether the current token is `token` (a method: it changes under the parser). */
  #is(token: Token): boolean {
    return this.token === token;
  }

  #fail(message: string): void {
    this.error = message;
  }

  #resolve(text: string): bigint {
    const variable = this.#variables(text);
    if (variable !== undefined) return variable;
    if (text.startsWith("$")) {
      this.#fail(`unknown variable "${text}"`);
      return 0n;
    }
    const { value, error } = parseLiteral(text);
    if (error) this.#fail(error);
    return value;
  }

  /** Read the next token into `token` (radare2's `get_token`). */
  next(): Token {
    let ch: string | undefined;
    do {
      ch = this.#get();
      if (ch === undefined) return this.token = "end";
    } while (ch !== "\n" && /\s/.test(ch));
    let c = "";
    const peek = (want: string): boolean => {
      const got = this.#get();
      if (got !== undefined) c = got;
      return got === want;
    };
    const back = () => this.#back = c;
    switch (ch) {
      case ";":
      case "\n":
        return this.token = "end";
      case "+":
      case "-":
        if (peek(ch)) return this.token = ch === "+" ? "++" : "--";
        back();
        return this.token = ch;
      case "~": // "~-" and "~" are both radare2's negation
        if (!peek("-")) back();
        return this.token = "~";
      case "<":
      case ">":
        if (peek(ch)) {
          if (peek(ch)) return this.token = ch === "<" ? "<<<" : ">>>";
          back();
          return this.token = ch === "<" ? "<<" : ">>";
        }
        back();
        return this.token = ch;
      case "^":
      case "&":
      case "|":
      case "=":
        if (peek(ch)) return this.token = `${ch}${ch}` as Token;
        back();
        return this.token = ch;
      case "!":
        if (peek("=")) return this.token = "!=";
        back();
        return this.token = "!";
      case "*":
      case "%":
      case "/":
      case "(":
      case ")":
        return this.token = ch;
    }
    if (/[0-9.]/.test(ch)) {
      this.#back = ch;
      this.#readNumber();
      return this.token = "number";
    }
    return this.#readName(ch);
  }

  /** A number token: letters, digits, `_`, `:` and `.` (radare2's `cin_get_num`). */
  #readNumber(): void {
    let text = "";
    for (let c = this.#get(); c !== undefined; c = this.#get()) {
      if (!/[A-Za-z0-9_:.]/.test(c)) {
        this.#back = c;
        break;
      }
      if (text.length < 1024) text += c;
    }
    const value = num(this.#resolve(text));
    if (/^[0-9]/.test(text) && text.includes(".")) {
      const d = Number(/^\d*\.?\d*(e[+-]?\d+)?/i.exec(text)![0]);
      if (Number(value.n) < d) value.n = d >= 2 ** 64 ? U64_MAX : BigInt(Math.trunc(d));
      value.d = d;
    }
    this.#number = value;
  }

  /** A name token (`$$`, `$s`, a word, `'A`, `[...]`). */
  #readName(first: string): Token {
    let text = first;
    let ch: string | undefined = first;
    if (first === "[") {
      while ((ch = this.#get()) !== undefined && ch !== "]") text += ch;
      if (ch !== "]") this.#fail("cannot find closing ]");
      this.#name = text + "]";
      return this.token = "name";
    }
    if (first === "]") {
      this.#fail("cannot find opening [");
      return this.token = "end";
    }
    for (let c = this.#get(); c !== undefined; c = this.#get()) {
      ch = c;
      if (!VALID_NAME.test(c)) break;
      text += c;
    }
    // radare2 pushes back the last character read, even when it ended the input.
    if (ch !== "'") this.#back = ch;
    this.#name = text.slice(0, 1024);
    return this.token = "name";
  }

  /** radare2's `expr`: terms joined by the operators of {@linkcode BINARY}. */
  expr(get: boolean): Value {
    let left = this.term(get);
    for (let op = BINARY[this.token]; op; op = BINARY[this.token]) {
      left = op(left, this.term(true));
    }
    return left;
  }

  /** radare2's `term`: primaries joined by `*`, `/` and `%`. */
  term(get: boolean): Value {
    let left = this.prim(get);
    for (;;) {
      if (this.token === "*") {
        const right = this.prim(true);
        left = { n: wrap(left.n * right.n), d: left.d * right.d };
      } else if (this.token === "%") {
        const right = this.prim(true);
        if (!right.d) return right;
        left = {
          n: right.n ? left.n % right.n : 0n,
          d: left.d - left.d / right.d,
        };
      } else if (this.token === "/") {
        const right = this.prim(true);
        if (!right.d || !right.n) {
          this.divisionByZero = true;
          return right;
        }
        left = { n: left.n / right.n, d: left.d / right.d };
      } else {
        return left;
      }
    }
  }

  /** radare2's `prim`: a number, a name, a unary operator or a parenthesised expression. */
  prim(get: boolean): Value {
    const zero = num(0n);
    if (get) this.next();
    switch (this.token) {
      case "number": {
        const v = this.#number;
        this.next();
        return v;
      }
      case "name": {
        let v = num(this.#resolve(this.#name.trim()));
        if (this.next() === "=") v = this.expr(true);
        return v;
      }
      case "!": {
        this.next(); // radare2 skips the token after "!" and "~"
        const v = this.expr(true);
        return { n: bool(v.n === 0n), d: v.d };
      }
      case "~": {
        this.next();
        const v = this.expr(true);
        return { n: wrap(~v.n), d: v.d };
      }
      case "++":
      case "--": {
        const delta = this.token === "++" ? 1n : U64_MAX;
        const v = this.prim(true);
        return { n: wrap(v.n + delta), d: v.d + Number(delta) };
      }
      case "|":
        return this.prim(true);
      case "-": {
        const v = this.prim(true);
        return { n: wrap(-v.n), d: -v.d };
      }
      case "(": {
        const v = this.expr(true);
        if (this.#is(")")) this.next();
        else this.#fail("')' expected");
        return v;
      }
      default:
        return zero;
    }
  }
}

/**
 * Evaluate a radare2 expression as its `r_num_math` does, in 64-bit unsigned arithmetic.
 *
 * @param expression The expression, e.g. `0x10+$$*2`.
 * @param variables The value of a name such as `$$`, or `undefined` when it has none.
 * @returns The value (modulo 2^64), and radare2's error when the expression is not valid.
 *
 * @example
 * ```ts
 * import { evaluate } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(evaluate("-1").value, 2n ** 64n - 1n);
 * assert.equal(evaluate("0xffffffffffffffff+1").value, 0n);
 * assert.equal(evaluate("1+2<<3").value, 24n); // one level, left to right, as radare2
 * assert.equal(evaluate("$$+4", (name) => name === "$$" ? 0x10n : undefined).value, 0x14n);
 * assert.deepEqual(evaluate("10/0"), { value: 0n, divisionByZero: true });
 * assert.equal(evaluate("(1+2").error, "')' expected");
 * ```
 */
export function evaluate(
  expression: string,
  variables: (name: string) => bigint | undefined = () => undefined,
): Evaluation {
  if (expression === "") return { value: 0n, divisionByZero: false };
  const calc = new Calc(expression, variables);
  calc.next();
  const { n } = calc.expr(false);
  return calc.error === undefined
    ? { value: n, divisionByZero: calc.divisionByZero }
    : { value: n, error: calc.error, divisionByZero: calc.divisionByZero };
}

/**
 * An expression that radare2 would report as invalid; `value` is what radare2 would use.
 *
 * @example
 * ```ts
 * import { ExpressionError } from "@rap/cli/shell";
 * const error = new ExpressionError('Division by zero in "1/0"', 0n);
 * console.assert(error instanceof SyntaxError && error.value === 0n);
 * ```
 */
export class ExpressionError extends SyntaxError {
  /** The value radare2 computes anyway (`?v` prints it after the error). */
  readonly value: bigint;

  /**
   * Create it.
   *
   * @param message The message.
   * @param value The value radare2 computes anyway.
   */
  constructor(message: string, value: bigint) {
    super(message);
    this.name = "ExpressionError";
    this.value = value;
  }
}

/**
 * Evaluate an expression as {@linkcode evaluate} does, refusing what radare2 reports as
 * an error (and a division by zero, which radare2 only reports in `?v`).
 *
 * @param expression The expression.
 * @param variables The value of a name such as `$$`, or `undefined` when it has none.
 * @returns The value, modulo 2^64.
 * @throws {ExpressionError} When radare2 would report an error.
 *
 * @example
 * ```ts
 * import { ExpressionError, valueOf } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(valueOf("0x20000000000001"), 0x20000000000001n);
 * assert.throws(() => valueOf("zz"), ExpressionError);
 * ```
 */
export function valueOf(
  expression: string,
  variables?: (name: string) => bigint | undefined,
): bigint {
  const { value, error, divisionByZero } = evaluate(expression, variables);
  if (error === "unknown symbol") {
    throw new ExpressionError(`Invalid number "${expression}"`, value);
  }
  if (error) throw new ExpressionError(`Invalid number "${expression}": ${error}`, value);
  if (divisionByZero) throw new ExpressionError(`Division by zero in "${expression}"`, value);
  return value;
}
