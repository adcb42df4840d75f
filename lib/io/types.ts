/**
 * The IO plugin interface and the open descriptor it returns.
 *
 * @module
 */

/**
 * How a URI is opened.
 *
 * @example
 * ```ts
 * import type { OpenOptions } from "@rap/cli/io";
 * const options: OpenOptions = { write: true };
 * console.assert(options.write);
 * ```
 */
export interface OpenOptions {
  /** Open for writing too (radare2's `-w`, perm bit W). Default false: read-only. */
  write?: boolean;
  /** Create the target when it does not exist (files only). */
  create?: boolean;
  /**
   * The RAM this open may take (given by `IoSession.open`: what is left of the
   * session's `--max-session-memory` and the server's `--max-memory`). A plugin that loads,
   * inflates or parses data into RAM claims the bytes before allocating them, so an archive
   * or a compressed file too large for the budget is refused before it is inflated. Absent:
   * no budget (the plugin's own caps only).
   */
  memoryBudget?: MemoryAllowance;
  /**
   * The most descriptors an `openMany` may return (the files the session may still open,
   * `--max-open-files`). Absent: no limit.
   */
  maxFiles?: number;
  /**
   * For plugins that connect out: called with each new connection before anything is sent
   * on it; it throws to refuse the connection (the registry of a server's clients refuses
   * connections that lead back to the server itself). The plugin then closes it and fails
   * the open.
   */
  checkConnection?: (conn: Deno.Conn) => void;
  /**
   * Opened for a remote client (set by the server's registry): refuse what only the
   * server's operator may open, such as the server process's standard input.
   */
  remote?: boolean;
}

/**
 * Options of {@linkcode IoDescriptor.system}.
 *
 * @example
 * ```ts
 * import type { SystemOptions } from "@rap/cli/io";
 * const options: SystemOptions = { signal: AbortSignal.timeout(5000) };
 * console.assert(options.signal !== undefined);
 * ```
 */
export interface SystemOptions {
  /** Aborted when the command must stop (the shell's ^C, the server's `--cmd-timeout`). */
  signal?: AbortSignal;
}

/**
 * Takes the pieces of a streamed read ({@linkcode IoDescriptor.readStream}), in order; each
 * is a view valid until it returns or its promise settles.
 *
 * @example
 * ```ts
 * import type { StreamSink } from "@rap/cli";
 * let total = 0;
 * const sink: StreamSink = (bytes) => void (total += bytes.length);
 * sink(new Uint8Array(3));
 * console.assert(total === 3);
 * ```
 */
export type StreamSink = (bytes: Uint8Array) => void | Promise<void>;

/**
 * How a caller of {@linkcode IoDescriptor.readInto} wants the read done.
 *
 * @example
 * ```ts
 * import type { ReadIntoOptions } from "@rap/cli";
 * const options: ReadIntoOptions = { atOnce: true };
 * console.assert(options.atOnce);
 * ```
 */
export interface ReadIntoOptions {
  /**
   * The caller has nothing else to do meanwhile (a server with no other request under
   * way): a plugin may read synchronously, holding the event loop for the read, rather than
   * hop to Deno's blocking-IO thread and back. A local file then reads from the page cache
   * in one step (docs/benchmarks.md: a 256 MiB `rap cat` through `rap serve` took 0.95×
   * the time).
   */
  atOnce?: boolean;
}

/**
 * What an open may spend of the memory budgets, and how to claim it: see
 * {@linkcode OpenOptions.memoryBudget}.
 *
 * @example A plugin claims a size before allocating it
 * ```ts
 * import { type IoPlugin, IoRegistry, IoSession, MemoryDescriptor } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const zeros: IoPlugin = {
 *   name: "zeros", description: "N zeros", schemes: ["zeros"], uriForms: ["zeros://N"],
 *   capabilities: { read: true, write: false, resize: false, system: false },
 *   permissions: () => [],
 *   open: (uri, options) => {
 *     const size = Number(uri.slice("zeros://".length));
 *     options.memoryBudget?.claim(size, `${size} zeros`); // throws when it does not fit
 *     return Promise.resolve(new MemoryDescriptor(uri, "zeros", new Uint8Array(size)));
 *   },
 * };
 * await using session = new IoSession({ maxMemory: 1000, registry: new IoRegistry([zeros]) });
 * await session.open("zeros://600");
 * await assert.rejects(session.open("zeros://600"), /600 zeros needs .* \(--max-session-memory\)/);
 * ```
 */
