/**
 * The shell's RAP connections (`=+ rap://`, `=+ raps://`, `=:host:port cmd`) with its
 * credentials: the CAs it trusts for `raps://` and the token it sends (`rap shell --ca FILE
 * --token-file FILE`). A server started with `--token-file` closes a connection that does
 * not begin with the token, which a client cannot tell from any other refusal; when that
 * happens without a token, one more connection asks the server (the extension probe) and
 * the error then says it was the token.
 *
 * @module
 */

import { RapClient, type RapClientOptions } from "../../client/client.ts";
import { RapConnectionError } from "../../protocol/errors.ts";
import type { ShellOptions } from "../options.ts";

/**
 * Where a shell connects and with what.
 *
 * @example
 * ```ts
 * import type { RapDial } from "@rap/cli/shell";
 * const dial: RapDial = { hostname: "127.0.0.1", port: 9999, tls: false, credentials: {} };
 * console.assert(!dial.tls);
 * ```
 */
export interface RapDial {
  /** The server. */
  hostname: string;
  /** Its port. */
  port: number;
  /** `raps://`. */
  tls: boolean;
  /** The shell's credentials. */
  credentials: Pick<ShellOptions, "caCerts" | "token">;
  /** Runs the server's reverse commands. */
  onReverseCommand?: RapClientOptions["onReverseCommand"];
  /** Checks the connection before anything is sent (e.g. no self-dialing). */
  onConnect?: RapClientOptions["onConnect"];
}

/**
 * Connect to a RAP server with the shell's credentials: the token, if any, goes in the
 * extension probe before anything else; without one, nothing is sent (as radare2).
 *
 * @param dial Where and with what.
 * @returns The client.
 * @throws {RapConnectionError} If the connection or the TLS handshake fails, or the
 *   server refuses the token.
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { dialRap } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, token: "s3cret", log: () => {} });
 * const { port } = server.addr;
 * await using client = await dialRap({
 *   hostname: "127.0.0.1", port, tls: false, credentials: { token: "s3cret" },
 * });
 * assert.ok(client.extensions); // the token went in the extension probe
 * ```
 */
export function dialRap(dial: RapDial): Promise<RapClient> {
  return RapClient.connect({
    hostname: dial.hostname,
    port: dial.port,
    tls: dial.tls ? { caCerts: dial.credentials.caCerts } : undefined,
    token: dial.credentials.token,
    onReverseCommand: dial.onReverseCommand,
    onConnect: dial.onConnect,
  });
}

/**
 * The error to show for a failure on a connection made by {@linkcode dialRap}: when the
 * server closed the connection and the shell sent no token, ask the server (one more
 * connection with the extension probe) whether it wants one, and if so say so.
 *
 * @param error The failure.
 * @param dial The connection it happened on.
 * @returns The error to show (`error` itself when it was not the token).
 *
 * @example
 * ```ts
 * import { RapServer } from "@rap/cli";
 * import { dialRap, explainRefusal } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, token: "s3cret", log: () => {} });
 * const dial = { hostname: "127.0.0.1", port: server.addr.port, tls: false, credentials: {} };
 * await using client = await dialRap(dial);
 * const refused = await client.open("malloc://8").catch((e) => e);
 * const shown = await explainRefusal(refused, dial) as Error;
 * assert.match(shown.message, /requires a token .*--token-file FILE/);
 * ```
 */
export async function explainRefusal(error: unknown, dial: RapDial): Promise<unknown> {
  if (!(error instanceof RapConnectionError) || dial.credentials.token !== undefined) {
    return error;
  }
  try {
    const probe = await RapClient.connect({
      hostname: dial.hostname,
      port: dial.port,
      tls: dial.tls ? { caCerts: dial.credentials.caCerts } : undefined,
      extensions: { probeTimeout: 2000 },
      onConnect: dial.onConnect,
    });
    await probe.close();
  } catch (probeError) {
    if (/requires a token/.test((probeError as Error).message)) {
      const what = error.message.replace(/: the server refused it \(closed the connection\)$/, "");
      return new RapConnectionError(
        `${what}: the server requires a token (start the shell with --token-file FILE)`,
        { cause: error },
      );
    }
  }
  return error;
}
