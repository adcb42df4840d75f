/**
 * The options of a `RapServer`, their defaults ({@linkcode SERVER_DEFAULTS}, the
 * one table the CLI also shows in its help and falls back to), and their resolution: every
 * option is checked and given its value once, when the server starts.
 *
 * @module
 */

import { EXT_MAX_DATA, EXT_MAX_DATA_LIMIT, RAP_PACKET_MAX } from "../protocol/constants.ts";
import { DEFAULT_MAX_MEMORY, MemoryBudget } from "../io/memory_budget.ts";
import type { IoRegistry } from "../io/registry.ts";
import type { IoDescriptor } from "../io/types.ts";
import type { AddressFilter } from "../net/address_filter.ts";
import { SLOT_DEFAULTS } from "../net/connection_slots.ts";
import type { TlsCertificate } from "../net/tls.ts";
import type { CommandHandler } from "./command.ts";

/**
 * Options of {@linkcode RapServer.listen}.
 *
 * @example
 * ```ts
 * import type { RapServerOptions } from "@rap/cli";
 * const options: RapServerOptions = { hostname: "127.0.0.1", port: 0, readOnly: true };
 * console.assert(options.port === 0);
 * ```
 */
export interface RapServerOptions {
  /** Address to bind (default `127.0.0.1`; radare2 binds every interface). */
  hostname?: string;
  /** Port (default 9999; 0 picks a free one). */
  port?: number;
  /** Refuse writes and open everything read-only. */
  readOnly?: boolean;
  /**
   * A URI for sessions that read, seek or send CMD before any OPEN. It is opened once and
   * every session gets a view of it (all clients see the same bytes, as with radare2).
   */
  defaultUri?: string;
  /**
   * An already open descriptor to use instead of opening `defaultUri` (its owner closes it
   * after the server has stopped; sessions only get views of it).
   */
  defaultDescriptor?: IoDescriptor;
  /**
   * Most connections at once, counting the files sessions open over the network
   * (`rap://`, `tcp://` ...); when full, a connection that has not completed a request yet
   * is closed to make room, else the new one is refused (default 256).
   */
  maxConnections?: number;
  /**
   * Most connections in use from one client address (an IPv6 /64), counting the files its
   * sessions open over the network (default 64). Connections that have not completed a
   * request yet count against `maxPending` instead.
   */
  maxPerAddress?: number;
  /**
   * Most connections that have not completed a first request (with a token: not
   * authenticated) yet; when full, the oldest one of the address with the most is closed
   * to make room for a new one (default 64).
   */
  maxPending?: number;
  /**
   * Milliseconds from accept to the first complete request (with a token: the probe
   * carrying it; with TLS, the handshake included); the connection is closed otherwise
   * (default 10000; 0 = no limit).
   */
  firstRequestTimeout?: number;
  /** Close a connection idle for this many milliseconds (default 0 = never). */
  idleTimeout?: number;
  /** Most files one session may have open (default 64). */
  maxOpenFiles?: number;
  /** Most RAM the files one session opens may hold, in bytes (default 1 GiB). */
  maxSessionMemory?: number;
  /**
   * Most RAM the files of all sessions together may hold, in bytes, or a
   * {@linkcode MemoryBudget} shared with other servers (e.g. the HTTP endpoint's sessions)
   * (default {@linkcode DEFAULT_MAX_MEMORY}, 2 GiB; `--max-memory`). `maxSessionMemory`
   * applies to each session on top of it.
   */
  maxMemory?: number | MemoryBudget;
  /** The registry that opens URIs (default: one of the installed plugin table). */
  registry?: IoRegistry;
  /** Runs CMD packets (default {@linkcode basicCommandHandler}). */
  commandHandler?: CommandHandler;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
  /**
   * The rap extensions offered to clients that probe for them (`docs/protocol.md`): on by
   * default with payloads up to 8 MiB. `false` answers the probe as radare2 does (an empty
   * string), so every client stays on plain RAP.
   */
  extensions?: boolean | RapServerExtensionOptions;
  /** Serve `raps://`: TLS with this certificate chain and key (see `lib/net/tls.ts`). */
  tls?: TlsCertificate;
  /**
   * Require this token: a client's first request must be an extension probe carrying
   * `token=...` (`docs/protocol.md`, Authentication); anything else closes the connection.
   * Plain radare2 clients cannot authenticate.
   */
  token?: string;
  /** Accept only clients whose address is in this filter (`--allow-from`). */
  allowFrom?: AddressFilter;
  /**
   * Milliseconds a started request (its first byte received) has to arrive whole; the
   * connection is closed otherwise (default 10000; 0 = no limit). With TLS or a token, the
   * handshake and the first request must also arrive within it from the connection.
   * A large extended WRITE gets it for each 1 MiB piece.
   */
  packetTimeout?: number;
  /**
   * Milliseconds one CMD may run before it is answered with an error line (default 5000;
   * 0 = no limit). radare2 clients give up after about 1 s anyway. The command is stopped
   * through `CommandContext.signal` (the shell's commands check it as they go), and its
   * output is dropped.
   */
  commandTimeout?: number;
  /** Length of the kernel's queue of connections not yet accepted (default 511, Deno's). */
  backlog?: number;
  /**
   * On {@linkcode RapServer.close}, milliseconds to finish the replies to requests already
   * received before every connection is closed regardless (default 3000).
   */
  shutdownTimeout?: number;
  /** Sync each write to disk before it is acknowledged (files that support it). */
  fsync?: boolean;
}

