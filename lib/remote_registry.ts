/**
 * The registry a server gives its clients' sessions: the server's own registry, minus
 * what only the server's operator may open. Today that is the server process's standard
 * input: `stdin://` needs no Deno permission, so without this any RAP or HTTP client could
 * read (and consume) what was piped into the server.
 *
 * @module
 */

import { IoError } from "./io/errors.ts";
import { IoRegistry } from "./io/registry.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "./io/types.ts";
import { splitUri } from "./io/uri.ts";

/** Paths that are the process's own standard input, whatever the scheme before them. */
const STDIN_PATH =
  /(^|\/)(dev\/stdin|dev\/fd\/0|proc\/(self|thread-self|\d+)(\/task\/\d+)?\/fd\/0)$/;

/**
 * Whether opening `uri` would read the standard input of the process that opens it:
 * `stdin://`, or a path such as `/dev/stdin` or `/proc/self/fd/0` under any scheme.
 *
 * @param uri The URI or plain path.
 * @returns True when it reads the process's standard input.
 *
 * @example
 * ```ts
 * import { readsProcessStdin } from "./remote_registry.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(readsProcessStdin("stdin://"));
 * assert.ok(readsProcessStdin("STDIN://"));
 * assert.ok(readsProcessStdin("slurp:///dev//./stdin"));
 * assert.ok(readsProcessStdin("/proc/self/fd/0"));
 * assert.ok(!readsProcessStdin("/tmp/stdin"));
 * assert.ok(!readsProcessStdin("malloc://16"));
 * ```
 */
export function readsProcessStdin(uri: string): boolean {
  const parts = splitUri(uri);
  if (parts?.scheme === "stdin") return true;
  const path = (parts ? uri.slice(uri.indexOf("://") + 3) : uri)
    .replace(/\/(\.\/)+/g, "/")
    .replace(/\/{2,}/g, "/")
    .replace(/\/+$/, "");
  return STDIN_PATH.test(path);
}

/**
 * A registry for remote sessions: opens through `inner`, but refuses what would read the
 * server process's standard input (see {@linkcode readsProcessStdin}).
 *
 * @example
 * ```ts
 * import { RemoteRegistry } from "./remote_registry.ts";
 * import { IoRegistry } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * const registry = new RemoteRegistry(new IoRegistry());
 * await assert.rejects(registry.open("stdin://"), /standard input/);
 * await using desc = await registry.open("hex://00ff");
 * assert.equal(await desc.size(), 2);
 * ```
 */
export class RemoteRegistry extends IoRegistry {
  /** The registry that does the opening. */
  readonly inner: IoRegistry;

  /**
   * Wrap a registry.
   *
   * @param inner The server's registry.
   */
  constructor(inner: IoRegistry) {
    super([], {});
    this.inner = inner;
  }

  #check(uri: string): void {
    if (readsProcessStdin(uri)) {
      throw new IoError(
        uri,
        `Cannot open "${uri}": a remote client cannot read the server's standard input`,
      );
    }
  }

  /**
   * Add a plugin to the inner registry.
   *
   * @param plugin The plugin.
   */
  override register(plugin: IoPlugin): void {
    this.inner.register(plugin);
  }

  /**
   * The inner registry's plugin for `uri`.
   *
   * @param uri The URI.
   * @returns The plugin.
   */
  override resolve(uri: string): Promise<IoPlugin> {
    return this.inner.resolve(uri);
  }

  /**
   * The inner registry's plugins.
   *
   * @returns The plugins.
   */
  override list(): Promise<IoPlugin[]> {
    return this.inner.list();
  }

  /**
   * Open `uri` through the inner registry, unless it reads the server's standard input.
   *
   * @param uri The URI.
   * @param options How to open it.
   * @returns The descriptor.
   * @throws {IoError} For `stdin://` and the like.
   */
  override async open(uri: string, options: OpenOptions = {}): Promise<IoDescriptor> {
    this.#check(uri);
    return await this.inner.open(uri, options);
  }

  /**
   * Open every file `uri` names through the inner registry, unless it reads the server's
   * standard input.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns The descriptors.
   * @throws {IoError} For `stdin://` and the like.
   */
  override async openMany(uri: string, options: OpenOptions = {}): Promise<IoDescriptor[]> {
    this.#check(uri);
    return await this.inner.openMany(uri, options);
  }
}
