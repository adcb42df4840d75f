/**
 * The shell: radare2's command language over an {@linkcode IoSession}. A line holds
 * commands separated by `;`; each may carry a temporary seek (`@ addr`), output filters
 * (`~text`) and a redirection (`> file`). Addresses and sizes are radare2 expressions in
 * 64-bit unsigned arithmetic, with `$$` (the seek), `$s` (the file size) and `$b` (the
 * block size).
 *
 * @module
 */

import { writeFileInScope } from "../io/open_file.ts";
import { IoSession } from "../io/session.ts";
import type { CommandEnv, CommandSpec } from "./command.ts";
import { valueOf } from "./expr.ts";
import { applyFilter } from "./filter.ts";
import { iterations } from "./foreach.ts";
import { Mutex } from "./mutex.ts";
import { type ExecuteOptions, FILTER_INPUT_MAX, type ShellOptions } from "./options.ts";
import { LimitedOutput, OutputBuffer, OutputLimitError, type ShellOutput } from "./output.ts";
import { Pacer } from "./pace.ts";
import { parseCommand, splitCommands } from "./parse.ts";
import { CommandPolicy, CommandRefusedError } from "./policy.ts";
import { type RemoteShell, RemoteState } from "./remote/hosts.ts";
import { lookupCommand } from "./table.ts";

/** What one execute() call carries down to its commands. */
interface Call {
  pacer: Pacer;
  /** The input limit of filters and redirections (undefined: none). */
  captureLimit: number | undefined;
}

const sessionLocks = new WeakMap<IoSession, Mutex>();
function lockOf(session: IoSession): Mutex {
  let mutex = sessionLocks.get(session);
  if (!mutex) sessionLocks.set(session, mutex = new Mutex());
  return mutex;
}

/**
 * An r2-style command interpreter over an {@linkcode IoSession}.
 *
 * @example
 * ```ts
 * import "@rap/cli"; // installs the built-in plugins
 * import { Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * await shell.run("o malloc://32; wx 41424344 @ 0x10");
 * assert.equal(await shell.run("p8 4 @ 0x10"), "41424344\n");
 * assert.equal(await shell.run("s 0x10+4; s"), "0x14\n");
 * ```
 */
export class Shell implements RemoteShell, AsyncDisposable {
  /** The session: open files, current file, seek, block size. */
  readonly session: IoSession;
  /** What commands may do. */
  policy: CommandPolicy;
  /** Whether files are opened writable by default. */
  writable: boolean;
  /** Whether the shell answers a remote peer. */
  readonly peer: boolean;
  /** The `=` state: remote hosts, servers, remote mode. */
  readonly remote: RemoteState;
  /** Set by `q`: the interactive loop should end. */
  quitRequested = false;
  /** Options given at construction. */
  readonly options: Readonly<ShellOptions>;
  readonly #ownsSession: boolean;
  readonly #lock: Mutex;
  #own: { seek: bigint; blockSize: number } | undefined;
  #interrupt = Promise.withResolvers<void>();
  #activePolicy: CommandPolicy | undefined;
  #activePeer: boolean | undefined;

  /**
   * Create it.
   *
   * @param options See {@linkcode ShellOptions}.
   */
  constructor(options: ShellOptions = {}) {
    this.options = options;
    this.session = options.session ?? new IoSession();
    this.#ownsSession = options.session === undefined;
    this.policy = options.policy ?? CommandPolicy.ALL;
    this.writable = options.writable ?? false;
    this.peer = options.peer ?? false;
    this.#lock = lockOf(this.session);
    if (options.ownSeek) {
      this.#own = { seek: this.session.seek, blockSize: this.session.blockSize };
    }
    this.remote = new RemoteState(this, (peerOptions) => new Shell(peerOptions));
  }

  /** The seek this shell shows (its own one with `ownSeek`). */
  get seek(): bigint {
    return this.#own ? this.#own.seek : this.session.seek;
  }

  /** The prompt radare2 shows: `[0x00000000]> `, `[=!0x00000000]> ` in remote mode. */
  prompt(): string {
    const hex = this.seek.toString(16).padStart(8, "0");
    return this.remote.mode === undefined ? `[0x${hex}]> ` : `[=!0x${hex}]> `;
  }

