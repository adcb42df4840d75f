/**
 * What every plugin repeats, written once: {@linkcode DescriptorBase} (the fields, the
 * close-once lifecycle, the closed and read-only checks, one-at-a-time operations, error
 * wrapping) and {@linkcode definePlugin} (defaults for the plugin object, and an `open` whose
 * synchronous throw becomes a rejection), so a plugin stays on one screen.
 *
 * @example A plugin of SIZE bytes that all read as 0x2a
 * ```ts
 * import { definePlugin, DescriptorBase, IoRegistry, parseSizeUri, ReadOnlyError } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * class Stars extends DescriptorBase {
 *   constructor(uri: string, readonly length: number) {
 *     super(uri, "stars", false);
 *   }
 *   size(): Promise<number> {
 *     return Promise.resolve(this.length);
 *   }
 *   read(offset: number, length: number): Promise<Uint8Array> {
 *     return this.guard(() => new Uint8Array(Math.min(length, this.length - offset)).fill(0x2a));
 *   }
 * }
 *
 * const stars = definePlugin({
 *   name: "stars",
 *   description: "SIZE bytes of '*'",
 *   uriForms: ["stars://SIZE"],
 *   open: (uri) => new Stars(uri, parseSizeUri(uri)),
 * });
 * const registry = new IoRegistry([stars]);
 * const desc = await registry.open("stars://3");
 * assert.equal(new TextDecoder().decode(await desc.read(1, 8)), "**");
 * await assert.rejects(desc.write(0, new Uint8Array(1)), ReadOnlyError, "stars is read-only");
 * await desc.close();
 * await assert.rejects(desc.read(0, 1), /is closed/);
 * await assert.rejects(registry.open("stars://x"), /Cannot open "stars:\/\/x"/);
 * ```
 *
 * @module
 */

import { IoError, ReadOnlyError } from "./errors.ts";
import type { IoDescriptor, IoPlugin, OpenOptions, PluginCapabilities } from "./types.ts";

/**
 * The repeated parts of an {@linkcode IoDescriptor}: `uri`, `plugin` and `writable`;
 * `close()` that runs once (after the operations queued with
 * {@linkcode DescriptorBase.serial}), then calls {@linkcode DescriptorBase.release};
 * `[Symbol.asyncDispose]`; a `write` that refuses (override it when the plugin writes); and
 * helpers for the checks every method makes. A subclass implements `size` and `read`, and
 * what else it supports (`write`, `resize`, `system`, `memoryUsage` ...).
 *
 * @example A writable byte that remembers the last value written
 * ```ts
 * import { DescriptorBase } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * class Latch extends DescriptorBase {
 *   #value = 0;
 *   size(): Promise<number> {
 *     return Promise.resolve(1);
 *   }
 *   read(offset: number, length: number): Promise<Uint8Array> {
 *     return this.guard(() => Uint8Array.of(this.#value).subarray(offset, offset + length));
 *   }
 *   override write(_offset: number, data: Uint8Array): Promise<number> {
 *     return this.guard(() => {
 *       this.checkWritable();
 *       this.#value = data.at(-1) ?? this.#value;
 *       return data.length;
 *     });
 *   }
 * }
 *
 * await using latch = new Latch("latch://", "latch", true);
 * await latch.write(0, Uint8Array.of(1, 2));
 * assert.deepEqual([...await latch.read(0, 4)], [2]);
 * await using readOnly = new Latch("latch://", "latch", false);
 * await assert.rejects(readOnly.write(0, Uint8Array.of(1)), /opened read-only/);
 * ```
 */
export abstract class DescriptorBase implements IoDescriptor {
  /** The URI (a plugin may rewrite it, as `hex://` does after writes). */
  uri: string;
  /** The plugin name. */
  readonly plugin: string;
  /** Whether writes are allowed. */
  readonly writable: boolean;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** Operations queued with {@linkcode DescriptorBase.serial} and not yet settled. */
  #queued = 0;

