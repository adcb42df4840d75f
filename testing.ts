/**
 * Helpers for testing code that uses rap: a loopback RAP server on a free port with its log
 * captured, a raw byte exchange with a server, and an in-memory plugin.
 *
 * @example
 * ```ts
 * import { startTestServer } from "@rap/cli/testing";
 * import assert from "node:assert/strict";
 *
 * await using test = startTestServer({ defaultUri: "hex://cafe" });
 * await using client = await test.connect();
 * assert.deepEqual([...await client.read(0, 2)], [0xca, 0xfe]);
 * ```
 *
 * @module
 */

import { installPluginTable } from "./lib/io/registry.ts";
import { builtinPlugins } from "./plugins/mod.ts";
import { concatBytes } from "./lib/protocol/bytes.ts";
import { RapClient, type RapClientOptions } from "./lib/client/client.ts";
import { MemoryDescriptor } from "./lib/io/memory_descriptor.ts";
import type { IoPlugin } from "./lib/io/types.ts";
import { RapServer, type RapServerOptions } from "./lib/server/server.ts";

// Test servers open through the built-in plugins, as the package's other entry points do.
installPluginTable(builtinPlugins);

/**
 * A running loopback server and what it logged.
 *
 * @example
 * ```ts
 * import { startTestServer, type TestServer } from "@rap/cli/testing";
 * await using test: TestServer = startTestServer();
 * console.assert(test.port > 0);
 * ```
 */
export interface TestServer extends AsyncDisposable {
  /** The server. */
  server: RapServer;
  /** Its port on 127.0.0.1. */
  port: number;
  /** Every line it logged so far. */
  logs: string[];
  /**
   * Connect a client to it.
   *
   * @param options Extra client options.
   */
  connect(options?: Partial<RapClientOptions>): Promise<RapClient>;
}

/**
 * Start a {@linkcode RapServer} on 127.0.0.1 with a free port, logging into memory.
 *
 * @param options Server options (host and port are fixed).
 * @returns The running server; dispose it to stop it.
 *
 * @example
 * ```ts
 * import { startTestServer } from "@rap/cli/testing";
 * import assert from "node:assert/strict";
 *
 * await using test = startTestServer();
 * await using client = await test.connect();
 * assert.equal(await client.cmd("?V") !== "", true);
 * ```
 */
export function startTestServer(options: RapServerOptions = {}): TestServer {
  const logs: string[] = [];
  const server = RapServer.listen({
    ...options,
    hostname: "127.0.0.1",
    port: 0,
    log: (line) => {
      logs.push(line);
      options.log?.(line);
    },
  });
  const port = server.addr.port;
  return {
    server,
    port,
    logs,
    connect: (extra = {}) => RapClient.connect({ hostname: "127.0.0.1", port, ...extra }),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/**
 * Send raw bytes to a server and collect what it sends back until it closes the connection
 * or `expect` bytes have arrived.
 *
 * @param port The server's port on 127.0.0.1.
 * @param bytes What to send.
 * @param expect Stop after this many reply bytes (default: read until the server closes).
 * @param halfClose Shut the sending side after `bytes` (default true), so the server sees the
 *   end of the stream once it has handled them.
 * @returns The bytes received, and whether the server closed the connection.
 *
 * @example
 * ```ts
 * import { rawExchange, startTestServer } from "@rap/cli/testing";
 * import assert from "node:assert/strict";
 *
 * await using test = startTestServer();
 * const { reply } = await rawExchange(test.port, new Uint8Array([7, 0, 0, 0, 1, 0]), 6);
 * assert.deepEqual([...reply], [0x87, 0, 0, 0, 1, 0]);
 * ```
 */
export async function rawExchange(
  port: number,
  bytes: Uint8Array,
  expect = Infinity,
  halfClose = true,
): Promise<{ reply: Uint8Array; closed: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let sent = 0;
    try {
      while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
      if (halfClose) await conn.closeWrite();
    } catch (error) {
      // The server may close while we are still sending (e.g. an oversized packet).
      if (
        !(error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe)
      ) {
        throw error;
      }
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let closed = false;
    const buf = new Uint8Array(64 * 1024);
    while (total < expect) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionReset) n = null;
        else throw error;
      }
      if (n === null) {
        closed = true;
        break;
      }
      chunks.push(buf.slice(0, n));
      total += n;
    }
    return { reply: concatBytes(chunks), closed };
  } finally {
    conn.close();
  }
}

/**
 * A plugin serving fixed bytes under `scheme://`, for tests.
 *
 * @param scheme The scheme to claim.
 * @param bytes The contents (each open gets its own copy).
 * @returns The plugin.
 *
 * @example
 * ```ts
 * import { IoRegistry } from "@rap/cli/io";
 * import { memoryPlugin } from "@rap/cli/testing";
 * import assert from "node:assert/strict";
 *
 * const registry = new IoRegistry([memoryPlugin("mem", new Uint8Array([1, 2]))]);
 * await using desc = await registry.open("mem://");
 * assert.deepEqual([...await desc.read(0, 2)], [1, 2]);
 * ```
 */
export function memoryPlugin(scheme: string, bytes: Uint8Array): IoPlugin {
  return {
    name: scheme,
    description: `fixed test bytes (${scheme}://)`,
    schemes: [scheme],
    uriForms: [`${scheme}://`],
    capabilities: { read: true, write: true, resize: false, system: false },
    permissions: () => [],
    open: (uri, options) =>
      Promise.resolve(
        new MemoryDescriptor(uri, scheme, bytes.slice(), { writable: options.write ?? false }),
      ),
  };
}
