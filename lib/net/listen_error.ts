/**
 * One clear line for a listener that cannot be bound: the address, the flag that chose it,
 * and what to change (a busy port, or a port `--allow-net` does not cover).
 *
 * @module
 */

/**
 * Thrown when a server cannot bind its address.
 *
 * @example
 * ```ts
 * import { ListenError } from "@rap/cli";
 * const error = new ListenError("127.0.0.1:9090", "the address is already in use");
 * console.assert(error.message === "Cannot listen on 127.0.0.1:9090: the address is already in use");
 * ```
 */
export class ListenError extends Error {
  /** The address, `host:port`. */
  readonly address: string;

  /**
   * Create it.
   *
   * @param address The address, `host:port`.
   * @param reason Why it cannot be bound.
   * @param options The cause.
   */
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(`Cannot listen on ${address}: ${reason}`, options);
    this.name = "ListenError";
    this.address = address;
  }
}

/**
 * Bind with `listen()`, turning a failure into a {@linkcode ListenError} that names the
 * address, the flag that chose it, and the fix.
 *
 * @param hostname The host to bind.
 * @param port The port to bind.
 * @param listen Binds (e.g. `() => Deno.listen({ hostname, port })`).
 * @param flag The command-line flag that chose the port (e.g. `--http-port`), if any.
 * @returns What `listen()` returned.
 * @throws {ListenError} If binding fails.
 *
 * @example
 * ```ts
 * import { bindListener } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = busy.addr.port;
 * assert.throws(
 *   () => bindListener("127.0.0.1", port, () => Deno.listen({ hostname: "127.0.0.1", port }), "--port"),
 *   new RegExp(`^ListenError: Cannot listen on 127\\.0\\.0\\.1:${port} \\(--port\\): the address is already in use`),
 * );
 * ```
 */
export function bindListener<T>(
  hostname: string,
  port: number,
  listen: () => T,
  flag?: string,
): T {
  try {
    // Asked first, so that a terminal gets no permission prompt (it would swallow what
    // the user types next): a refusal names the flag instead.
    const wanted = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    if (Deno.permissions.querySync({ name: "net", host: wanted }).state !== "granted") {
      throw new Deno.errors.NotCapable(`Requires net access to "${wanted}"`);
    }
    return listen();
  } catch (error) {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    const address = `${host}:${port}`;
    const shown = flag === undefined ? address : `${address} (${flag})`;
    let reason: string;
    if (error instanceof Deno.errors.AddrInUse) {
      reason = `the address is already in use${flag ? `: pick another ${flag}` : ""}`;
    } else if (error instanceof Deno.errors.NotCapable) {
      reason = `not allowed by the deno permissions: add --allow-net=${
        port === 0 ? host : address
      } to the deno command`;
    } else if (error instanceof Deno.errors.PermissionDenied) {
      reason = `the system refused it (${(error as Error).message})` +
        (port > 0 && port < 1024 ? "; ports below 1024 need privileges" : "");
    } else {
      reason = (error as Error).message;
    }
    throw new ListenError(shown, reason, { cause: error });
  }
}
