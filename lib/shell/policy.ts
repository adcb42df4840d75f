/**
 * The command policy: which shell commands a remote peer (a RAP client's CMD, an HTTP
 * request, a server's reverse CMD) may run. Commands that only read and write the
 * session's own files are always allowed; the rest need a named capability.
 *
 * | Capability | Commands |
 * |---|---|
 * | `open` | `o URI`, `o+ URI`, `oo`, `oo+` (open other URIs, reopen writable) |
 * | `fs` | `wtf FILE`, `> file`, `>> file` (write local files) |
 * | `remote` | the `=` family and `!=!` (connections, servers, HTTP) |
 * | `system` | `!cmd` (host shell), `:cmd` / `=!cmd` (the IO plugin's commands) |
 * | `all` | every capability |
 *
 * @module
 */

/**
 * A named capability a command may need.
 *
 * @example
 * ```ts
 * import type { CommandCapability } from "@rap/cli/shell";
 * const cap: CommandCapability = "fs";
 * console.assert(cap === "fs");
 * ```
 */
export type CommandCapability = "open" | "fs" | "remote" | "system";

/**
 * Every capability, in the order they are listed in help.
 *
 * @example
 * ```ts
 * import { COMMAND_CAPABILITIES } from "@rap/cli/shell";
 * console.assert(COMMAND_CAPABILITIES.includes("remote"));
 * ```
 */
export const COMMAND_CAPABILITIES: readonly CommandCapability[] = Object.freeze(
  [
    "open",
    "fs",
    "remote",
    "system",
  ] as const,
);

/**
 * What commands may do. Immutable.
 *
 * @example
 * ```ts
 * import { CommandPolicy } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const policy = new CommandPolicy(["fs"]);
 * assert.ok(policy.allows("fs"));
 * assert.ok(!policy.allows("system"));
 * assert.equal(String(policy), "fs");
 * ```
 */
export class CommandPolicy {
  /** No capability: only the session's own files (the default for remote peers). */
  static readonly RESTRICTED: CommandPolicy = new CommandPolicy([]);
  /** Every capability (the local shell). */
  static readonly ALL: CommandPolicy = new CommandPolicy(COMMAND_CAPABILITIES);

  readonly #caps: ReadonlySet<CommandCapability>;

  /**
   * Create it.
   *
   * @param capabilities The capabilities granted.
   */
  constructor(capabilities: Iterable<CommandCapability>) {
    this.#caps = new Set(capabilities);
  }

  /**
   * Whether a capability is granted.
   *
   * @param capability The capability.
   * @returns `true` if granted.
   */
  allows(capability: CommandCapability): boolean {
    return this.#caps.has(capability);
  }

  /** The granted capabilities. */
  get capabilities(): CommandCapability[] {
    return COMMAND_CAPABILITIES.filter((c) => this.#caps.has(c));
  }

  /**
   * A policy with more capabilities.
   *
   * @param capabilities The capabilities to add.
   * @returns The new policy.
   */
  with(...capabilities: CommandCapability[]): CommandPolicy {
    return new CommandPolicy([...this.#caps, ...capabilities]);
  }

  /**

   * The capabilities, comma-separated (`none` when empty).

   *

   * @returns The capabilities, comma-separated (`none` when empty).

   */
  toString(): string {
    const caps = this.capabilities;
    return caps.length ? caps.join(",") : "none";
  }
}

/**
 * Parse `--allow-cmd` values into a policy: comma-separated capability names, `all`, or
 * `none`; several values add up. No value at all gives the restricted default.
 *
 * @param values The flag values (e.g. `["fs,open"]`, `["all"]`).
 * @returns The policy.
 * @throws {SyntaxError} On an unknown capability name (the message lists the valid ones).
 *
 * @example
 * ```ts
 * import { parseCommandPolicy } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(String(parseCommandPolicy(["fs,open"])), "open,fs");
 * assert.equal(String(parseCommandPolicy(["all"])), "open,fs,remote,system");
 * assert.equal(String(parseCommandPolicy([])), "none");
 * assert.throws(() => parseCommandPolicy(["net"]), SyntaxError);
 * ```
 */
export function parseCommandPolicy(values: string | readonly string[]): CommandPolicy {
  const caps = new Set<CommandCapability>();
  for (const value of typeof values === "string" ? [values] : values) {
    for (const raw of value.split(",")) {
      const name = raw.trim().toLowerCase();
      if (name === "" || name === "none") continue;
      if (name === "all") {
        COMMAND_CAPABILITIES.forEach((c) => caps.add(c));
      } else if ((COMMAND_CAPABILITIES as readonly string[]).includes(name)) {
        caps.add(name as CommandCapability);
      } else {
        throw new SyntaxError(
          `Unknown command capability "${raw.trim()}" (expected ${
            COMMAND_CAPABILITIES.join(", ")
          }, all or none)`,
        );
      }
    }
  }
  return new CommandPolicy(caps);
}

/**
 * The error a refused command reports, as one line.
 *
 * @example
 * ```ts
 * import { CommandRefusedError } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const err = new CommandRefusedError("wtf", "fs");
 * assert.match(err.message, /--allow-cmd=fs/);
 * ```
 */
export class CommandRefusedError extends Error {
  /** The command that was refused. */
  readonly command: string;
  /** The capability it needs. */
  readonly capability: CommandCapability;

  /**
   * Create it.
   *
   * @param command The command name (e.g. `wtf`).
   * @param capability The capability it needs.
   */
  constructor(command: string, capability: CommandCapability) {
    super(
      `Command "${command}" is not allowed here: it needs the "${capability}" capability ` +
        `(the server can grant it with --allow-cmd=${capability})`,
    );
    this.name = "CommandRefusedError";
    this.command = command;
    this.capability = capability;
  }
}
