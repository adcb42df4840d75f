/**
 * How a `RapServer` runs the text of CMD packets: the handler it is given, what
 * the handler knows of the connection, and the handler used until a shell is plugged in.
 *
 * @module
 */

import type { IoSession } from "../io/session.ts";
import { VERSION } from "../version.ts";

/**
 * What a command handler knows about the connection whose CMD it runs.
 *
 * @example
 * ```ts
 * import type { CommandContext } from "@rap/cli";
 * const describe = (ctx: CommandContext) => `${ctx.remoteAddr.hostname} ro=${ctx.readOnly}`;
 * console.assert(typeof describe === "function");
 * ```
 */
export interface CommandContext {
  /** The connection's own IO session (its open files and seek). */
  session: IoSession;
  /** Whether the server is read-only. */
  readOnly: boolean;
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /**
   * Ask the client to run a command (a reverse CMD) while it waits for this CMD's reply.
   *
   * @param command The command for the client.
   * @returns The client's output (`null` for a zero-length reply).
   */
  reverseCommand(command: string): Promise<string | null>;
  /**
   * The most UTF-8 bytes the reply may hold (16383 for RAP: radare2 clients take no more).
   * A handler should stop producing output there; the server cuts longer replies.
   */
  maxOutput?: number;
  /**
   * Aborted when the server gives up on the command (`--cmd-timeout`): a handler should
   * stop its work then (its reply is not sent anyway).
   */
  signal?: AbortSignal;
}

/**
 * Runs the text of a CMD packet and returns its output (`null` answers with length 0),
 * at most `context.maxOutput` bytes; it should stop when `context.signal` is aborted.
 *
 * @example
 * ```ts
 * import type { CommandHandler } from "@rap/cli";
 * const echo: CommandHandler = (command) => Promise.resolve(`${command}\n`);
 * console.assert(typeof echo === "function");
 * ```
 */
export type CommandHandler = (command: string, context: CommandContext) => Promise<string | null>;

/**
 * The handler used until a shell is plugged in (see `RapServer`): answers the
 * empty command radare2 sends after OPEN, `#` comments (empty, as radare2) and `?V`, and
 * refuses the rest with one line.
 *
 * @param command The command text.
 * @returns The output.
 *
 * @example
 * ```ts
 * import { basicCommandHandler } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await basicCommandHandler(""), "");
 * assert.match(await basicCommandHandler("?V"), /^\d+\.\d+\.\d+/);
 * assert.match(await basicCommandHandler("pd 10"), /not supported/);
 * ```
 */
export function basicCommandHandler(command: string): Promise<string> {
  const text = command.trim();
  if (text === "" || text.startsWith("#")) return Promise.resolve("");
  if (text === "?V") return Promise.resolve(`${VERSION} rap (deno ${Deno.version.deno})\n`);
  return Promise.resolve(`Command "${text}" is not supported by this server\n`);
}