  /**
   * Evaluate an address or size expression as radare2 does ({@linkcode valueOf}), in
   * 64-bit unsigned arithmetic that wraps (`-1` is `0xffffffffffffffff`), with `$$` (the
   * seek), `$s` (the size of the current file) and `$b` (the block size).
   *
   * @param expression The expression.
   * @returns Its value, modulo 2^64.
   * @throws {ExpressionError} If radare2 would report it as invalid.
   */
  async number(expression: string): Promise<bigint> {
    const text = expression.trim();
    const size = text.includes("$s") ? await this.session.size() : undefined;
    const { seek, blockSize } = this.session;
    return valueOf(text, (name) => {
      if (name === "$$") return seek;
      if (name === "$b") return BigInt(blockSize);
      return name === "$s" ? size : undefined;
    });
  }

  /**
   * Ask the interactive user for a line (for `==` and `q`-terminated sessions).
   *
   * @param prompt The prompt.
   * @returns The line, or `null` at the end of input or without a terminal.
   */
  readLine(prompt: string): Promise<string | null> {
    return this.options.readLine?.(prompt) ?? Promise.resolve(null);
  }

  /**
   * Interrupt the running foreground command (`=:port`, `=t port`, `==`), as ^C does in
   * radare2.
   */
  interrupt(): void {
    this.#interrupt.resolve();
    this.#interrupt = Promise.withResolvers<void>();
  }

  /**
   * A promise that resolves at the next {@linkcode Shell.interrupt}.
   *
   * @returns The promise.
   */
  interrupted(): Promise<void> {
    return this.#interrupt.promise;
  }

  /** The policy of the command running now (the call's, else the shell's). */
  get activePolicy(): CommandPolicy {
    return this.#activePolicy ?? this.policy;
  }

  /** Whether the command running now comes from a remote peer. */
  get activePeer(): boolean {
    return this.#activePeer ?? this.peer;
  }

  /**
   * Run one line. Output and messages go to `out`; errors of one command are reported as
   * `ERROR: ...` messages and the next command still runs. When `out` is full (an
   * {@linkcode OutputBuffer} with a limit, or `maxOutput`), the rest of the line is skipped.
   *
   * @param line The line.
   * @param out Where output goes.
   * @param options See {@linkcode ExecuteOptions}.
   * @throws The reason of `options.signal` once it is aborted.
   */
  async execute(line: string, out: ShellOutput, options: ExecuteOptions = {}): Promise<void> {
    const saved = [this.#activePolicy, this.#activePeer] as const;
    this.#activePolicy = options.policy ?? this.#activePolicy;
    this.#activePeer = options.peer ?? this.#activePeer;
    const sink = options.maxOutput === undefined ? out : new LimitedOutput(out, options.maxOutput);
    const limit = options.maxOutput ?? (out instanceof OutputBuffer ? out.limit : Infinity);
    const call: Call = {
      pacer: new Pacer(options.signal),
      captureLimit: limit === Infinity ? undefined : Math.max(limit, FILTER_INPUT_MAX),
    };
    try {
      const trimmed = line.trim();
      if (this.remote.mode !== undefined && !/^(=|!=)/.test(trimmed) && trimmed !== "") {
        await this.#guard(sink, call, () => this.remote.forward(trimmed, sink));
        return;
      }
      for (const command of splitCommands(line)) {
        if (this.quitRequested) break;
        await call.pacer.pace();
        await this.#guard(sink, call, () => this.#runOne(command, sink, call));
      }
    } catch (error) {
      // The line's output is full: the rest of the line is skipped.
      if (!(error instanceof OutputLimitError && (error.output === sink || error.output === out))) {
        throw error;
      }
    } finally {
      [this.#activePolicy, this.#activePeer] = saved;
    }
    if (sink instanceof LimitedOutput) sink.finish();
  }

  /**
   * Run one line and return what it printed, messages included (as a remote peer sees it).
   *
   * @param line The line.
   * @param options See {@linkcode ExecuteOptions}.
   * @returns The output text (at most `options.maxOutput` bytes).
   * @throws The reason of `options.signal` once it is aborted.
   */
  async run(line: string, options: ExecuteOptions = {}): Promise<string> {
    const { maxOutput, ...rest } = options;
    const out = new OutputBuffer(undefined, { limit: maxOutput });
    await this.execute(line, out, rest);
    return out.text();
  }

  async #guard(out: ShellOutput, call: Call, task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      // A full output or a stopped line ends the line, not just the command.
      if (error instanceof OutputLimitError || call.pacer.signal.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      out.message(`ERROR: ${message}`);
    }
  }

  #check(name: string, spec: CommandSpec, args: string): void {
    const cap = typeof spec.capability === "function" ? spec.capability(args) : spec.capability;
    if (cap && !this.activePolicy.allows(cap)) throw new CommandRefusedError(name, cap);
  }

