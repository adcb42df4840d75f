/**
 * Registers from a GDB stub's target description (`qXfer:features:read:target.xml`): the
 * names, sizes and numbers of the registers the stub says it has, where each lies in the
 * `g` packet, which are general-purpose, and radare2's `dr` layout for their values. No
 * register set is built in: the layout is always the stub's.
 *
 * @example
 * ```ts
 * import { formatRegisters, parseTargetXml, readRegisters } from "./registers.ts";
 * import assert from "node:assert/strict";
 *
 * const layout = parseTargetXml(`<target><architecture>i386:x86-64</architecture>
 *   <feature name="org.gnu.gdb.i386.core">
 *     <reg name="rax" bitsize="64" type="int64" regnum="0"/>
 *     <reg name="rip" bitsize="64" type="code_ptr"/>
 *   </feature></target>`);
 * const values = readRegisters(layout, "2a00000000000000" + "5811400000000000");
 * assert.equal(formatRegisters(layout, values), "rax = 0x0000002a\nrip = 0x00401158\n");
 * ```
 *
 * @module
 */

/**
 * One register of the target description.
 *
 * @example
 * ```ts
 * import type { RegisterInfo } from "./registers.ts";
 * const rip: RegisterInfo = {
 *   name: "rip", bitsize: 64, regnum: 16, offset: 128, type: "code_ptr", feature: "core",
 *   general: true,
 * };
 * console.assert(rip.bitsize / 8 === 8);
 * ```
 */
export interface RegisterInfo {
  /** The stub's name (`rip`, `eflags`, `x0` ...). */
  name: string;
  /** Size in bits. */
  bitsize: number;
  /** The register number (`p`/`P` packets, `T` stop replies). */
  regnum: number;
  /** Byte offset in the `g` packet. */
  offset: number;
  /** The type (`int64`, `code_ptr`, `i387_ext`, `vec128` ...). */
  type: string;
  /** The feature it belongs to (`org.gnu.gdb.i386.core` ...). */
  feature: string;
  /** Its group, when the description names one (`general`, `float`, `vector` ...). */
  group?: string;
  /** Whether it is a general-purpose integer register (what `dr` shows). */
  general: boolean;
}

/**
 * The registers of a target, in register-number order.
 *
 * @example
 * ```ts
 * import { parseTargetXml } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="pc" bitsize="32" type="code_ptr"/></feature></target>`);
 * console.assert(layout.pc?.name === "pc" && layout.pointerSize === 4);
 * ```
 */
export interface RegisterLayout {
  /** The `<architecture>` (e.g. `i386:x86-64`, `aarch64`), or `""`. */
  architecture: string;
  /** Every register, by register number. */
  registers: RegisterInfo[];
  /** The program counter (the `code_ptr` register, else one named pc/rip/eip). */
  pc?: RegisterInfo;
  /** The stack pointer (`sp`, `rsp`, `esp`, else the first `data_ptr` named *sp). */
  sp?: RegisterInfo;
  /** Size of a code address in bytes (the pc's size, else 8). */
  pointerSize: number;
  /** Size of the registers in a full `g` packet, in bytes. */
  gSize: number;
}

/** Types that are not plain integers: floats, vectors and the like. */
const NON_INTEGER = /^(i387_ext|ieee_|bfloat|vec|v\d|uint128|int128|_?float)/;

/** radare2's names for some registers of gdb's descriptions (shown by `dr`, accepted by `dr NAME`). */
const R2_NAMES: Readonly<Record<string, Record<string, string>>> = {
  "i386:x86-64": { eflags: "rflags", orig_rax: "orax" },
  "i386": { orig_eax: "oeax" },
};

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)\s*=\s*"([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/**
 * Parse a target description (the XML of `target.xml`, its includes already inlined):
 * every `<reg>` with its number (the `regnum` attribute, else one more than the last),
 * size, type, group and feature; offsets in the `g` packet follow register-number order.
 * Types defined in the description (`<vector>`, `<union>`, `<struct>`) are not integers;
 * `<flags>` types are.
 *
 * @param xml The description.
 * @returns The layout.
 * @throws {SyntaxError} When a `<reg>` lacks a name or a valid bitsize.
 *
 * @example
 * ```ts
 * import { parseTargetXml } from "./registers.ts";
 * import assert from "node:assert/strict";
 *
 * const layout = parseTargetXml(`<target><feature name="org.gnu.gdb.aarch64.core">
 *   <reg name="x0" bitsize="64"/><reg name="sp" bitsize="64" type="data_ptr"/>
 *   <reg name="pc" bitsize="64" type="code_ptr"/><reg name="v0" bitsize="128" type="vec"/>
 * </feature></target>`);
 * assert.deepEqual(layout.registers.map((r) => [r.name, r.offset, r.general]), [
 *   ["x0", 0, true], ["sp", 8, true], ["pc", 16, true], ["v0", 24, false],
 * ]);
 * assert.equal(layout.gSize, 40);
 * ```
 */