export interface MemoryAllowance {
  /** Bytes the open may still claim: the least of what the budgets have left. */
  readonly remaining: number;
  /**
   * Claim `bytes` before allocating them. They stay claimed until the open ends: then the
   * session counts the new descriptors' `memoryUsage()` instead (claims made by a failed
   * open are given back).
   *
   * @param bytes The bytes about to be allocated.
   * @param what Who needs them, for the message (default `it`), e.g. `member "a.bin"`.
   * @throws {IoError} When fewer bytes are left; the message names the flag to raise.
   */
  claim(bytes: number, what?: string): void;
}

/**
 * What a plugin can do, shown by `plugins` in radare2's `r2 -L` style.
 *
 * @example
 * ```ts
 * import type { PluginCapabilities } from "@rap/cli/io";
 * const caps: PluginCapabilities = { read: true, write: false, resize: false, system: false };
 * console.assert(!caps.write);
 * ```
 */
export interface PluginCapabilities {
  /** Reads are supported. */
  read: boolean;
  /** Writes are supported (when opened for writing). */
  write: boolean;
  /** The size can be changed. */
  resize: boolean;
  /** The descriptor answers plugin commands (`=!cmd`, `:cmd`). */
  system: boolean;
}

/**
 * An open file of any kind: a seekable byte space with a size.
 *
 * Offsets are plain numbers (exact up to 2^53). Reads return at most `length` bytes and are
 * short only at the end of the data; the layers above pad like radare2 (0xff). A size of
 * `Infinity` means unbounded (radare2's `UT64_MAX`), as for process memory or a debugger.
 *
 * @example Read the first bytes of a descriptor
 * ```ts
 * import { openUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using desc = await openUri("hex://cafe");
 * assert.deepEqual([...await desc.read(0, 8)], [0xca, 0xfe]);
 * ```
 */
export interface IoDescriptor extends AsyncDisposable {
  /** The URI it was opened with (plugins may rewrite it, as radare2's `hex://` does). */
  readonly uri: string;
  /** The name of the plugin that opened it. */
  readonly plugin: string;
  /** Whether writes are allowed. */
  readonly writable: boolean;
  /** The size in bytes, or `Infinity` when unbounded. */
  size(): Promise<number>;
  /**
   * Read up to `length` bytes at `offset`.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes; shorter than `length` only at the end of the data.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Read up to `into.length` bytes at `offset` into the caller's buffer (a bulk reader such
   * as `rap cat` reuses a few buffers instead of allocating one per read). Several calls
   * may be under way at once, each with its own buffer; they complete as their bytes come.
   * Absent: use {@linkcode IoDescriptor.read}.
   *
   * @param offset Where to start.
   * @param into The destination.
   * @param options How to read (see {@linkcode ReadIntoOptions}; a plugin may ignore it).
   * @returns The bytes read into `into` from its start; fewer only at the end of the data.
   */
  readInto?(offset: number, into: Uint8Array, options?: ReadIntoOptions): Promise<number>;
  /**
   * Hand the bytes of `[offset, offset + length)` to `write`, in order, as they arrive (a
   * bulk reader such as `rap cat`): a `rap://` file keeps many reads in flight through one
   * buffer, so the window, not the reader's memory, keeps the server busy. Absent: use
   * {@linkcode IoDescriptor.readInto} or {@linkcode IoDescriptor.read}.
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @param write Takes each piece (a view valid until it returns or its promise settles).
   * @returns How many bytes were handed over: fewer only at the end of the data.
   */
  readStream?(offset: number, length: number, write: StreamSink): Promise<number>;
  /**
   * Write `data` at `offset`.
   *
   * @param offset Where to start.
   * @param data The bytes.
   * @returns The number of bytes written.
   */
  write(offset: number, data: Uint8Array): Promise<number>;
  /** Change the size (only when the plugin can resize). */
  resize?(size: number): Promise<void>;
  /**
   * Bytes of RAM the descriptor holds (for per-session memory limits); absent for
   * descriptors whose bytes live in files, processes or remote peers.
   */
  memoryUsage?(): number;
  /**
   * Bytes of RAM a write of `length` bytes at `offset` would allocate, for descriptors that
   * grow with writes (`sparse://`, `ihex://`); the session refuses the write before it is
   * made when they do not fit its budgets. Absent: writes never grow the descriptor.
   *
   * @param offset Where the write would start.
   * @param length How many bytes it would write.
   * @returns The bytes it would allocate (0 when it fits in what is held).
   */
  memoryGrowth?(offset: number, length: number): number;
  /**
   * Run a plugin command (`=!cmd` / `:cmd`) and return its output.
   *
   * @param command The command.
   * @param options `signal` stops a long command (`--cmd-timeout`, ^C).
   * @returns Its output.
   */
  system?(command: string, options?: SystemOptions): Promise<string>;
  /** Release the descriptor; writes made through it are saved by then. */
  close(): Promise<void>;
}

