/**
 * The software breakpoints of a GDB stub connection (`Z0`/`z0`): the user's (`db`) and
 * every address with a breakpoint in the stub, `dso`'s temporary ones included.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./_gdb_breakpoints.ts";
 * console.assert(parseAddress("0x401000", "gdb://127.0.0.1:1234") === 0x401000);
 * ```
 *
 * @module
 */

import { hexValue } from "../lib/gdb/registers.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { IoError } from "../lib/io/errors.ts";

/**
 * Parse an address: hex (`0x...`) or decimal.
 *
 * @param text The address.
 * @param uri The URI, for the error.
 * @returns The address.
 * @throws {IoError} When `text` is not an address.
 */
export function parseAddress(text: string, uri: string): number {
  const t = text.trim();
  const value = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(value)) throw new IoError(uri, `Invalid address "${text}"`);
  return value;
}

/**
 * The breakpoint table of one stub connection.
 *
 * @example
 * ```ts
 * import { BreakpointTable } from "./_gdb_breakpoints.ts";
 * console.assert(typeof BreakpointTable.prototype.list === "function");
 * ```
 */
export class BreakpointTable {
  readonly #remote: GdbRemote;
  readonly #uri: string;
  readonly #architecture: () => Promise<string>;
  /** The user's breakpoints (`db ADDR`). */
  readonly #user = new Set<number>();
  /** Every address with a breakpoint in the stub: the user's and `dso`'s temporary ones. */
  readonly #inserted = new Set<number>();

  /**
   * Make it.
   *
   * @param remote The stub connection.
   * @param uri The URI, for errors.
   * @param architecture The target's architecture (`i386:x86-64`, `aarch64` ...), or "".
   */
  constructor(remote: GdbRemote, uri: string, architecture: () => Promise<string>) {
    this.#remote = remote;
    this.#uri = uri;
    this.#architecture = architecture;
  }

  /** Whether any breakpoint is in the stub. */
  get anyInserted(): boolean {
    return this.#inserted.size > 0;
  }

  /**
   * Whether the stub has a breakpoint at `address`.
   *
   * @param address The address.
   * @returns Whether one is inserted there.
   */
  isInserted(address: number): boolean {
    return this.#inserted.has(address);
  }

  /**
   * Whether the user set a breakpoint at `address`.
   *
   * @param address The address.
   * @returns Whether `db` set one there.
   */
  isUser(address: number): boolean {
    return this.#user.has(address);
  }

  /** The breakpoint kind of `Z0`: the size of the breakpoint instruction. */
  async #kind(): Promise<number> {
    const arch = await this.#architecture();
    return /^(aarch64|arm|riscv|powerpc|rs6000|mips|sparc|loongarch)/.test(arch) ? 4 : 1;
  }

  /**
   * Insert a breakpoint in the stub (`Z0`).
   *
   * @param address The address.
   * @throws {IoError} When the stub has no breakpoints or refuses this one.
   */
  async insert(address: number): Promise<void> {
    const reply = await this.#remote.requestText(
      `Z0,${address.toString(16)},${(await this.#kind()).toString(16)}`,
    );
    if (reply === "") {
      throw new IoError(this.#uri, `The stub of "${this.#uri}" has no breakpoints (Z0)`);
    }
    if (reply !== "OK") {
      throw new IoError(
        this.#uri,
        `Cannot set a breakpoint at ${hexValue(BigInt(address))}: the stub answered ${reply}`,
      );
    }
    this.#inserted.add(address);
  }

  /**
   * Take a breakpoint out of the stub (`z0`).
   *
   * @param address The address.
   */
  async remove(address: number): Promise<void> {
    this.#inserted.delete(address);
    await this.#remote.requestText(
      `z0,${address.toString(16)},${(await this.#kind()).toString(16)}`,
    );
  }

  /**
   * `db ADDR`: a user breakpoint, inserted unless it is already there.
   *
   * @param address The address.
   */
  async add(address: number): Promise<void> {
    if (!this.#user.has(address)) await this.insert(address);
    this.#user.add(address);
  }

  /**
   * `db-ADDR` or `db-*`: remove user breakpoints.
   *
   * @param arg An address, or `*` for all of them.
   * @param inStub Whether to take them out of the stub too (not once the process is gone).
   * @throws {IoError} When there is no breakpoint at the address.
   */
  async delete(arg: string, inStub: boolean): Promise<void> {
    const targets = arg === "*" ? [...this.#user] : [parseAddress(arg, this.#uri)];
    for (const address of targets) {
      if (!this.#user.delete(address)) {
        throw new IoError(this.#uri, `No breakpoint at ${hexValue(BigInt(address))}`);
      }
      if (inStub) await this.remove(address);
    }
  }

  /**
   * `db`: the user breakpoints, as radare2 lists them.
   *
   * @returns One line per breakpoint.
   */
  list(): string {
    const size = 1;
    return [...this.#user].sort((a, b) => a - b).map((a) =>
      `${hexValue(BigInt(a))} - ${hexValue(BigInt(a + size))} ${size} --x sw break enabled valid\n`
    ).join("");
  }
}