/**
 * Limits of the extensions a `RapServer` offers.
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * await using server = RapServer.listen({ port: 0, log: () => {}, extensions: { maxData: 1 << 20 } });
 * console.assert(server.addr.port > 0);
 * ```
 */
export interface RapServerExtensionOptions {
  /** Largest extended READ/WRITE payload (default 8 MiB, at least 4096, at most 256 MiB). */
  maxData?: number;
}

/**
 * The defaults of the numeric options of {@linkcode RapServerOptions}: what a server uses
 * when an option is not given, and what `rap serve --help` shows.
 *
 * @example
 * ```ts
 * import { SERVER_DEFAULTS } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(SERVER_DEFAULTS.port, 9999);
 * assert.equal(SERVER_DEFAULTS.maxConnections, 256);
 * ```
 */
export const SERVER_DEFAULTS = {
  port: 9999,
  maxConnections: SLOT_DEFAULTS.maxConnections,
  maxPerAddress: SLOT_DEFAULTS.maxPerAddress,
  maxPending: SLOT_DEFAULTS.maxPending,
  firstRequestTimeout: SLOT_DEFAULTS.pendingTimeout,
  idleTimeout: 0,
  maxOpenFiles: 64,
  maxSessionMemory: 2 ** 30,
  maxMemory: DEFAULT_MAX_MEMORY,
  packetTimeout: 10_000,
  commandTimeout: 5000,
  backlog: 511,
  shutdownTimeout: 3000,
  extensionsMaxData: EXT_MAX_DATA,
} as const;

/**
 * {@linkcode RapServerOptions} with every value decided: what a running server uses.
 *
 * @example
 * ```ts
 * import { resolveServerOptions, type ResolvedServerOptions } from "@rap/cli";
 * const resolved: ResolvedServerOptions = resolveServerOptions({ port: 0 });
 * console.assert(resolved.maxOpenFiles === 64);
 * ```
 */
