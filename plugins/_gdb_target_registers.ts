/**
 * The registers of a process behind a GDB stub: their layout, read once from the stub's
 * target description (`qXfer:features:read`, `xi:include`s inlined), their values (`g`), and
 * `dr NAME[=VALUE]` (`P`, or `G` when the stub lacks `P`). Also {@linkcode readXfer}, the
 * `qXfer:OBJECT:read` reader `dp` uses for the executable's path.
 *
 * @example
 * ```ts
 * import { TargetRegisters } from "./_gdb_target_registers.ts";
 * console.assert(typeof TargetRegisters.prototype.layout === "function");
 * ```
 *
 * @module
 */

import { latin1Text, unescapeGdbBinary } from "../lib/gdb/codec.ts";
import {
  findRegister,
  hexValue,
  parseTargetXml,
  readRegisters,
  registerHex,
  type RegisterLayout,
  writeRegister,
} from "../lib/gdb/registers.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { IoError } from "../lib/io/errors.ts";

/** Largest target description accepted, includes and all. */
const MAX_DESCRIPTION = 1 << 20;
/** Deepest `xi:include` nesting followed. */
const MAX_INCLUDE_DEPTH = 8;

/** What the register reader needs of its descriptor. */
export interface RegisterTarget {
  /** The URI, for errors. */
  readonly uri: string;
  /** Whether the file was opened writable. */
  readonly writable: boolean;
  /** The largest packet the stub accepts. */
  readonly packetSize: number;
}

/** Parse a register value: hex, decimal, or negative decimal. */
function parseValue(text: string, uri: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|-?\d+)$/i.test(t)) throw new IoError(uri, `Invalid value "${text}"`);
  return BigInt(t);
}

/**
 * A `qXfer:OBJECT:read:ANNEX` object, read in packet-sized chunks.
 *
 * @param remote The stub connection.
 * @param packetSize The largest packet the stub accepts.
 * @param object The object (`features`, `exec-file` ...).
 * @param annex The annex (`target.xml`, a pid in hex ...).
 * @returns The object, or `undefined` when the stub has none.
 */
export async function readXfer(
  remote: GdbRemote,
  packetSize: number,
  object: string,
  annex: string,
): Promise<string | undefined> {
  let out = "";
  const chunk = Math.max(64, packetSize - 8).toString(16);
  for (;;) {
    const reply = await remote.request(
      `qXfer:${object}:read:${annex}:${out.length.toString(16)},${chunk}`,
    );
    const kind = reply[0];
    if (kind !== 0x6d && kind !== 0x6c) return undefined; // not m/l: E or unsupported
    out += latin1Text(unescapeGdbBinary(reply.subarray(1)));
    if (kind === 0x6c || out.length > MAX_DESCRIPTION) return out;
  }
}

/**
 * The registers of one stub connection, laid out from its target description (read once).
 *
 * @example
 * ```ts
 * import { TargetRegisters } from "./_gdb_target_registers.ts";
 * console.assert(typeof TargetRegisters.prototype.values === "function");
 * ```
 */
export class TargetRegisters {
  readonly #remote: GdbRemote;
  readonly #target: RegisterTarget;
  #layout: RegisterLayout | undefined;

  /**
   * Make it.
   *
   * @param remote The stub connection.
   * @param target The descriptor's state.
   */
  constructor(remote: GdbRemote, target: RegisterTarget) {
    this.#remote = remote;
    this.#target = target;
  }

  /**
   * The layout, read once from the stub's target description.
   *
   * @returns The layout.
   * @throws {IoError} When the stub gives no target description.
   */
  async layout(): Promise<RegisterLayout> {
    if (this.#layout) return this.#layout;
    const xml = await this.#description("target.xml", 0, { total: 0 });
    if (xml === undefined) {
      throw new IoError(
        this.#target.uri,
        `The stub of "${this.#target.uri}" gives no target description ` +
          `(qXfer:features:read): its registers are unknown`,
      );
    }
    this.#layout = parseTargetXml(xml);
    return this.#layout;
  }

  /** One annex of the description, with its `xi:include`s inlined. */
  async #description(
    annex: string,
    depth: number,
    budget: { total: number },
  ): Promise<string | undefined> {
    const text = await readXfer(this.#remote, this.#target.packetSize, "features", annex);
    if (text === undefined) return undefined;
    budget.total += text.length;
    if (budget.total > MAX_DESCRIPTION || depth >= MAX_INCLUDE_DEPTH) {
      throw new IoError(this.#target.uri, `The stub's target description is too large`);
    }
    let out = "";
    let last = 0;
    for (const m of text.matchAll(/<xi:include\s+href="([^"]+)"\s*\/>/g)) {
      out += text.slice(last, m.index) +
        ((await this.#description(m[1], depth + 1, budget)) ?? "")
          .replace(/<\?xml[^>]*\?>|<!DOCTYPE[^>]*>/g, "");
      last = m.index! + m[0].length;
    }
    return out + text.slice(last);
  }

  /**
   * The layout and the values of the registers now (`g`).
   *
   * @returns The layout, and the values by register number.
   * @throws {IoError} When the stub does not answer `g` with registers.
   */
  async values(): Promise<[RegisterLayout, Map<number, bigint>]> {
    const layout = await this.layout();
    const g = await this.#remote.requestText("g");
    if (!/^[0-9a-fA-Fx]*$/.test(g) || g === "") {
      throw new IoError(this.#target.uri, `Cannot read the registers: the stub answered "${g}"`);
    }
    return [layout, readRegisters(layout, g)];
  }

  /**
   * `dr NAME` or `dr NAME=VALUE`.
   *
   * @param arg `NAME` or `NAME=VALUE`.
   * @returns The value (`dr NAME`) or nothing (a set).
   * @throws {IoError} For an unknown register, a read-only file or a refused set.
   */
  async command(arg: string): Promise<string> {
    const [name, value] = arg.split("=", 2).map((s) => s.trim());
    const layout = await this.layout();
    const register = findRegister(layout, name);
    if (!register) throw new IoError(this.#target.uri, `Unknown register "${name}"`);
    if (value === undefined) {
      const [, values] = await this.values();
      const current = values.get(register.regnum);
      if (current === undefined) {
        throw new IoError(this.#target.uri, `Register "${name}" is not available`);
      }
      return `${hexValue(current)}\n`;
    }
    if (!this.#target.writable) {
      throw new IoError(
        this.#target.uri,
        `Cannot set "${name}": "${this.#target.uri}" is opened read-only (open it with -w)`,
      );
    }
    const v = parseValue(value, this.#target.uri);
    const bytes = Math.ceil(register.bitsize / 8);
    let reply = await this.#remote.requestText(
      `P${register.regnum.toString(16)}=${registerHex(v, bytes)}`,
    );
    if (reply === "") {
      const g = await this.#remote.requestText("g");
      reply = await this.#remote.requestText(`G${writeRegister(g, register, v)}`);
    }
    if (reply !== "OK") {
      throw new IoError(this.#target.uri, `Cannot set "${name}": the stub answered ${reply}`);
    }
    return "";
  }

  /**
   * The program counter now.
   *
   * @returns The address, or `undefined` when the layout has no pc.
   */
  async pc(): Promise<number | undefined> {
    const [layout, values] = await this.values();
    const pc = layout.pc ? values.get(layout.pc.regnum) : undefined;
    return pc === undefined ? undefined : Number(pc);
  }
}
