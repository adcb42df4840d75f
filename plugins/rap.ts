/**
 * `rap://HOST:PORT//ABS/PATH`, `rap://HOST:PORT/REL/PATH`, `rap://HOST:PORT` — a file on a
 * remote RAP server (radare2's or ours), through {@linkcode RapClient}; `raps://` is the
 * same over TLS. The client probes for the rap extensions (`docs/protocol.md`): with our
 * server, reads and writes go in pieces of up to 4 MiB carrying the file's fd and offset;
 * a radare2 server answers the probe with an empty string and is used with plain 4 KiB
 * RAP requests.
 *
 * `raps://` always verifies the server's certificate (system roots, plus the CAs given to
 * {@linkcode createRapPlugin}); a server started with `--token-file` needs the token,
 * also given to {@linkcode createRapPlugin}. Register such a plugin in a registry
 * (`registry.register(createRapPlugin({ caCerts, token }))`), as `rap cat --ca FILE
 * --token-file FILE` does.
 *
 * @example
 * ```ts
 * import { parseRapUri } from "./rap.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRapUri("rap://127.0.0.1:9999//bin/ls"), {
 *   tls: false, hostname: "127.0.0.1", port: 9999, file: "/bin/ls",
 * });
 * ```
 *
 * @module
 */

import { RapClient } from "../lib/client/client.ts";
import type { TlsClientOptions } from "../lib/net/tls.ts";
import { ConnectionLostError, IoError } from "../lib/io/errors.ts";
import { RAP_CACHE_DEFAULTS, type RapCacheOptions } from "../lib/client/file_caches.ts";
import { definePlugin, DescriptorBase } from "../lib/io/plugin_base.ts";
import type { IoPlugin, OpenOptions, StreamSink } from "../lib/io/types.ts";
import { CURRENT_FD, Perm, UT64_MAX } from "../lib/protocol/constants.ts";

/**
 * The parts of a `rap://` URI, split as radare2's io_rap does: host and port at the first
 * `:`, the file is everything after the first `/` that follows the port.
 *
 * @example
 * ```ts
 * import type { RapUri } from "./rap.ts";
 * const uri: RapUri = { tls: false, hostname: "h", port: 1, file: "" };
 * console.assert(uri.file === "");
 * ```
 */
export interface RapUri {
  /** `raps://` (TLS). */
  tls: boolean;
  /** Host name; empty for the listen form `rap://:PORT`. */
  hostname: string;
  /** Port. */
  port: number;
  /** File to OPEN on the server; empty means connect only. */
  file: string;
}

/**
 * Parse a `rap://` or `raps://` URI.
 *
 * @param uri The URI.
 * @returns Its parts.
 * @throws {IoError} If it is not of the form `rap://HOST:PORT[/FILE]`.
 *
 * @example
 * ```ts
 * import { parseRapUri } from "./rap.ts";
 * console.assert(parseRapUri("rap://h:1/rel").file === "rel");
 * ```
 */
export function parseRapUri(uri: string): RapUri {
  const m = /^(raps?):\/\/([^:/]*):(\d+)(?:\/(.*))?$/i.exec(uri);
  if (!m) {
    throw new IoError(uri, `Cannot open "${uri}": expected rap://HOST:PORT[/FILE]`);
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) {
    throw new IoError(uri, `Cannot open "${uri}": invalid port ${m[3]}`);
  }
  return { tls: m[1].toLowerCase() === "raps", hostname: m[2], port, file: m[4] ?? "" };
}

/**
 * The most servers one `rap://` URI may chain through: `rap://a:1/rap://b:2/rap://c:3//x`
 * is three. Longer chains are refused before connecting, so that a chain between servers
 * that dial each other stays short.
 *
 * @example
 * ```ts
 * import rap, { MAX_RAP_CHAIN } from "./rap.ts";
 * import assert from "node:assert/strict";
 *
 * const chain = "rap://127.0.0.1:1/".repeat(MAX_RAP_CHAIN + 1) + "malloc://1";
 * await assert.rejects(rap.open(chain, {}), /chains 4 servers; at most 3/);
 * ```
 */
export const MAX_RAP_CHAIN = 3;

/**
 * Turn a client failure into the IO layer's error, naming the file (a permission refusal
 * stays as it is, for the IO layer to name the flag); a connection that failed with it is
 * a {@linkcode ConnectionLostError}.
 */
