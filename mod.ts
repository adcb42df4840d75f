/**
 * rap — a Deno-native toolkit and server for radare2's Remote Access Protocol (RAP).
 *
 * - {@linkcode RapServer}: a RAP server a real radare2 client talks to, one session per
 *   connection;
 * - {@linkcode RapClient}: a pipelining RAP client for radare2 servers and ours;
 * - the IO layer: {@linkcode openUri}, {@linkcode IoRegistry}, {@linkcode IoSession} and
 *   the {@linkcode IoPlugin} interface (plugins for files, memory, archives, network ...);
 * - the pure codec: {@linkcode encodePacket}, {@linkcode PacketDecoder}.
 *
 * Run as a program (`deno run -A jsr:@rap/cli serve`), it is the command-line tool.
 *
 * @example Serve a file and read it back
 * ```ts
 * import { RapClient, RapServer } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * await using client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * await client.open("malloc://1024", 7);
 * await client.write(0x10, new TextEncoder().encode("hi"));
 * assert.equal(new TextDecoder().decode(await client.read(0x10, 2)), "hi");
 * ```
 *
 * @module
 */

import { installPluginTable } from "./lib/io/registry.ts";
import { builtinPlugins } from "./plugins/mod.ts";

// The IO layer has no plugins of its own: the package's entry point hands down the
// built-in table (`plugins/mod.ts`) for registries made without one.
installPluginTable(builtinPlugins);

export { builtinPlugins };
export * from "./lib/protocol/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/server/server.ts";
export * from "./lib/client/client.ts";
export * from "./lib/net/packet_reader.ts";
export * from "./lib/net/write_queue.ts";
export * from "./lib/version.ts";
export * from "./lib/net/address_filter.ts";
export * from "./lib/net/tls.ts";
export * from "./lib/net/auth.ts";
export * from "./lib/server/remote_registry.ts";
export * from "./lib/net/listen_warning.ts";
export * from "./lib/net/accept_loop.ts";
export * from "./lib/net/connection_slots.ts";
export * from "./lib/net/first_bytes.ts";
export * from "./lib/net/own_addresses.ts";
export * from "./lib/net/listen_error.ts";
export * from "./lib/gdb/server.ts";
export * from "./lib/gdb/stub_link.ts";

if (import.meta.main) {
  const { main } = await import("./cli.ts");
  Deno.exitCode = await main(Deno.args);
}