export interface ResolvedServerOptions {
  /** Address to bind. */
  readonly hostname: string;
  /** Port. */
  readonly port: number;
  /** Whether everything is read-only. */
  readonly readOnly: boolean;
  /** The default URI, if any. */
  readonly defaultUri: string | undefined;
  /** An already open default descriptor, if any (not owned by the server). */
  readonly defaultDescriptor: IoDescriptor | undefined;
  /** Connection limits. */
  readonly maxConnections: number;
  /** Connections in use per address. */
  readonly maxPerAddress: number;
  /** Connections not yet proven. */
  readonly maxPending: number;
  /** Milliseconds to the first complete request (0: none). */
  readonly firstRequestTimeout: number;
  /** Milliseconds idle before a connection is closed (0: never). */
  readonly idleTimeout: number;
  /** Files per session. */
  readonly maxOpenFiles: number;
  /** RAM per session. */
  readonly maxSessionMemory: number;
  /** The budget every session draws from. */
  readonly memoryBudget: MemoryBudget;
  /** The registry sessions open through. */
  readonly registry: IoRegistry | undefined;
  /** The CMD handler (undefined: the basic one). */
  readonly commandHandler: CommandHandler | undefined;
  /** Where log lines go. */
  readonly log: (line: string) => void;
  /** The largest extended payload offered, or `undefined` when the extensions are off. */
  readonly maxExtData: number | undefined;
  /** TLS, if any. */
  readonly tls: TlsCertificate | undefined;
  /** The token, if any. */
  readonly token: string | undefined;
  /** The address filter, if any. */
  readonly allowFrom: AddressFilter | undefined;
  /** Milliseconds a started request has to arrive whole (0: no limit). */
  readonly packetTimeout: number;
  /** Milliseconds a CMD may run (0: no limit). */
  readonly commandTimeout: number;
  /** Kernel queue length. */
  readonly backlog: number | undefined;
  /** Milliseconds to finish replies at shutdown. */
  readonly shutdownTimeout: number;
  /** Sync writes before acknowledging them. */
  readonly fsync: boolean;
}

/** A count or a duration that must be a whole number of at least `min`. */
function whole(name: keyof typeof SERVER_DEFAULTS, value: number | undefined, min: number) {
  const resolved = value ?? SERVER_DEFAULTS[name];
  if (!Number.isSafeInteger(resolved) || resolved < min) {
    throw new RangeError(`Option ${name} must be a whole number of at least ${min}, got ${value}`);
  }
  return resolved;
}

/**
 * Check the options of a server and give every one its value (the default of
 * {@linkcode SERVER_DEFAULTS} when not given).
 *
 * @param options The options as given.
 * @returns The resolved options.
 * @throws {RangeError} For a value the option cannot use (e.g. `maxOpenFiles: 0`).
 *
 * @example
 * ```ts
 * import { resolveServerOptions } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolveServerOptions({}).port, 9999);
 * assert.equal(resolveServerOptions({ extensions: false }).maxExtData, undefined);
 * assert.throws(() => resolveServerOptions({ maxOpenFiles: 0 }), /maxOpenFiles/);
 * ```
 */
export function resolveServerOptions(options: RapServerOptions): ResolvedServerOptions {
  const ext = options.extensions ?? true;
  const maxExtData = ext === false ? undefined : Math.min(
    EXT_MAX_DATA_LIMIT,
    Math.max(RAP_PACKET_MAX, (ext === true ? undefined : ext.maxData) ?? EXT_MAX_DATA),
  );
  return {
    hostname: options.hostname ?? "127.0.0.1",
    port: whole("port", options.port, 0),
    readOnly: options.readOnly ?? false,
    defaultUri: options.defaultUri,
    defaultDescriptor: options.defaultDescriptor,
    maxConnections: whole("maxConnections", options.maxConnections, 1),
    maxPerAddress: whole("maxPerAddress", options.maxPerAddress, 1),
    maxPending: whole("maxPending", options.maxPending, 1),
    firstRequestTimeout: whole("firstRequestTimeout", options.firstRequestTimeout, 0),
    idleTimeout: whole("idleTimeout", options.idleTimeout, 0),
    maxOpenFiles: whole("maxOpenFiles", options.maxOpenFiles, 1),
    maxSessionMemory: whole("maxSessionMemory", options.maxSessionMemory, 0),
    memoryBudget: options.maxMemory instanceof MemoryBudget
      ? options.maxMemory
      : new MemoryBudget(whole("maxMemory", options.maxMemory, 0)),
    registry: options.registry,
    commandHandler: options.commandHandler,
    log: options.log ?? ((line) => console.error(line)),
    maxExtData,
    tls: options.tls,
    token: options.token,
    allowFrom: options.allowFrom,
    packetTimeout: whole("packetTimeout", options.packetTimeout, 0),
    commandTimeout: whole("commandTimeout", options.commandTimeout, 0),
    backlog: options.backlog === undefined ? undefined : whole("backlog", options.backlog, 0),
    shutdownTimeout: whole("shutdownTimeout", options.shutdownTimeout, 0),
    fsync: options.fsync ?? false,
  };
}
