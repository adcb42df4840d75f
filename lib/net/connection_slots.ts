/**
 * The connection slots of a server, shared so that no one can squat them: a connection is
 * *pending* from accept until it proves itself (its first complete request; with a token,
 * the probe carrying it), then *in use*. Pending connections live in a smaller pool whose
 * oldest member (from the address with the most of them) is closed to make room, so
 * connections that never send anything cannot keep working clients out; one address (an
 * IPv6 /64) holds at most `maxPerAddress` connections in use, counting the connections its
 * sessions opened outward (`rap://`, `tcp://` ...), which count against `maxConnections`
 * too.
 *
 * @module
 */

import { parseIpAddress } from "./address_filter.ts";

/**
 * The limits of {@linkcode ConnectionSlots}.
 *
 * @example
 * ```ts
 * import type { ConnectionSlotLimits } from "@rap/cli";
 * const limits: ConnectionSlotLimits = { maxPerAddress: 64, maxPending: 64, pendingTimeout: 10_000 };
 * console.assert(limits.maxPending === 64);
 * ```
 */
export interface ConnectionSlotLimits {
  /** Most connections at once: pending, in use and outward (default 256). */
  maxConnections?: number;
  /** Most connections in use (and outward) for one address (default 64). */
  maxPerAddress?: number;
  /** Most pending connections (default 64, at most `maxConnections`). */
  maxPending?: number;
  /**
   * Milliseconds a connection may stay pending; then it is closed (default 10000; 0 = no
   * limit).
   */
  pendingTimeout?: number;
}

/** The default limits. */
export const SLOT_DEFAULTS: Readonly<Required<ConnectionSlotLimits>> = {
  maxConnections: 256,
  maxPerAddress: 64,
  maxPending: 64,
  pendingTimeout: 10_000,
};

/** What one address holds. */
interface AddressEntry {
  pending: number;
  inUse: number;
  outbound: number;
}

/**
 * The key connections are counted under: the IPv4 address, or the /64 prefix of an IPv6
 * address (one host usually has a whole /64); anything else as it is.
 *
 * @param hostname The client's address.
 * @returns The key, which reads as the address or prefix.
 *
 * @example
 * ```ts
 * import { addressKey } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(addressKey("::ffff:10.0.0.1"), "10.0.0.1");
 * assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
 * assert.equal(addressKey("::1"), "::1");
 * ```
 */
export function addressKey(hostname: string): string {
  const ip = parseIpAddress(hostname);
  if (ip === undefined) return hostname;
  if (!ip.v6) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join(".");
  }
  if (ip.value === 1n) return "::1";
  const groups = [112n, 96n, 80n, 64n].map((shift) => ((ip.value >> shift) & 0xffffn).toString(16));
  return `${groups.join(":")}::/64`;
}

/** An address for messages: as the client has it, with the key when they differ. */
function label(key: string, hostname: string): string {
  return key === hostname ? key : `${hostname} (${key})`;
}

/**
 * One connection's slot, from {@linkcode ConnectionSlots.admit}: pending until
 * {@linkcode ConnectionSlot.promote}, given back by {@linkcode ConnectionSlot.release}.
 *
 * @example
 * ```ts
 * import { ConnectionSlots } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const slots = new ConnectionSlots();
 * const slot = slots.admit("127.0.0.1", () => {});
 * assert.ok(typeof slot !== "string" && slot.pending);
 * assert.equal(slot.promote(), undefined);
 * assert.ok(!slot.pending);
 * slot.release();
 * assert.equal(slots.size, 0);
 * ```
 */
export interface ConnectionSlot {
  /** The key it counts under (see {@linkcode addressKey}). */
  readonly key: string;
  /** Whether the connection has not proven itself yet. */
  readonly pending: boolean;
  /**
   * Bytes of its first request have arrived: while pending, it is closed to make room only
   * after every pending connection that has sent nothing.
   */
  started(): void;
  /**
   * The connection proved itself: move it to the slots in use.
   *
   * @returns Why it may not stay (its address has too many in use), or `undefined`.
   */
  promote(): string | undefined;
  /** Give the slot back (the connection closed); later calls do nothing. */
  release(): void;
}

/** A pending slot's state inside the pool. */
interface Pending {
  slot: ConnectionSlot;
  entry: AddressEntry;
  evict: (reason: string) => void;
  /** Bytes have arrived. */
  started: boolean;
  /** Closes it when it stays pending too long. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The connection slots of one server (see the module doc).
 *
 * @example Connections that never send anything cannot keep a working client out
 * ```ts
 * import { ConnectionSlots } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * // (pendingTimeout 0: no deadline for the pending ones in this example)
 * const slots = new ConnectionSlots({ maxConnections: 3, maxPending: 2, pendingTimeout: 0 });
 * const closed: string[] = [];
 * for (const name of ["a", "b"]) slots.admit("10.0.0.9", () => closed.push(name));
 * const client = slots.admit("10.0.0.1", () => {}); // the oldest idle one makes room
 * assert.deepEqual(closed, ["a"]);
 * assert.ok(typeof client !== "string" && client.promote() === undefined);
 * assert.equal(slots.pending, 1);
 * ```
 */
export class ConnectionSlots {
  /** The limits in force. */
  readonly limits: Readonly<Required<ConnectionSlotLimits>>;
  /** Pending slots, oldest first. */
  readonly #pending = new Map<ConnectionSlot, Pending>();
  readonly #addresses = new Map<string, AddressEntry>();
  #inUse = 0;
  #outbound = 0;

