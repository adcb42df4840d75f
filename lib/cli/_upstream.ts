/**
 * What makes a RAP server a proxy: a registry whose every file is a file of one upstream
 * server (opened through the `rap://` plugin, with its block cache and read-ahead), and a
 * command handler that runs CMDs on the upstream of the client's current file.
 *
 * @module
 */

import { IoRegistry } from "../io/registry.ts";
import type { IoDescriptor, IoPlugin, OpenOptions } from "../io/types.ts";
import { basicCommandHandler, type CommandHandler } from "../server/command.ts";

/**
 * Check an upstream address: `rap://HOST:PORT` or `raps://HOST:PORT` (a trailing `/` is
 * allowed, a path is not).
 *
 * @param upstream The address given.
 * @returns It, without a trailing `/`.
 * @throws {TypeError} For anything else (the caller turns it into a usage error).
 */
export function upstreamBase(upstream: string): string {
  const m = /^(raps?):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/i.exec(upstream);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
    throw new TypeError(`expected rap://HOST:PORT or raps://HOST:PORT, got "${upstream}"`);
  }
  return `${m[1].toLowerCase()}://${m[2]}:${m[3]}`;
}

/**
 * A registry that opens every name on the upstream: OPEN `/srv/fw.bin` opens
 * `rap://UP:PORT//srv/fw.bin`, OPEN `malloc://64` opens `rap://UP:PORT/malloc://64`. The
 * server wraps it in its `RemoteRegistry` as any other, so each open file counts as one
 * of the server's connections and an upstream that is the proxy itself is refused.
 */
export class UpstreamRegistry extends IoRegistry {
  readonly #base: string;
  readonly #plugin: IoPlugin;

  /**
   * Make it.
   *
   * @param base The upstream (`upstreamBase`).
   * @param rap The `rap://` plugin that opens the upstream's files.
   */
  constructor(base: string, rap: IoPlugin) {
    super([], {});
    this.#base = base;
    // The server asks the plugin what a name needs (net to the upstream) by the name.
    this.#plugin = {
      ...rap,
      permissions: (name, options) => rap.permissions(this.#uri(name), options),
      open: (name, options) => rap.open(this.#uri(name), options),
    };
  }

  #uri(name: string): string {
    return `${this.#base}/${name}`;
  }

  /** Every name is the upstream plugin's. */
  override resolve(): Promise<IoPlugin> {
    return Promise.resolve(this.#plugin);
  }

  /** The one plugin. */
  override list(): Promise<IoPlugin[]> {
    return Promise.resolve([this.#plugin]);
  }

  /** Plugins cannot be added to a proxy. */
  override register(): void {
    throw new TypeError("A proxy's files are the upstream's: no plugin can be added");
  }

  /** Open `name` on the upstream. */
  override open(name: string, options: OpenOptions = {}): Promise<IoDescriptor> {
    return this.#plugin.open(name, options);
  }

  /** Open `name` on the upstream (one file). */
  override async openMany(name: string, options: OpenOptions = {}): Promise<IoDescriptor[]> {
    return [await this.open(name, options)];
  }
}

/**
 * The proxy's CMD handler: the command runs on the upstream of the client's current file;
 * before any file is open, the server's basic handler answers (`?V`, comments).
 *
 * @returns The handler.
 */
export function upstreamCommands(): CommandHandler {
  return async (command, context) => {
    const desc = context.session.current;
    if (desc?.system === undefined) return await basicCommandHandler(command);
    return await desc.system(command);
  };
}
