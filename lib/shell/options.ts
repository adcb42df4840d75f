/**
 * What a shell is made with ({@linkcode ShellOptions}) and what one call of it takes
 * ({@linkcode ExecuteOptions}).
 *
 * @module
 */

import type { IoSession } from "../io/session.ts";
import type { CommandPolicy } from "./policy.ts";

/**
 * Options of a `Shell`.
 *
 * @example
 * ```ts
 * import { CommandPolicy, type ShellOptions } from "@rap/cli/shell";
 * const options: ShellOptions = { policy: CommandPolicy.RESTRICTED, peer: true };
 * console.assert(options.peer);
 * ```
 */
export interface ShellOptions {
  /** The session to work on (default: a new one, closed with the shell). */
  session?: IoSession;
  /** What commands may do (default: everything, as for a local user). */
  policy?: CommandPolicy;
  /** Open files writable by default (`shell -w`, radare2's `-w`). */
  writable?: boolean;
  /**
   * Keep a seek and block size of its own, apart from the session's (radare2's HTTP
   * server does this, so web clients do not move the console's seek).
   */
  ownSeek?: boolean;
  /** The shell answers a remote peer: `q` does nothing. */
  peer?: boolean;
  /** Reads a line for interactive commands (`==`); without it they end at once. */
  readLine?: (prompt: string) => Promise<string | null>;
  /** Address the servers started from the shell bind (default `127.0.0.1`). */
  hostname?: string;
  /** Where servers started from the shell log (default: messages of the command). */
  log?: (line: string) => void;
  /** CA certificates (PEM) trusted for `raps://` connections, besides the system's. */
  caCerts?: string[];
  /**
   * The token sent to RAP servers started with `--token-file` (`=+ rap://`, `=:host:port`;
   * `rap shell --token-file FILE`).
   */
  token?: string;
  /**
   * The `=h` endpoint whose requests this shell runs: `=h-` here stops it (once the reply
   * is sent), as `=h-` sent to radare2's own `=h` does.
   */
  endpoint?: { stop(): void };
  /**
   * What peers of the servers started from the shell (`=:port`, `=&:port`, `=t port`,
   * `=h`) may run (default {@linkcode CommandPolicy.RESTRICTED}).
   */
  peerPolicy?: CommandPolicy;
}

/**
 * Options of one `Shell.execute` call.
 *
 * @example
 * ```ts
 * import { CommandPolicy, type ExecuteOptions } from "@rap/cli/shell";
 * const options: ExecuteOptions = { policy: CommandPolicy.RESTRICTED };
 * console.assert(options.policy !== undefined);
 * ```
 */
export interface ExecuteOptions {
  /** A policy for this call only (e.g. for a reverse CMD from a server). */
  policy?: CommandPolicy;
  /** The line comes from a remote peer: `q` does nothing. */
  peer?: boolean;
  /**
   * The most bytes of output the call produces, messages and the truncation note included
   * (default: no limit, as for the local user). Output is cut while it is produced: once
   * the limit is reached the command writing is stopped, the rest of the line is skipped
   * and the output ends with `[output truncated at N bytes; ...]`. The input of `~` filters
   * and `>` redirections is then limited too, to {@linkcode FILTER_INPUT_MAX} bytes (or
   * `maxOutput` if larger). A RAP server passes 16383 (what radare2 clients accept).
   */
  maxOutput?: number;
  /**
   * Stops the line: checked between commands and at each pause point of long commands
   * (rows of a dump, blocks read, loop iterations). The call then rejects with the signal's
   * reason; `run` drops the output so far.
   */
  signal?: AbortSignal;
}

/**
 * The most bytes a `~` filter or `>` redirection takes as input under an output limit
 * (see {@linkcode ExecuteOptions.maxOutput}).
 *
 * @example
 * ```ts
 * import { FILTER_INPUT_MAX } from "@rap/cli/shell";
 * console.assert(FILTER_INPUT_MAX === 1048576);
 * ```
 */
export const FILTER_INPUT_MAX = 1 << 20;
