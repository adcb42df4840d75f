/**
 * The registry a server gives its clients' sessions: the server's own registry, minus
 * what only the server's operator may open. That is the server process's standard
 * input (`stdin://` needs no Deno permission, so without this any RAP or HTTP client could
 * read and consume what was piped into the server), and connections back to the process's
 * own listening addresses (a nested `rap://` to the server's own port would take every
 * connection slot). A file that needs network access can also be counted as one of the
 * server's connections while it is open.
 *
 * @module
 */

import { IoError } from "../io/errors.ts";
import { isProcessStdin, stdinRefusal } from "../io/open_file.ts";
import { IoRegistry } from "../io/registry.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../io/types.ts";
import { splitUri } from "../io/uri.ts";
import { ownListeningAddress, refuseOwnConnection, selfDialing } from "../net/own_addresses.ts";

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
 * Options of a {@linkcode RemoteRegistry}.
 *
 * @example
 * ```ts
 * import type { RemoteRegistryOptions } from "@rap/cli";
 * let open = 0;
 * const options: RemoteRegistryOptions = { reserveConnection: () => (open++, () => open--) };
 * console.assert(typeof options.reserveConnection === "function");
 * ```
 */
export interface RemoteRegistryOptions {
  /**
   * Count a file that needs network access (its plugin asks for `net`: `rap://`, `tcp://`,
   * `http://` ...) as one connection while it is open: returns the function that gives the
   * slot back, or throws (a `RangeError` whose message is the reason) when none is left.
   */
  reserveConnection?: () => () => void;
}

/** The `host` and `port` of the `net` permissions a plugin asks for (those with a port). */
function netTargets(needs: Deno.PermissionDescriptor[]): { hostname: string; port: number }[] {
  const targets = [];
  for (const need of needs) {
    if (need.name !== "net" || need.host === undefined) continue;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(need.host);
    if (m) targets.push({ hostname: m[1], port: Number(m[2]) });
  }
  return targets;
}

/** Let `release` run once `desc` is closed. */
function releasingOnClose(desc: IoDescriptor, release: () => void): IoDescriptor {
  const close = desc.close.bind(desc);
  desc.close = async () => {
    try {
      await close();
    } finally {
      release();
    }
  };
  return desc;
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
    // Looked up only with read access granted: Deno would otherwise prompt on the server's
    // terminal (and stop the whole server until someone answers).
    const access = await Deno.permissions.query({ name: "read", path });
    if (access.state !== "granted") continue;
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
 * server process's standard input (see {@linkcode readsProcessStdin}) or connect to one of
 * the process's own listening addresses (see `ownListeningAddress`: judged before the
 * plugin connects, and again on the connection it made), and counts the files that need
 * network access with `options.reserveConnection`.
 *
 * @example
 * ```ts
 * import { RemoteRegistry } from "./remote_registry.ts";
 * import { IoRegistry } from "@rap/cli";
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
  readonly #options: RemoteRegistryOptions;

  /**
   * Wrap a registry.
   *
   * @param inner The server's registry.
   * @param options See {@linkcode RemoteRegistryOptions}.
   */
  constructor(inner: IoRegistry, options: RemoteRegistryOptions = {}) {
    super([], {});
    this.inner = inner;
    this.#options = options;
  }

  /**
   * Refuse a URI that connects to the process itself, and take a connection slot for one
   * that needs network access.
   *
   * @returns The slot's release, or `undefined` for a URI without network access.
   */
  async #reserve(uri: string, options: OpenOptions): Promise<(() => void) | undefined> {
    const plugin = await this.inner.resolve(uri);
    const targets = netTargets(plugin.permissions(uri, options));
    for (const { hostname, port } of targets) {
      const own = ownListeningAddress(hostname, port);
      if (own !== undefined) throw new IoError(uri, `Cannot open "${uri}": ${selfDialing(own)}`);
    }
    return targets.length === 0 ? undefined : this.#reserveAgain(uri);
  }

  #reserveAgain(uri: string): (() => void) | undefined {
    try {
      return this.#options.reserveConnection?.();
    } catch (error) {
      throw new IoError(uri, `Cannot open "${uri}": ${(error as Error).message}`, { cause: error });
    }
  }

  /** The options for the inner registry: connections back to this process are refused. */
  #dialing(options: OpenOptions): OpenOptions {
    const given = options.checkConnection;
    return {
      ...options,
      checkConnection: (conn) => {
        refuseOwnConnection(conn);
        given?.(conn);
      },
    };
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
   * @throws {IoError} For `stdin://` and the like, connections to this process, and when no
   *   connection slot is left.
   */
  override async open(uri: string, options: OpenOptions = {}): Promise<IoDescriptor> {
    await this.#check(uri, options);
    const release = await this.#reserve(uri, options);
    try {
      const desc = await this.inner.open(uri, this.#dialing({ ...options, remote: true }));
      return release === undefined ? desc : releasingOnClose(desc, release);
    } catch (error) {
      release?.();
      throw error;
    }
  }

  /**
   * Open every file `uri` names through the inner registry, unless it reads the server's
   * standard input.
   *
   * @param uri The URI.
   * @param options How to open them.
   * @returns The descriptors.
   * @throws {IoError} For `stdin://` and the like, connections to this process, and when no
   *   connection slot is left.
   */
  override async openMany(uri: string, options: OpenOptions = {}): Promise<IoDescriptor[]> {
    await this.#check(uri, options);
    const first = await this.#reserve(uri, options);
    let descriptors: IoDescriptor[];
    try {
      descriptors = await this.inner.openMany(uri, this.#dialing({ ...options, remote: true }));
    } catch (error) {
      first?.();
      throw error;
    }
    if (first === undefined) return descriptors;
    // A network URI may hold a connection per file: one slot each.
    const releases = [first];
    try {
      while (releases.length < descriptors.length) releases.push(this.#reserveAgain(uri)!);
    } catch (error) {
      for (const release of releases) release();
      await Promise.all(descriptors.map((d) => d.close().catch(() => {})));
      throw error;
    }
    return descriptors.map((desc, i) => releasingOnClose(desc, releases[i]));
  }
}