  async #runOne(text: string, out: ShellOutput, call: Call): Promise<void> {
    if (text.startsWith("#")) return;
    const parsed = parseCommand(text);
    if (parsed.redirect && !this.activePolicy.allows("fs")) {
      throw new CommandRefusedError(">", "fs");
    }
    if (parsed.command === "" && parsed.repeat !== undefined) return; // radare2: nothing
    const found = lookupCommand(parsed.command);
    if (!found) {
      const name = parsed.command.split(/\s/, 1)[0];
      throw new Error(`Unknown command "${name}" (type ? for help)`);
    }
    const { spec, args } = found;
    this.#check(spec.name, spec, args);
    const capture = parsed.filters.length > 0 || parsed.redirect !== undefined;
    const buffer = capture ? new OutputBuffer(out, { limit: call.captureLimit }) : undefined;
    const { pacer } = call;
    const env: CommandEnv<Shell> = {
      shell: this,
      name: spec.name,
      args,
      out: buffer ?? out,
      signal: pacer.signal,
      pace: () => pacer.pace(),
    };
    const loops = parsed.at !== undefined || parsed.foreach !== undefined ||
      parsed.repeat !== undefined;
    const runAt = async (addresses: Iterable<bigint | undefined>, seek: boolean) => {
      for (const at of addresses) {
        if (seek && at !== undefined) this.session.seek = at;
        await spec.run(env);
        await pacer.pace();
      }
    };
    try {
      if (!loops) {
        await (spec.unlocked ? spec.run(env) : this.#locked(async () => await spec.run(env)));
      } else if (spec.unlocked) {
        // A command without the lock (the = family, ?e) does not use the seek: its @ is
        // evaluated (an invalid one is an error, as in radare2) but changes nothing; @@ and
        // a repeat run it again. Counts are checked before anything runs.
        const loop = await this.#locked(() => iterations(this, parsed));
        await runAt(loop.addresses, false);
      } else {
        await this.#locked(async () => {
          const loop = await iterations(this, parsed);
          const saved = this.session.seek;
          try {
            await runAt(loop.addresses, true);
          } finally {
            // A repeat alone keeps its seek (`3s+ 1`), as in radare2; `@` and `@@` do not.
            if (parsed.at !== undefined || parsed.foreach !== undefined) {
              this.session.seek = saved;
            }
          }
        });
      }
    } catch (error) {
      if (error instanceof OutputLimitError && error.output === buffer) {
        throw new RangeError(
          `Output of "${spec.name}" is over ${error.limit} bytes, too much for ` +
            `${parsed.redirect ? ">" : "~"}: use a smaller size`,
        );
      }
      throw error;
    }
    if (!buffer) return;
    let result: string | Uint8Array = buffer.bytes();
    if (parsed.filters.length > 0) {
      // All the ~ parts make one grep, as in radare2.
      result = applyFilter(new TextDecoder().decode(result), parsed.filters.join("~"));
    }
    if (parsed.redirect) {
      const bytes = typeof result === "string" ? new TextEncoder().encode(result) : result;
      await writeFileInScope(parsed.redirect.path, bytes, { append: parsed.redirect.append });
    } else {
      out.write(result);
    }
  }

  /** Run `task` under the session lock, with this shell's own seek swapped in. */
  #locked<T>(task: () => Promise<T>): Promise<T> {
    return this.#lock.run(async () => {
      const own = this.#own;
      if (!own) return await task();
      const saved = { seek: this.session.seek, blockSize: this.session.blockSize };
      this.session.seek = own.seek;
      this.session.blockSize = own.blockSize;
      try {
        return await task();
      } finally {
        own.seek = this.session.seek;
        own.blockSize = this.session.blockSize;
        this.session.seek = saved.seek;
        this.session.blockSize = saved.blockSize;
      }
    });
  }

  /**
   * Close the remote connections and servers the shell started, and the session when the
   * shell created it.
   */
  async close(): Promise<void> {
    this.interrupt();
    await this.remote.close();
    if (this.#ownsSession) await this.session.closeAll();
  }

  /** Same as {@linkcode Shell.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