  /**
   * Set the fields.
   *
   * @param uri The URI it was opened with.
   * @param plugin The plugin name.
   * @param writable Whether writes are allowed.
   */
  constructor(uri: string, plugin: string, writable: boolean) {
    this.uri = uri;
    this.plugin = plugin;
    this.writable = writable;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The size in bytes, or `Infinity` when unbounded.
   *
   * @returns The size.
   */
  abstract size(): Promise<number>;

  /**
   * Read up to `length` bytes at `offset` (short only at the end of the data).
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @returns The bytes.
   */
  abstract read(offset: number, length: number): Promise<Uint8Array>;

  /**
   * Refuse the write: the plugin is read-only. Override it in descriptors that write.
   *
   * @param _offset Unused.
   * @param _data Unused.
   * @returns A rejection with a {@linkcode ReadOnlyError} saying the plugin is read-only.
   */
  write(_offset: number, _data: Uint8Array): Promise<number> {
    return Promise.reject(
      new ReadOnlyError(this.uri, `Cannot write to "${this.uri}": ${this.plugin} is read-only`),
    );
  }

  /**
   * Close once: later calls return at once. Waits for the operations queued with
   * {@linkcode DescriptorBase.serial}, then calls {@linkcode DescriptorBase.release}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.release();
  }

  /** Same as {@linkcode DescriptorBase.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Free what the descriptor holds (a file, a connection) or save what was written; called
   * once, by the first `close()`. Does nothing unless overridden.
   *
   * @returns When done.
   */
  protected release(): void | Promise<void> {}

  /**
   * Throw when the descriptor is closed.
   *
   * @throws {IoError} `Descriptor "URI" is closed`.
   */
  protected checkOpen(): void {
    if (this.#closed) throw new IoError(this.uri, `Descriptor "${this.uri}" is closed`);
  }

  /**
   * Throw when the descriptor is closed or was opened read-only.
   *
   * @throws {IoError} `Descriptor "URI" is closed`.
   * @throws {ReadOnlyError} `Cannot write to "URI": opened read-only`.
   */
  protected checkWritable(): void {
    this.checkOpen();
    if (!this.writable) {
      throw new ReadOnlyError(this.uri, `Cannot write to "${this.uri}": opened read-only`);
    }
  }

  /**
   * Run `op` when the descriptor is open, as a promise: a throw (of `op` or of the closed
   * check) becomes a rejection, so synchronous methods need no try/catch.
   *
   * @param op The operation.
   * @returns Its result.
   */
  protected guard<T>(op: () => T | Promise<T>): Promise<T> {
    try {
      this.checkOpen();
      return Promise.resolve(op());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Run `op` when the operations queued before it are done, one at a time, so a seek and
   * its read never interleave with another caller's; `close()` waits for the queue.
   *
   * @param op The operation.
   * @returns Its result (a rejection when the descriptor is closed).
   */
  protected serial<T>(op: () => Promise<T>): Promise<T> {
    try {
      this.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#queued++;
    const result = this.#queue.then(op);
    const settled = () => void this.#queued--;
    this.#queue = result.then(settled, settled);
    return result;
  }

  /**
   * Whether an operation queued with {@linkcode DescriptorBase.serial} is still under way:
   * a synchronous operation may run now only when none is (its seek would land in the
   * middle of another's seek and read).
   */
  protected get busy(): boolean {
    return this.#queued > 0;
  }

  /**
   * The {@linkcode IoError} for a failed operation: an `IoError` passes through, any other
   * error becomes `Cannot WHAT "URI"[ at 0xOFFSET]: its message`, with it as the cause.
   *
   * @param error What was thrown.
   * @param what The operation, e.g. `read` or `write to`.
   * @param offset Where, when it matters.
   * @returns The error to throw.
   */
  protected failure(error: unknown, what: string, offset?: number): IoError {
    if (error instanceof IoError) return error;
    const at = offset === undefined ? "" : ` at 0x${offset.toString(16)}`;
    return new IoError(
      this.uri,
      `Cannot ${what} "${this.uri}"${at}: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }

  /**
   * The part of `bytes` a read of `length` bytes at `offset` returns: a copy, cut at the end.
   *
   * @param bytes The data.
   * @param offset Where to start (clamped to the data).
   * @param length How many bytes at most.
   * @returns The copy.
   */
  protected static slice(bytes: Uint8Array, offset: number, length: number): Uint8Array {
    const start = Math.min(Math.max(0, offset), bytes.length);
    return bytes.slice(start, Math.min(bytes.length, start + length));
  }
}

/**
 * What {@linkcode definePlugin} needs: an {@linkcode IoPlugin} whose `schemes`,
 * `capabilities` and `permissions` may be left out, and whose `open` may return the
 * descriptor directly or throw.
 *
 * @example
 * ```ts
 * import type { PluginDefinition } from "@rap/cli/io";
 * const definition: PluginDefinition = {
 *   name: "nothing", description: "never opens", uriForms: ["nothing://"],
 *   open: (uri) => { throw new Error(`Cannot open "${uri}": nothing to open`); },
 * };
 * console.assert(definition.schemes === undefined);
 * ```
 */
export interface PluginDefinition {
  /** Short name, as in `r2 -L`. */
  readonly name: string;
  /** One line saying what it opens. */
  readonly description: string;
  /** URI schemes it claims (default: its name). */
  readonly schemes?: readonly string[];
  /** The URI forms it accepts, for help and `plugins`. */
  readonly uriForms: readonly string[];
  /** What it can do beyond reading (default: read only). */
  readonly capabilities?: Partial<PluginCapabilities>;
  /** The license of the plugin, when not the package's. */
  readonly license?: string;
  /**
   * The Deno permissions opening `uri` needs (default: none).
   *
   * @param uri The URI to open.
   * @param options How it will be opened.
   */
  permissions?(uri: string, options: OpenOptions): Deno.PermissionDescriptor[];
  /**
   * Open `uri`; a throw becomes the rejection of the plugin's `open`.
   *
   * @param uri The URI to open.
   * @param options How to open it.
   */
  open(uri: string, options: OpenOptions): IoDescriptor | Promise<IoDescriptor>;
  /**
   * Open every file a "many" URI names; a throw becomes a rejection.
   *
   * @param uri The URI to open.
   * @param options How to open them.
   */
  openMany?(uri: string, options: OpenOptions): IoDescriptor[] | Promise<IoDescriptor[]>;
}

/** Call `op` and hand back its result as a promise: a throw becomes a rejection. */
function settle<T>(op: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Build an {@linkcode IoPlugin} from a {@linkcode PluginDefinition}: `schemes` defaults to
 * `[name]`, `capabilities` to read-only, `permissions` to none, and `open` (and `openMany`)
 * always return a promise, rejected when the definition's throws. The definition's methods
 * are called with it as `this`.
 *
 * @param definition The plugin's parts.
 * @returns The plugin.
 *
 * @example
 * ```ts
 * import { definePlugin, MemoryDescriptor } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * const hello = definePlugin({
 *   name: "hello",
 *   description: "the bytes of 'hello'",
 *   uriForms: ["hello://"],
 *   capabilities: { write: true },
 *   open: (uri) => new MemoryDescriptor(uri, "hello", new TextEncoder().encode("hello")),
 * });
 * assert.deepEqual(hello.schemes, ["hello"]);
 * assert.deepEqual(hello.capabilities, { read: true, write: true, resize: false, system: false });
 * assert.deepEqual(hello.permissions("hello://", {}), []);
 * await using desc = await hello.open("hello://", {});
 * assert.equal(await desc.size(), 5);
 * ```
 */
export function definePlugin(definition: PluginDefinition): IoPlugin {
  const plugin: IoPlugin = {
    name: definition.name,
    description: definition.description,
    schemes: definition.schemes ?? [definition.name],
    uriForms: definition.uriForms,
    capabilities: {
      read: true,
      write: false,
      resize: false,
      system: false,
      ...definition.capabilities,
    },
    ...(definition.license === undefined ? {} : { license: definition.license }),
    permissions: (uri, options = {}) => definition.permissions?.(uri, options) ?? [],
    open: (uri, options = {}) => settle(() => definition.open(uri, options)),
  };
  if (definition.openMany) {
    plugin.openMany = (uri, options = {}) => settle(() => definition.openMany!(uri, options));
  }
  return plugin;
}

/**
 * The permissions to read the file `path`, and to write it when `write`: what a plugin that
 * opens a local file in place declares.
 *
 * @param path The file.
 * @param write Whether it is opened for writing too.
 * @returns The permission descriptors.
 *
 * @example
 * ```ts
 * import { filePermissions } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(filePermissions("/tmp/x", true), [
 *   { name: "read", path: "/tmp/x" },
 *   { name: "write", path: "/tmp/x" },
 * ]);
 * assert.deepEqual(filePermissions("/tmp/x"), [{ name: "read", path: "/tmp/x" }]);
 * ```
 */
export function filePermissions(path: string, write = false): Deno.PermissionDescriptor[] {
  return write ? [{ name: "read", path }, { name: "write", path }] : [{ name: "read", path }];
}