async function ioFailure<T>(
  uri: string,
  what: string,
  op: () => Promise<T>,
  client?: RapClient,
): Promise<T> {
  try {
    return await op();
  } catch (error) {
    if (error instanceof IoError || error instanceof Deno.errors.NotCapable) throw error;
    const message = `Cannot ${what} "${uri}": ${(error as Error).message}`;
    if (client !== undefined && !client.connected) {
      throw new ConnectionLostError(uri, message, { cause: error });
    }
    throw new IoError(uri, message, { cause: error });
  }
}

class RapDescriptor extends DescriptorBase {
  readonly #client: RapClient;
  /** The server fd, used with the extensions (plain RAP reaches only the current file). */
  readonly #fd: number | undefined;
  #size: Promise<number> | undefined;

  /**
   * @param sized The file's size, asked for right behind its OPEN (saves a round trip).
   */
  constructor(
    uri: string,
    client: RapClient,
    writable: boolean,
    fd: number | undefined,
    sized?: Promise<bigint>,
  ) {
    super(uri, "rap", writable);
    this.#client = client;
    this.#fd = client.extensions ? fd : undefined;
    if (sized !== undefined) this.#sizing(() => sized);
  }

  size(): Promise<number> {
    return this.#size ?? this.#sizing(() => this.#client.size(this.#fd));
  }

  #sizing(ask: () => Promise<bigint>): Promise<number> {
    const size = ioFailure(this.uri, "get the size of", ask, this.#client)
      .then((n) => n === UT64_MAX ? Infinity : Number(n));
    this.#size = size;
    size.catch(() => {
      if (this.#size === size) this.#size = undefined; // asked again next time
    });
    return size;
  }

  /**
   * Fetch the first block into the cache while the client takes in the OPEN reply: most
   * readers start there.
   */
  warm(): void {
    if (this.#client.cacheCapacity === 0) return;
    this.size().then((size) => this.read(0, Math.min(size, RAP_CACHE_DEFAULTS.blockSize)))
      .catch(() => {}); // the reader's own request reports it
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, (await this.size()) - offset));
    if (n === 0) return new Uint8Array(0);
    return await ioFailure(
      this.uri,
      "read",
      () => this.#client.read(offset, n, this.#fd),
      this.#client,
    );
  }

