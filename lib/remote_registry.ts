/**
 * The registry a server gives its clients' sessions: the server's own registry, minus
 * what only the server's operator may open. Today that is the server process's standard
 * input: `stdin://` needs no Deno permission, so without this any RAP or HTTP client could
 * read (and consume) what was piped into the server.
 *
 * @module
 */

import { isProcessStdin, stdinRefusal } from "./io/open_file.ts";
import { IoRegistry } from "./io/registry.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "./io/types.ts";
import { splitUri } from "./io/uri.ts";

/** Paths that are the process's own standard input (or terminal), whatever the scheme. */
const STDIN_PATH =
  /(^|\/)(dev\/(stdin|tty)|dev\/fd\/0|proc\/(self|thread-self|\d+)(\/task\/\d+)?\/fd\/0)$/;

/**
 * `path` with `.`, `..` and repeated slashes resolved by name (as Deno checks paths).
 *
 * @param path A path.
 * @returns The normalized path.
 */
function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push(part);
    } else {
      parts.push(part);
    }
  }
  return (absolute ? "/" : "") + parts.join("/");
}

/**
 * Whether opening `uri` would read the standard input of the process that opens it, by
 * its name: `stdin://`, or a path such as `/dev/stdin`, `/proc/self/fd/0` or
 * `/dev/fd/../fd/0` under any scheme (`.` and `..` resolved by name). A link elsewhere
 * that leads there is caught when the file is opened (see `OpenOptions.remote`).
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
 * assert.ok(readsProcessStdin("slurp:///dev/fd/../fd/0"));
 * assert.ok(readsProcessStdin(`/proc/${Deno.pid}/task/${Deno.pid}/fd/0`));
 * assert.ok(readsProcessStdin("/proc/self/fd/0"));
 * assert.ok(!readsProcessStdin("/tmp/stdin"));
 * assert.ok(!readsProcessStdin("/dev/fd/0/../1"));
 * assert.ok(!readsProcessStdin("malloc://16"));
 * ```
 */
export function readsProcessStdin(uri: string): boolean {
  const parts = splitUri(uri);
  if (parts?.scheme === "stdin") return true;
  const path = normalizePath(parts ? uri.slice(uri.indexOf("://") + 3) : uri);
  return STDIN_PATH.test(path);
}

/**
 * Whether any file `paths` name is this process's standard input once links are followed
 * (`/dev/fd/0`, a link to `/proc/self/fd/0` ...): compared by device and inode. Paths that
 * cannot be looked up (missing, outside the permissions) are not.
 *
 * @param paths The paths a plugin declared it opens.
 * @returns True when one of them is standard input.
 *
 * @example
 * ```ts
 * import { namesProcessStdin } from "./remote_registry.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * assert.equal(await namesProcessStdin([path]), false);
 * await Deno.remove(path);
 * ```
 */
export async function namesProcessStdin(paths: readonly string[]): Promise<boolean> {
  for (const path of paths) {
    try {
      if (isProcessStdin(await Deno.stat(path))) return true;
    } catch {
      // Not there, or not ours to look at: the open itself fails or checks again.
    }
  }
  return false;
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

  async #check(uri: string, options: OpenOptions): Promise<void> {
    let refused = readsProcessStdin(uri);
    if (!refused) {
      const declared = (await this.inner.resolve(uri)).permissions(uri, options);
      const paths = declared.flatMap((p) =>
        (p.name === "read" || p.name === "write") && p.path ? [p.path.toString()] : []
      );
      refused = await namesProcessStdin(paths);
    }
    if (refused) throw stdinRefusal(uri);
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
   * @throws {import("./io/errors.ts").IoError} For `stdin://` and the like.
   */
  override async open(uri: string, options: OpenOptions = {}): Promise<IoDescriptor> {
    await this.#check(uri, options);
    return await this.inner.open(uri, { ...options, remote: true });
  }

  /**
   * Open every file `uri` names through the inner registry, unless it reads the server's
   * standard input.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns The descriptors.
   * @throws {import("./io/errors.ts").IoError} For `stdin://` and the like.
   */
  override async openMany(uri: string, options: OpenOptions = {}): Promise<IoDescriptor[]> {
    await this.#check(uri, options);
    return await this.inner.openMany(uri, { ...options, remote: true });
  }
}