/**
 * An IO plugin: turns the URIs of its schemes into descriptors, and says which Deno
 * permissions opening a URI needs, so a refusal can name the flag to add.
 *
 * @example A minimal read-only plugin serving a constant
 * ```ts
 * import { type IoPlugin, IoRegistry, MemoryDescriptor } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const hello: IoPlugin = {
 *   name: "hello",
 *   description: "the bytes of 'hello'",
 *   schemes: ["hello"],
 *   uriForms: ["hello://"],
 *   capabilities: { read: true, write: false, resize: false, system: false },
 *   permissions: () => [],
 *   open: async (uri) =>
 *     new MemoryDescriptor(uri, "hello", new TextEncoder().encode("hello"), { writable: false }),
 * };
 * const registry = new IoRegistry([hello]);
 * await using desc = await registry.open("hello://");
 * assert.equal(await desc.size(), 5);
 * ```
 */
export interface IoPlugin {
  /** Short name, as in `r2 -L`. */
  readonly name: string;
  /** One line saying what it opens. */
  readonly description: string;
  /** URI schemes it claims, without `://` (e.g. `["malloc", "hex"]`). */
  readonly schemes: readonly string[];
  /** The URI forms it accepts, for help and `plugins` (e.g. `malloc://SIZE`). */
  readonly uriForms: readonly string[];
  /** What it can do. */
  readonly capabilities: PluginCapabilities;
  /** The license of the plugin, when not the package's. */
  readonly license?: string;
  /**
   * The Deno permissions opening `uri` needs. The IO layer checks them before `open`.
   *
   * @param uri The URI to open.
   * @param options How it will be opened.
   */
  permissions(uri: string, options: OpenOptions): Deno.PermissionDescriptor[];
  /**
   * Open `uri`.
   *
   * @param uri The URI to open.
   * @param options How to open it.
   */
  open(uri: string, options: OpenOptions): Promise<IoDescriptor>;
  /**
   * Open every file a "many" URI names (radare2's `open_many`, e.g. `zipall://`).
   *
   * @param uri The URI to open.
   * @param options How to open them.
   */
  openMany?(uri: string, options: OpenOptions): Promise<IoDescriptor[]>;
}

/**
 * A module of the plugin table: a plugin as its default export.
 *
 * @example
 * ```ts
 * import type { PluginModule } from "@rap/cli/io";
 * const load = (): Promise<PluginModule> => Promise.reject(new Error("example"));
 * console.assert(typeof load === "function");
 * ```
 */
export interface PluginModule {
  /** The plugin. */
  default: IoPlugin;
}
