/**
 * The flags of `rap serve`: one table of the limit flags (each with the option it sets,
 * the smallest value it can use, and its help), whose defaults are the server's own
 * ({@linkcode SERVER_DEFAULTS}, {@linkcode HTTP_DEFAULTS}), so the help shows what the
 * server really does and the parser falls back to it.
 *
 * @module
 */

import { HTTP_DEFAULTS } from "../http/options.ts";
import { SERVER_DEFAULTS } from "../server/options.ts";
import { AddressFilter } from "../net/address_filter.ts";
import { numberFlag, UsageError } from "./usage.ts";

/**
 * What a limit flag of `serve` sets: a server option, or one of the HTTP endpoint.
 *
 * @example
 * ```ts
 * import type { LimitKey } from "@rap/cli/commands";
 * const key: LimitKey = "maxConnections";
 * console.assert(key === "maxConnections");
 * ```
 */
export type LimitKey =
  | Exclude<keyof typeof SERVER_DEFAULTS, "port" | "extensionsMaxData">
  | "httpMaxConnections"
  | "httpMaxBody";

/**
 * One limit flag of `serve`.
 *
 * @example
 * ```ts
 * import { type LimitFlag, SERVE_LIMIT_FLAGS } from "@rap/cli/commands";
 * const first: LimitFlag = SERVE_LIMIT_FLAGS[0];
 * console.assert(first.name === "max-connections");
 * ```
 */
export interface LimitFlag {
  /** The flag, without `--`. */
  readonly name: string;
  /** The option it sets. */
  readonly key: LimitKey;
  /** What its value is, in the help: a count, milliseconds or bytes. */
  readonly value: "N" | "MS" | "SIZE";
  /** Its default. */
  readonly default: number;
  /** The smallest value it can use. */
  readonly min: number;
  /** What 0 means, when it means something special. */
  readonly zero?: string;
  /** What it does. */
  readonly help: string;
}

/**
 * The limit flags of `serve`, in the order of its help.
 *
 * @example
 * ```ts
 * import { SERVE_LIMIT_FLAGS } from "@rap/cli/commands";
 * console.assert(SERVE_LIMIT_FLAGS.some((f) => f.name === "max-connections" && f.default === 256));
 * ```
 */
export const SERVE_LIMIT_FLAGS: readonly LimitFlag[] = [
  {
    name: "max-connections",
    key: "maxConnections",
    value: "N",
    default: SERVER_DEFAULTS.maxConnections,
    min: 1,
    help: "most connections at once, counting the files sessions open over the network " +
      "(rap://, tcp:// ...); when full, one that has not completed a request yet makes room, " +
      "else the new one is refused",
  },
  {
    name: "max-per-address",
    key: "maxPerAddress",
    value: "N",
    default: SERVER_DEFAULTS.maxPerAddress,
    min: 1,
    help: "most connections in use from one client address (IPv6: one /64), counting the " +
      "files its sessions open over the network",
  },
  {
    name: "max-pending",
    key: "maxPending",
    value: "N",
    default: SERVER_DEFAULTS.maxPending,
    min: 1,
    help: "most connections that have not completed a first request yet (with " +
      "--token-file: not authenticated); when full, the oldest of the address with the most " +
      "is closed to make room",
  },
  {
    name: "first-request-timeout",
    key: "firstRequestTimeout",
    value: "MS",
    default: SERVER_DEFAULTS.firstRequestTimeout,
    min: 0,
    zero: "never",
    help: "close a connection whose first request (with --token-file: the token; with TLS: " +
      "the handshake too) is not complete this long after it connected",
  },
  {
    name: "max-open-files",
    key: "maxOpenFiles",
    value: "N",
    default: SERVER_DEFAULTS.maxOpenFiles,
    min: 1,
    help: "most files one client may have open",
  },
  {
    name: "max-session-memory",
    key: "maxSessionMemory",
    value: "SIZE",
    default: SERVER_DEFAULTS.maxSessionMemory,
    min: 0,
    help: "most RAM the files one client opens may hold (malloc://, gzip://, sparse:// ...; " +
      "r2 numbers like 256M)",
  },
  {
    name: "max-memory",
    key: "maxMemory",
    value: "SIZE",
    default: SERVER_DEFAULTS.maxMemory,
    min: 0,
    help: "most RAM the files of all clients (RAP and HTTP) may hold together; archives and " +
      "compressed files are checked against what is left before they are inflated",
  },
  {
    name: "idle-timeout",
    key: "idleTimeout",
    value: "MS",
    default: SERVER_DEFAULTS.idleTimeout,
    min: 0,
    zero: "never",
    help: "close connections idle this long",
  },
  {
    name: "packet-timeout",
    key: "packetTimeout",
    value: "MS",
    default: SERVER_DEFAULTS.packetTimeout,
    min: 0,
    zero: "no limit",
    help: "a started request must arrive whole within this; an HTTP request (head and body) " +
      "within this from the connection",
  },
  {
    name: "cmd-timeout",
    key: "commandTimeout",
    value: "MS",
    default: SERVER_DEFAULTS.commandTimeout,
    min: 0,
    zero: "no limit",
    help: "answer a command still running after this with an error and stop it (HTTP: 503)",
  },
  {
    name: "http-max-connections",
    key: "httpMaxConnections",
    value: "N",
    default: HTTP_DEFAULTS.maxConnections,
    min: 1,
    help: "most HTTP connections at once; more get 503",
  },
  {
    name: "http-max-body",
    key: "httpMaxBody",
    value: "SIZE",
    default: HTTP_DEFAULTS.maxBodyBytes,
    min: 0,
    help: `largest POST /cmd body (larger: 413, not read). Request heads are cut at ${
      HTTP_DEFAULTS.maxHeaderBytes / 1024
    }K (431), replies at 4M, kept-alive connections close after ${
      HTTP_DEFAULTS.keepAliveTimeout / 1000
    } s idle`,
  },
  {
    name: "backlog",
    key: "backlog",
    value: "N",
    default: SERVER_DEFAULTS.backlog,
    min: 0,
    help: "kernel queue of connections not yet accepted",
  },
  {
    name: "shutdown-timeout",
    key: "shutdownTimeout",
    value: "MS",
    default: SERVER_DEFAULTS.shutdownTimeout,
    min: 0,
    help: "on SIGINT/SIGTERM, time to answer requests already received",
  },
];

