/**
 * radare2's number literals (`r_num_get` in its `libr/util/unum.c`), as 64-bit unsigned
 * BigInts: `0x10`, `0b101`, `101b`, `0o17`, `017`, `10h`, `17o`, `12t`, `0t12`, `4K`,
 * `1.5M`, `2G`, `1u32`, `'A`, `0xff..12`, `1000:0010` ... with radare2's quirks kept: a
 * decimal number ends at its first non-digit (`12abc` is 12), an overflowing one is
 * `0xffffffffffffffff` with an error.
 *
 * @module
 */

/** 2^64 - 1, the largest ut64. */
export const U64_MAX = (1n << 64n) - 1n;

/**
 * A value with the error radare2 reports for it, if any (radare2 still uses the value).
 *
 * @example
 * ```ts
 * import type { Parsed } from "@rap/cli/shell";
 * const parsed: Parsed = { value: 0n, error: "unknown symbol" };
 * console.assert(parsed.error === "unknown symbol");
 * ```
 */
export interface Parsed {
  /** The value, modulo 2^64. */
  value: bigint;
  /** radare2's message when the text is not a valid number. */
  error?: string;
}

const UNITS: Record<string, [bigint, string]> = {
  k: [1n << 10n, "kilobyte"],
  m: [1n << 20n, "megabyte"],
  g: [1n << 30n, "gigabyte"],
};

const DIGITS: Record<number, RegExp> = {
  2: /^[01]+/,
  8: /^[0-7]+/,
  10: /^[0-9]+/,
  16: /^[0-9a-f]+/i,
};

/**
 * C's `strtoull`/`scanf` on `text`: white space, a sign, digits of `radix` (hex may start
 * with `0x`). A value past 64 bits is `U64_MAX` and `overflow`; a minus sign negates modulo
 * 2^64.
 */
function scan(
  text: string,
  radix: 2 | 8 | 10 | 16,
): { value: bigint; length: number; overflow: boolean } | undefined {
  const lead = /^\s*([+-]?)/.exec(text)!;
  let at = lead[0].length;
  if (radix === 16 && /^0x[0-9a-f]/i.test(text.slice(at))) at += 2;
  const digits = DIGITS[radix].exec(text.slice(at))?.[0];
  if (digits === undefined) return undefined;
  const prefix = radix === 16 ? "0x" : radix === 8 ? "0o" : radix === 2 ? "0b" : "";
  let value = BigInt(prefix + digits);
  const overflow = value > U64_MAX;
  if (overflow) value = U64_MAX;
  else if (lead[1] === "-") value = BigInt.asUintN(64, -value);
  return { value, length: at + digits.length, overflow };
}

/** C's `sscanf("%lf")`: a decimal floating-point prefix of `text`. */
function scanFloat(text: string): { value: number; length: number } | undefined {
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(text);
  return m ? { value: Number(m[0]), length: m[0].length } : undefined;
}

/** C's `(ut64)d` for a non-negative double (saturating where C has no answer). */
function fromDouble(d: number): bigint {
  if (!(d > 0)) return 0n;
  return d >= 2 ** 64 ? U64_MAX : BigInt(Math.trunc(d));
}

/** `0xff..12`: the hex digits replace the low end of an all-ones value. */
function tailff(hex: string): Parsed {
  const digits = hex.replace(/^[ .]*/, "");
  if (!/^[0-9a-f]/i.test(digits)) return { value: U64_MAX, error: "Invalid argument" };
  const shift = BigInt((digits.length * 4) & 63); // x86 shifts count modulo 64
  const low = parseLiteral("0x" + digits);
  return { value: ((U64_MAX >> shift) << shift) | low.value, error: low.error };
}

/** `1000:0010` and `0x1000:0x0010`: a segment and an offset, `(s << 4) + a` in 32 bits. */
function segmented(text: string): bigint | undefined {
  const hex4 = (s: string) => /^\s*([0-9a-f]{1,4})/i.exec(s)?.[1];
  let m: RegExpExecArray | null;
  let s: string | undefined;
  let a: string | undefined;
  if (text.length > 3 && text[4] === ":") {
    [s, a] = [hex4(text), hex4(text.slice(5))];
  } else if (text.length > 6 && text[6] === ":") {
    if ((m = /^0x([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,4})/i.exec(text))) [s, a] = [m[1], m[2]];
  }
  if (s === undefined || a === undefined) return undefined;
  return BigInt(((parseInt(s, 16) << 4) + parseInt(a, 16)) >>> 0);
}

/** `0b1_0101` (radare2 skips the underscores). */
function binary(digits: string): bigint {
  let value = 0n;
  let bit = 0n;
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] === "_") continue;
    if (digits[i] === "1") value |= 1n << (bit & 63n);
    bit++;
  }
  return value;
}

/** `0t12`: ternary digits, other characters only taking a place. */
function ternary(digits: string): bigint {
  let value = 0n;
  for (let i = 0; i < digits.length; i++) {
    const d = "012".indexOf(digits[i]);
    if (d > 0) value += BigInt(d) * 3n ** BigInt(digits.length - 1 - i);
  }
  return BigInt.asUintN(64, value);
}

/** Whether underscores in a hex literal come every 4 digits from the right. */
function validUnderscores(digits: string): boolean {
  let n = 0;
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] !== "_") n++;
    else if (n !== 4) return false;
    else n = 0;
  }
  return n > 0 && n <= 4;
}