  /**
   * Create the pool.
   *
   * @param limits See {@linkcode ConnectionSlotLimits}; missing ones take {@linkcode SLOT_DEFAULTS}.
   */
  constructor(limits: ConnectionSlotLimits = {}) {
    const maxConnections = limits.maxConnections ?? SLOT_DEFAULTS.maxConnections;
    this.limits = {
      maxConnections,
      maxPerAddress: limits.maxPerAddress ?? SLOT_DEFAULTS.maxPerAddress,
      maxPending: Math.min(maxConnections, limits.maxPending ?? SLOT_DEFAULTS.maxPending),
      pendingTimeout: limits.pendingTimeout ?? SLOT_DEFAULTS.pendingTimeout,
    };
  }

  /** Slots taken: pending, in use and outward. */
  get size(): number {
    return this.#pending.size + this.#inUse + this.#outbound;
  }

  /** Connections that have not proven themselves yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Connections the sessions opened outward. */
  get outbound(): number {
    return this.#outbound;
  }

  #entry(key: string): AddressEntry {
    let entry = this.#addresses.get(key);
    if (entry === undefined) {
      entry = { pending: 0, inUse: 0, outbound: 0 };
      this.#addresses.set(key, entry);
    }
    return entry;
  }

  #drop(key: string, entry: AddressEntry): void {
    if (entry.pending + entry.inUse + entry.outbound === 0) this.#addresses.delete(key);
  }

  #perAddressRefusal(key: string, hostname: string, what: string): string | undefined {
    const max = this.limits.maxPerAddress;
    const entry = this.#addresses.get(key);
    if (entry === undefined || entry.inUse + entry.outbound < max) return undefined;
    return `${max} connections from ${label(key, hostname)} already in use${what} ` +
      `(--max-per-address)`;
  }

  /**
   * Close pending connections until a new slot fits. The victim is one that has sent
   * nothing if there is one (else one whose first request is under way), from the address
   * with the most pending connections, the oldest of them.
   *
   * @returns Whether there is room now.
   */
  #makeRoom(pendingToo: boolean): boolean {
    const { maxConnections, maxPending } = this.limits;
    for (;;) {
      const full = this.size >= maxConnections;
      if (!full && !(pendingToo && this.#pending.size >= maxPending)) return true;
      let victim: Pending | undefined;
      for (const p of this.#pending.values()) {
        if (
          victim === undefined || (victim.started && !p.started) ||
          (victim.started === p.started && p.entry.pending > victim.entry.pending)
        ) victim = p;
      }
      if (victim === undefined) return false;
      victim.slot.release();
      victim.evict(
        full
          ? `closed to make room: ${maxConnections} connections open and this one had not ` +
            `completed a request yet (--max-connections)`
          : `closed to make room: the oldest of ${maxPending} connections that had not ` +
            `completed a request yet (--max-pending)`,
      );
    }
  }

  /**
   * Take a slot for a new connection, closing the oldest pending connection (of the
   * address with the most) when the pending pool or the server is full.
   *
   * @param hostname The client's address.
   * @param evict Closes this connection if it is still pending when the pool needs room or
   *   `pendingTimeout` has passed; gets the reason for the log.
   * @returns The slot, or why the connection is refused (for the log).
   */
  admit(hostname: string, evict: (reason: string) => void): ConnectionSlot | string {
    const key = addressKey(hostname);
    const refusal = this.#perAddressRefusal(key, hostname, "") ??
      (this.#makeRoom(true)
        ? undefined
        : `${this.limits.maxConnections} connections already open (--max-connections)`);
    if (refusal !== undefined) return refusal;
    const entry = this.#entry(key);
    let state: "pending" | "in use" | "released" = "pending";
    const slot: ConnectionSlot = {
      key,
      get pending() {
        return state === "pending";
      },
      started: () => {
        const pending = this.#pending.get(slot);
        if (pending !== undefined) pending.started = true;
      },
      promote: () => {
        if (state !== "pending") return undefined;
        const refusal = this.#perAddressRefusal(key, hostname, "");
        if (refusal !== undefined) return refusal;
        clearTimeout(this.#pending.get(slot)!.timer);
        this.#pending.delete(slot);
        entry.pending--;
        entry.inUse++;
        this.#inUse++;
        state = "in use";
        return undefined;
      },
      release: () => {
        if (state === "pending") {
          clearTimeout(this.#pending.get(slot)!.timer);
          this.#pending.delete(slot);
          entry.pending--;
        } else if (state === "in use") {
          entry.inUse--;
          this.#inUse--;
        }
        state = "released";
        this.#drop(key, entry);
      },
    };
    const timeout = this.limits.pendingTimeout;
    const timer = timeout > 0
      ? setTimeout(() => {
        slot.release();
        evict(
          `closed: no complete request within ${timeout} ms of connecting ` +
            `(--first-request-timeout)`,
        );
      }, timeout)
      : undefined;
    this.#pending.set(slot, { slot, entry, evict, started: false, timer });
    entry.pending++;
    return slot;
  }

  /**
   * Count a connection a session of `hostname` opens outward (a `rap://` file ...),
   * closing a pending connection to make room if the server is full.
   *
   * @param hostname The address of the client whose session opens it.
   * @returns The function that gives the slot back (once).
   * @throws {RangeError} When the server or the address has no slot left.
   */
  reserveOutbound(hostname: string): () => void {
    const key = addressKey(hostname);
    const what = ", counting the files its sessions opened over the network";
    const refusal = this.#perAddressRefusal(key, hostname, what) ??
      (this.#makeRoom(false)
        ? undefined
        : `${this.limits.maxConnections} connections open, counting the files sessions ` +
          `opened over the network (--max-connections)`);
    if (refusal !== undefined) throw new RangeError(refusal);
    const entry = this.#entry(key);
    entry.outbound++;
    this.#outbound++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.outbound--;
      this.#outbound--;
      this.#drop(key, entry);
    };
  }
}
