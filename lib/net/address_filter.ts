/**
 * Address filters for `--allow-from CIDR,...`: which client addresses a server accepts.
 *
 * @module
 */

/** One parsed CIDR block. */
interface Block {
  v6: boolean;
  base: bigint;
  bits: number;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const left = halves[0] === "" ? [] : halves[0].split(":");
  const right = halves.length === 2 ? (halves[1] === "" ? [] : halves[1].split(":")) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/**
 * An IP address as (IPv6?, value), with IPv4-mapped IPv6 addresses seen as IPv4. Brackets
 * and a zone (`%eth0`) are ignored.
 *
 * @param text The address (`127.0.0.1`, `::1`, `[::ffff:10.0.0.1]` ...).
 * @returns The family and the value, or `undefined` when `text` is not an IP address.
 *
 * @example
 * ```ts
 * import { parseIpAddress } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseIpAddress("127.0.0.1"), { v6: false, value: 0x7f000001n });
 * assert.deepEqual(parseIpAddress("[::ffff:127.0.0.1]"), { v6: false, value: 0x7f000001n });
 * assert.deepEqual(parseIpAddress("::1"), { v6: true, value: 1n });
 * assert.equal(parseIpAddress("localhost"), undefined);
 * ```
 */
export function parseIpAddress(text: string): { v6: boolean; value: bigint } | undefined {
  const bare = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return { v6: false, value: v4 };
  const v6 = parseIPv6(bare);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { v6: false, value: v6 & 0xffffffffn };
  return { v6: true, value: v6 };
}

/**
 * A set of CIDR blocks that client addresses are checked against.
 *
 * @example
 * ```ts
 * import { AddressFilter } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const filter = AddressFilter.parse("127.0.0.0/8,10.1.2.3,::1");
 * assert.ok(filter.allows("127.0.0.1"));
 * assert.ok(filter.allows("::ffff:10.1.2.3"));
 * assert.ok(filter.allows("::1"));
 * assert.ok(!filter.allows("192.168.1.1"));
 * assert.equal(String(filter), "127.0.0.0/8,10.1.2.3/32,::1/128");
 * ```
 */
export class AddressFilter {
  readonly #blocks: Block[];
  readonly #text: string;

  private constructor(blocks: Block[], text: string) {
    this.#blocks = blocks;
    this.#text = text;
  }

  /**
   * Parse a comma-separated list of addresses and CIDR blocks (IPv4 and IPv6).
   *
   * @param list E.g. `"127.0.0.1/32,10.0.0.0/8,::1"`.
   * @returns The filter.
   * @throws {SyntaxError} Naming the entry that is not an address or CIDR block.
   */
  static parse(list: string): AddressFilter {
    const blocks: Block[] = [];
    const shown: string[] = [];
    for (const raw of list.split(",")) {
      const entry = raw.trim();
      if (entry === "") continue;
      const [addr, prefix, extra] = entry.split("/");
      const parsed = parseIpAddress(addr);
      const max = parsed?.v6 ? 128 : 32;
      const bits = prefix === undefined ? max : Number(prefix);
      if (
        !parsed || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > max ||
        (prefix !== undefined && !/^\d+$/.test(prefix))
      ) {
        throw new SyntaxError(`Invalid address or CIDR block "${entry}"`);
      }
      const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(max - bits);
      blocks.push({ v6: parsed.v6, base: parsed.value & mask, bits });
      shown.push(`${addr.replace(/^\[|\]$/g, "")}/${bits}`);
    }
    if (blocks.length === 0) throw new SyntaxError("Empty address list");
    return new AddressFilter(blocks, shown.join(","));
  }

  /**
   * Whether `address` is inside one of the blocks.
   *
   * @param address An IPv4 or IPv6 address (as in `Deno.NetAddr.hostname`).
   * @returns True when allowed.
   */
  allows(address: string): boolean {
    const parsed = parseIpAddress(address);
    if (!parsed) return false;
    const max = parsed.v6 ? 128 : 32;
    return this.#blocks.some((b) => {
      if (b.v6 !== parsed.v6) return false;
      const mask = b.bits === 0 ? 0n : ((1n << BigInt(b.bits)) - 1n) << BigInt(max - b.bits);
      return (parsed.value & mask) === b.base;
    });
  }

  /**
   * The blocks as text.
   *
   * @returns The blocks, comma-separated, as `addr/bits`.
   */
  toString(): string {
    return this.#text;
  }
}
