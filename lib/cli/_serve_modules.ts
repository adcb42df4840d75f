/**
 * What `serve` runs, loaded when `serve` runs (`await import`), not with the command line:
 * `rap cat` and `rap --help` need none of the server, its shell, its HTTP and GDB
 * endpoints, and loading them cost every process of the command line some 25 ms.
 *
 * @module
 */

export { BorrowedDescriptor } from "../io/borrowed_descriptor.ts";
export { MemoryBudget } from "../io/memory_budget.ts";
export { PinnedSession } from "../io/pinned_session.ts";
export { AddressFilter } from "../net/address_filter.ts";
export { readTokenFile } from "../net/auth.ts";
export { bindListener } from "../net/listen_error.ts";
export { loadCertificate } from "../net/tls.ts";
export { RemoteRegistry } from "../server/remote_registry.ts";
export { RapServer } from "../server/server.ts";
export { createShellCommandHandler } from "../shell/handler.ts";
export { serveHttp } from "../shell/http.ts";
export { parseCommandPolicy } from "../shell/policy.ts";
export { startGdbServer } from "./serve_gdb.ts";