  /**
   * Read into the caller's buffer: the payload is received straight into it. Calls under
   * way together are pipelined on the one connection.
   *
   * @param offset Where to start.
   * @param into The destination.
   * @returns How many bytes were read (short only at the end of the file).
   */
  async readInto(offset: number, into: Uint8Array): Promise<number> {
    const n = Math.max(0, Math.min(into.length, (await this.size()) - offset));
    if (n === 0) return 0;
    const part = n === into.length ? into : into.subarray(0, n);
    await ioFailure(this.uri, "read", () => this.#client.readInto(offset, part, this.#fd));
    return n;
  }

  /**
   * Hand the bytes from `offset` to `write` as they arrive, many reads in flight through
   * one buffer (`RapClient.readStream`).
   *
   * @param offset Where to start.
   * @param length How many bytes at most.
   * @param write Takes each piece, in order.
   * @returns How many bytes were handed over (fewer only at the end of the file).
   */
  async readStream(offset: number, length: number, write: StreamSink): Promise<number> {
    const n = Math.max(0, Math.min(length, (await this.size()) - offset));
    if (n === 0) return 0;
    return await ioFailure(
      this.uri,
      "read",
      () => this.#client.readStream(offset, n, write, this.#fd),
      this.#client,
    );
  }

  override async write(offset: number, data: Uint8Array): Promise<number> {
    this.checkWritable();
    this.#size = undefined; // it may have grown
    return await ioFailure(
      this.uri,
      "write to",
      () => this.#client.write(offset, data, this.#fd),
      this.#client,
    );
  }

  system(command: string): Promise<string> {
    return ioFailure(this.uri, "run a command on", () => this.#client.cmd(command), this.#client);
  }

  /** The RAM its block cache may take (claimed from the session's budget at open). */
  memoryUsage(): number {
    return this.#client.cacheCapacity;
  }

  protected override release(): Promise<void> {
    return this.#client.close();
  }
}

/**
 * What the `rap` plugin's connections use: trusted CAs for `raps://` and the token for
 * servers started with `--token-file`.
 *
 * @example
 * ```ts
 * import type { RapPluginOptions } from "./rap.ts";
 * const options: RapPluginOptions = { caCerts: [], token: "s3cret" };
 * console.assert(options.token === "s3cret");
 * ```
 */
export interface RapPluginOptions extends TlsClientOptions {
  /** The server's token, sent in the extension probe before anything else. */
  token?: string;
  /**
   * The block cache and read-ahead of each file (default: `RAP_CACHE_DEFAULTS`, 16 MiB a
   * file); `false` for none. Its size is claimed from the open's memory budget (a server's
   * `--max-session-memory` and `--max-memory`), smaller when less is left.
   */
  cache?: RapCacheOptions | false;
}

/** The cache a file gets: what the settings ask, within what the open's budget has left. */
function cacheFor(
  settings: RapCacheOptions | false | undefined,
  openOptions: OpenOptions,
): RapCacheOptions | undefined {
  if (settings === false) return undefined;
  const { blockSize, maxBytes } = { ...RAP_CACHE_DEFAULTS, ...settings };
  const room = openOptions.memoryBudget?.remaining ?? Infinity;
  const bytes = Math.floor(Math.min(maxBytes, room) / blockSize) * blockSize;
  if (bytes < blockSize) return undefined; // no room: uncached reads
  openOptions.memoryBudget?.claim(bytes, "the block cache");
  return { ...settings, maxBytes: bytes };
}

/**
 * Create a `rap` plugin whose connections trust extra CAs and present a token.
 *
 * @param options CAs and token (default: none; the system's roots only).
 * @returns The plugin, for `IoRegistry.register`.
 *
 * @example
 * ```ts
 * import { createRapPlugin } from "./rap.ts";
 * import { IoRegistry } from "../lib/io/registry.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new IoRegistry();
 * registry.register(createRapPlugin({ token: "s3cret" }));
 * assert.equal((await registry.resolve("raps://h:1//x")).name, "rap");
 * ```
 */
export function createRapPlugin(options: RapPluginOptions = {}): IoPlugin {
  return definePlugin({
    name: "rap",
    description: "radare network protocol: a file on a remote RAP server (raps:// over TLS)",
    schemes: ["rap", "raps"],
    uriForms: [
      "rap://HOST:PORT//ABS/PATH",
      "rap://HOST:PORT/REL/PATH",
      "rap://HOST:PORT",
      "raps://HOST:PORT//ABS/PATH",
    ],
    capabilities: { write: true, system: true },
    permissions(uri) {
      const { hostname, port } = parseRapUri(uri);
      return hostname === "" ? [] : [{ name: "net", host: `${hostname}:${port}` }];
    },
    async open(uri, openOptions) {
      const target = parseRapUri(uri);
      if (target.hostname === "") {
        throw new IoError(
          uri,
          `Cannot open "${uri}": the listen form starts a server; use "serve --port ${target.port}" or "=:${target.port}"`,
        );
      }
      const chain = 1 + (target.file.match(/raps?:\/\//gi)?.length ?? 0);
      if (chain > MAX_RAP_CHAIN) {
        throw new IoError(
          uri,
          `Cannot open "${uri}": it chains ${chain} servers; at most ${MAX_RAP_CHAIN}`,
        );
      }
      // The extension probe is a comment to radare2, which answers it with an empty string.
      const client = await ioFailure(uri, "open", () =>
        RapClient.connect({
          hostname: target.hostname,
          port: target.port,
          extensions: true,
          tls: target.tls ? { caCerts: options.caCerts } : undefined,
          token: options.token,
          onConnect: openOptions.checkConnection,
          cache: cacheFor(options.cache, openOptions),
        }));
      let fd: number | undefined;
      let sized: Promise<bigint> | undefined;
      if (target.file !== "") {
        const perm = Perm.R | Perm.X | (openOptions.write ? Perm.W : 0);
        try {
          const opened = client.open(target.file, perm);
          // With the extensions, the size of the file just opened follows on the wire.
          sized = client.extensions ? client.size(CURRENT_FD) : undefined;
          sized?.catch(() => {});
          fd = await ioFailure(uri, "open", () => opened);
        } catch (error) {
          await client.close();
          throw error;
        }
      }
      const desc = new RapDescriptor(uri, client, openOptions.write ?? false, fd, sized);
      if (fd !== undefined) desc.warm();
      return desc;
    },
  });
}

/**
 * The `rap` plugin, with the system's CA roots and no token (see {@linkcode createRapPlugin}).
 *
 * @example
 * ```ts
 * import rap from "./rap.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(rap.permissions("rap://127.0.0.1:9999//x", {}), [
 *   { name: "net", host: "127.0.0.1:9999" },
 * ]);
 * ```
 */
const rap: IoPlugin = createRapPlugin();

export default rap;