export function parseTargetXml(xml: string): RegisterLayout {
  const architecture = /<architecture>\s*([^<]*?)\s*<\/architecture>/.exec(xml)?.[1] ?? "";
  const compound = new Set<string>();
  for (const m of xml.matchAll(/<(vector|union|struct)\b([^>]*)>/g)) {
    const id = attributes(m[2]).id;
    if (id) compound.add(id);
  }
  const registers: RegisterInfo[] = [];
  let feature = "";
  let next = 0;
  for (const m of xml.matchAll(/<feature\b([^>]*)>|<reg\b([^>]*?)\/?>/g)) {
    if (m[1] !== undefined) {
      feature = attributes(m[1]).name ?? "";
      continue;
    }
    const a = attributes(m[2]);
    const bitsize = Number(a.bitsize);
    if (!a.name || !Number.isInteger(bitsize) || bitsize <= 0) {
      throw new SyntaxError(`Invalid register in the target description: <reg${m[2]}>`);
    }
    const regnum = a.regnum === undefined ? next : Number(a.regnum);
    next = regnum + 1;
    const type = a.type ?? "int";
    const group = a.group;
    registers.push({
      name: a.name,
      bitsize,
      regnum,
      offset: 0,
      type,
      feature,
      ...(group === undefined ? {} : { group }),
      general: bitsize <= 64 && (group === undefined || group === "general") &&
        !compound.has(type) && !NON_INTEGER.test(type),
    });
  }
  registers.sort((a, b) => a.regnum - b.regnum);
  let offset = 0;
  for (const r of registers) {
    r.offset = offset;
    offset += Math.ceil(r.bitsize / 8);
  }
  const named = (...names: string[]) => registers.find((r) => names.includes(r.name));
  const pc = registers.find((r) => r.type === "code_ptr") ?? named("pc", "rip", "eip");
  const sp = named("sp", "rsp", "esp") ??
    registers.find((r) => r.type === "data_ptr" && /sp$/.test(r.name));
  return {
    architecture,
    registers,
    ...(pc ? { pc } : {}),
    ...(sp ? { sp } : {}),
    pointerSize: pc ? Math.ceil(pc.bitsize / 8) : 8,
    gSize: offset,
  };
}

/**
 * radare2's name of a register (`rflags` for x86-64's `eflags`, `orax` for `orig_rax`),
 * else the stub's.
 *
 * @param layout The layout.
 * @param register The register.
 * @returns The name `dr` shows.
 *
 * @example
 * ```ts
 * import { displayName, parseTargetXml } from "./registers.ts";
 * const layout = parseTargetXml(`<target><architecture>i386:x86-64</architecture><feature name="f"><reg name="eflags" bitsize="32"/></feature></target>`);
 * console.assert(displayName(layout, layout.registers[0]) === "rflags");
 * ```
 */
export function displayName(layout: RegisterLayout, register: RegisterInfo): string {
  return R2_NAMES[layout.architecture]?.[register.name] ?? register.name;
}

/**
 * Find a register by the stub's name, radare2's name (`rflags`, `orax`) or a role
 * (`pc`, `sp`, `PC`, `SP`); case-insensitive.
 *
 * @param layout The layout.
 * @param name The name.
 * @returns The register, or `undefined`.
 *
 * @example
 * ```ts
 * import { findRegister, parseTargetXml } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="rip" bitsize="64" type="code_ptr"/></feature></target>`);
 * console.assert(findRegister(layout, "PC")?.name === "rip");
 * ```
 */
export function findRegister(layout: RegisterLayout, name: string): RegisterInfo | undefined {
  const wanted = name.toLowerCase();
  const found = layout.registers.find((r) =>
    r.name.toLowerCase() === wanted || displayName(layout, r).toLowerCase() === wanted
  );
  if (found) return found;
  if (wanted === "pc") return layout.pc;
  if (wanted === "sp") return layout.sp;
  return undefined;
}

/** Little-endian bytes of hex text to a number; `undefined` when unavailable (`xx`). */
function littleEndian(hex: string): bigint | undefined {
  if (hex.length === 0 || /x/i.test(hex)) return undefined;
  let value = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) {
    value = (value << 8n) | BigInt(`0x${hex.slice(i, i + 2)}`);
  }
  return value;
}

