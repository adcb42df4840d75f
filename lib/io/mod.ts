/**
 * The IO layer: the plugin interface, descriptors, the URI → plugin registry with its
 * permission preflight, and the errors it raises.
 *
 * @example Open any URI
 * ```ts
 * import { openUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using desc = await openUri("malloc://32");
 * assert.equal(await desc.size(), 32);
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export * from "./uri.ts";
export * from "./permissions.ts";
export * from "./plugin_base.ts";
export * from "./memory_descriptor.ts";
export * from "./memory_budget.ts";
export * from "./registry.ts";
export * from "./file_table.ts";
export * from "./session.ts";
export * from "./session_memory.ts";
export * from "./plugin_loader.ts";
export * from "./atomic_write.ts";
export * from "./open_file.ts";
export * from "./borrowed_descriptor.ts";
export * from "./pinned_session.ts";