/** A byte count as radare2 writes sizes when it is round (`1G`, `256M`, `4K`). */
function size(bytes: number): string {
  for (const [unit, scale] of [["G", 2 ** 30], ["M", 2 ** 20], ["K", 2 ** 10]] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

/** Wrap `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * The `Limits:` part of `serve --help`, from {@linkcode SERVE_LIMIT_FLAGS}.
 *
 * @param flags The flags to show (default all of `serve`'s).
 * @returns The lines, each indented two spaces.
 *
 * @example
 * ```ts
 * import { limitsHelp } from "@rap/cli/commands";
 * console.assert(limitsHelp().includes("--max-memory SIZE"));
 * ```
 */
export function limitsHelp(flags: readonly LimitFlag[] = SERVE_LIMIT_FLAGS): string {
  const column = 24;
  const out: string[] = [];
  for (const flag of flags) {
    const shown = flag.value === "SIZE" ? size(flag.default) : String(flag.default);
    const text = `${flag.help} (default ${shown}${flag.zero ? `; 0: ${flag.zero}` : ""})`;
    const head = `  --${flag.name} ${flag.value}`;
    const lines = wrap(text, 92 - column);
    if (head.length + 1 < column) {
      out.push(head.padEnd(column) + lines.shift());
    } else {
      out.push(head);
    }
    for (const line of lines) out.push(" ".repeat(column) + line);
  }
  return out.join("\n");
}

/**
 * The limits `serve` runs with: each flag's value, or its default.
 *
 * @param values The parsed flags (strings), by flag name.
 * @returns The limits, by option.
 * @throws {UsageError} For a value a flag cannot use.
 *
 * @example
 * ```ts
 * import { parseLimits } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const limits = parseLimits({ "max-memory": "512M" });
 * assert.equal(limits.maxMemory, 512 * 2 ** 20);
 * assert.equal(limits.maxConnections, 256);
 * ```
 */
export function parseLimits(
  values: Readonly<Record<string, unknown>>,
): Record<LimitKey, number> {
  const limits = {} as Record<LimitKey, number>;
  for (const flag of SERVE_LIMIT_FLAGS) {
    const given = values[flag.name];
    limits[flag.key] = numberFlag(
      `--${flag.name}`,
      typeof given === "string" ? given : undefined,
      flag.default,
      flag.min,
      flag.value,
    );
  }
  return limits;
}

/**
 * The `--allow-from` filter of `serve` and `proxy` (its values joined), or `undefined` when
 * the flag is not given.
 *
 * @param values The flag's values.
 * @returns The filter.
 * @throws {UsageError} For a value that is not an address or CIDR.
 *
 * @example
 * ```ts
 * import { allowFromFlag } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.ok(allowFromFlag(["127.0.0.0/8"])!.allows("127.0.0.1"));
 * assert.equal(allowFromFlag(undefined), undefined);
 * assert.throws(() => allowFromFlag(["nope"]), /--allow-from/);
 * ```
 */
export function allowFromFlag(values: readonly string[] | undefined): AddressFilter | undefined {
  if (values === undefined) return undefined;
  try {
    return AddressFilter.parse(values.join(","));
  } catch (error) {
    throw new UsageError(`--allow-from: ${(error as Error).message}`);
  }
}