/**
 * The values of the registers in a `g` reply (target byte order: little-endian). Registers
 * past the end of a short reply, or sent as `xx` (unavailable), are left out.
 *
 * @param layout The layout.
 * @param g The `g` reply (hex).
 * @returns Values by register number.
 *
 * @example
 * ```ts
 * import { parseTargetXml, readRegisters } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="a" bitsize="16"/><reg name="b" bitsize="16"/></feature></target>`);
 * const values = readRegisters(layout, "3412xxxx");
 * console.assert(values.get(0) === 0x1234n && !values.has(1));
 * ```
 */
export function readRegisters(layout: RegisterLayout, g: string): Map<number, bigint> {
  const values = new Map<number, bigint>();
  for (const r of layout.registers) {
    const start = r.offset * 2;
    const end = start + Math.ceil(r.bitsize / 8) * 2;
    if (end > g.length) break;
    const value = littleEndian(g.slice(start, end));
    if (value !== undefined) values.set(r.regnum, value);
  }
  return values;
}

/**
 * A `g` payload with one register replaced (for `G`, when the stub has no `P`).
 *
 * @param g The current `g` reply.
 * @param register The register to change.
 * @param value Its new value (cut to the register's size).
 * @returns The new payload.
 *
 * @example
 * ```ts
 * import { parseTargetXml, writeRegister } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="a" bitsize="16"/><reg name="b" bitsize="16"/></feature></target>`);
 * console.assert(writeRegister("00000000", layout.registers[1], 0x1234n) === "00003412");
 * ```
 */
export function writeRegister(
  g: string,
  register: RegisterInfo,
  value: bigint,
): string {
  const start = register.offset * 2;
  const bytes = Math.ceil(register.bitsize / 8);
  if (start + bytes * 2 > g.length) {
    throw new RangeError(`Register "${register.name}" is not in the stub's register packet`);
  }
  return g.slice(0, start) + registerHex(value, bytes) + g.slice(start + bytes * 2);
}

/**
 * A value as `bytes` little-endian bytes in hex (the `P` packet's and `g`'s encoding).
 *
 * @param value The value (cut to the size).
 * @param bytes The size in bytes.
 * @returns The hex text.
 *
 * @example
 * ```ts
 * import { registerHex } from "./registers.ts";
 * console.assert(registerHex(0x401158n, 8) === "5811400000000000");
 * ```
 */
export function registerHex(value: bigint, bytes: number): string {
  let out = "";
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++) {
    out += (v & 0xffn).toString(16).padStart(2, "0");
    v >>= 8n;
  }
  return out;
}

/**
 * A value as radare2 prints a register: `0x` and at least 8 hex digits.
 *
 * @param value The value.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { hexValue } from "./registers.ts";
 * console.assert(hexValue(0x401158n) === "0x00401158" && hexValue(0x7ffe12345678n) === "0x7ffe12345678");
 * ```
 */
export function hexValue(value: bigint): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/**
 * The general-purpose registers as radare2's `dr` prints them: `name = 0x%08x`, one a line,
 * in the stub's order (registers without a value are left out).
 *
 * @param layout The layout.
 * @param values Values by register number.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatRegisters, parseTargetXml } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="r0" bitsize="32"/><reg name="f0" bitsize="80" type="i387_ext"/></feature></target>`);
 * console.assert(formatRegisters(layout, new Map([[0, 1n], [1, 2n]])) === "r0 = 0x00000001\n");
 * ```
 */
export function formatRegisters(layout: RegisterLayout, values: Map<number, bigint>): string {
  let out = "";
  for (const r of layout.registers) {
    const value = values.get(r.regnum);
    if (r.general && value !== undefined) out += `${displayName(layout, r)} = ${hexValue(value)}\n`;
  }
  return out;
}

/**
 * The general-purpose registers as radare2's `drj` prints them: one JSON object, exact
 * decimal numbers.
 *
 * @param layout The layout.
 * @param values Values by register number.
 * @returns The JSON text and a newline.
 *
 * @example
 * ```ts
 * import { formatRegistersJson, parseTargetXml } from "./registers.ts";
 * const layout = parseTargetXml(`<target><feature name="f"><reg name="rip" bitsize="64"/></feature></target>`);
 * console.assert(formatRegistersJson(layout, new Map([[0, 2n ** 63n]])) === '{"rip":9223372036854775808}\n');
 * ```
 */
export function formatRegistersJson(layout: RegisterLayout, values: Map<number, bigint>): string {
  const parts: string[] = [];
  for (const r of layout.registers) {
    const value = values.get(r.regnum);
    if (r.general && value !== undefined) {
      parts.push(`${JSON.stringify(displayName(layout, r))}:${value}`);
    }
  }
  return `{${parts.join(",")}}\n`;
}