function hex(digits: string): Parsed {
  const error = digits.includes("_") && !validUnderscores(digits)
    ? "misplaced underscore in hex literal"
    : undefined;
  const scanned = scan(digits.replaceAll("_", ""), 16);
  if (scanned?.overflow) return { value: U64_MAX, error: "number won't fit into 64 bits" };
  return { value: scanned?.value ?? 0n, error };
}

/** A number with a suffix: `10h`, `17o` (and `017`), `101b`, `12t`, `4K`, `1.5M` ... */
function suffixed(text: string): Parsed {
  let length = Math.max(text.length - 1, 0); // what the digits must span
  let suffix = text.at(-1) ?? "";
  if (text[0] === "0" && /[0-9]/.test(text[1] ?? "") && suffix !== "b" && suffix !== "h") {
    suffix = "o";
    length++;
  }
  const whole = (radix: 8 | 16, what: string): Parsed => {
    const s = scan(text, radix);
    return s && s.length === length
      ? { value: s.value }
      : { value: s?.value ?? 0n, error: `invalid ${what} number` };
  };
  const unit = UNITS[suffix.toLowerCase()];
  if (suffix === "h") return whole(16, "hex");
  if (suffix === "o") return whole(8, "octal");
  if (suffix === "b" || suffix === "t") {
    const base = suffix === "b" ? 2n : 3n;
    let value = 0n;
    let weight = 1n;
    for (let i = text.length - 2; i >= 0; i--) {
      const d = (suffix === "b" ? "01" : "012").indexOf(text[i]);
      if (d < 0 || (suffix === "b" && text.length > 65)) {
        return { value, error: `invalid ${suffix === "b" ? "binary" : "ternary"} number` };
      }
      value = BigInt.asUintN(64, value + BigInt(d) * weight);
      weight = BigInt.asUintN(64, weight * base);
    }
    return length
      ? { value }
      : { value, error: `invalid ${suffix === "b" ? "binary" : "ternary"} number` };
  }
  if (unit) {
    const [size, name] = unit;
    const error = `invalid ${name} number`;
    if (text.includes(".")) {
      const f = scanFloat(text);
      if (!f) return { value: 0n, error };
      const value = fromDouble(f.value * Number(size));
      return f.length === length ? { value } : { value, error };
    }
    const s = /^\s*[+-]?\d+/.exec(text);
    if (!s) return { value: 0n, error };
    const n = BigInt(s[0].trim());
    const clamped = n > (1n << 63n) - 1n ? (1n << 63n) - 1n : n < -(1n << 63n) ? -(1n << 63n) : n;
    const value = BigInt.asUintN(64, clamped * size);
    return s[0].length === length ? { value } : { value, error };
  }
  if (text[0] !== "-" && !/[0-9]/.test(text[0] ?? "")) {
    return { value: 0n, error: "unknown symbol" };
  }
  const s = scan(text, 10);
  if (s?.overflow) return { value: U64_MAX, error: "number won't fit into 64 bits" };
  return { value: s?.value ?? 0n };
}

/**
 * Parse one radare2 number literal (no operators: see {@linkcode evaluate}), as radare2's
 * `r_num_get` does, without its symbol callback (flags, registers, `$$` ...).
 *
 * @param text The literal.
 * @returns Its value modulo 2^64, and radare2's error message if it is not valid.
 *
 * @example
 * ```ts
 * import { parseLiteral } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseLiteral("0xffffffffffffffff").value, 2n ** 64n - 1n);
 * assert.equal(parseLiteral("010").value, 8n); // octal, as in radare2
 * assert.equal(parseLiteral("1.5K").value, 1536n);
 * assert.deepEqual(parseLiteral("0x10000000000000000"), {
 *   value: 2n ** 64n - 1n,
 *   error: "number won't fit into 64 bits",
 * });
 * assert.equal(parseLiteral("zz").error, "unknown symbol");
 * ```
 */
export function parseLiteral(text: string): Parsed {
  const str = text.trimStart();
  if (str === "") return { value: 0n };
  if (str.startsWith("1u")) {
    const bits = Number.parseInt(str.slice(2), 10);
    if ([8, 16, 32, 64].includes(bits)) return { value: (1n << BigInt(bits)) - 1n };
  }
  if (str.length >= 3 && str[0] === "'" && str[2] === "'") return { value: charCode(str[1]) };
  const segment = segmented(str);
  if (segment !== undefined) return { value: segment };
  if (str.startsWith("0b") && /^[01_]+$/.test(str.slice(2))) return { value: binary(str.slice(2)) };
  if (str[0] === "'") return { value: charCode(str[1] ?? "\0") };
  if (str.startsWith("0xff..") || str.startsWith("0xFF..")) return tailff(str.slice(6));
  if (str.startsWith("0t")) return { value: ternary(str.slice(2)) };
  if (str.startsWith("0o")) {
    const s = scan(str.slice(2), 8);
    return s ? { value: s.value } : { value: 0n, error: "invalid octal number" };
  }
  if (str.startsWith("0xf..") || str.startsWith("0xF..")) return tailff(str.slice(5));
  if (str.startsWith("0_")) return { value: 0n, error: "base36 numbers are not supported" };
  if (/^0x/i.test(str)) return hex(str.slice(2));
  return suffixed(str);
}

/** The first byte of a character's UTF-8 encoding, as C sees a `char`. */
function charCode(c: string): bigint {
  return BigInt(new TextEncoder().encode(c)[0] ?? 0);
}
