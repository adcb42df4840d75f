/**
 * The end of `serve` and `proxy`: announce the listeners (the `Listening on rap://H:P/`
 * line tests and scripts wait for), serve until SIGINT/SIGTERM or a failure, clean up.
 *
 * @module
 */

import type { RapServer } from "../server/server.ts";
import type { HttpEndpoint } from "../shell/http.ts";
import type { PinnedSession } from "../io/pinned_session.ts";
import { listenWarning } from "../net/listen_warning.ts";
import type { ServeGdb } from "./serve_gdb.ts";

/** What runs until stopped: the RAP server and what was started beside it. */
export interface Running {
  /** The RAP server. */
  server: RapServer;
  /** The `--http-port` endpoint. */
  http?: HttpEndpoint;
  /** The session the endpoint shares. */
  httpSession?: PinnedSession;
  /** The `--gdb-port` server. */
  gdb?: ServeGdb;
  /** The served URI's descriptor, closed at the end. */
  shared?: { close(): Promise<void> };
  /** Whether the server speaks TLS (a `raps://` line follows the `rap://` one). */
  tls: boolean;
  /** Lines printed after the listeners' (`Proxying to ...`). */
  notes?: readonly string[];
  /** Where the shutdown line goes (default: standard error). */
  log?: (line: string) => void;
}

/** Announce the listeners, then serve until a signal or a failure; clean up. */
export async function untilStopped(running: Running): Promise<number> {
  const { server, http, httpSession, gdb, shared, tls } = running;
  const log = running.log ?? ((line: string) => console.error(line));
  const closeAll = () => {
    server.close();
    http?.shutdown();
    gdb?.server.close();
  };
  const stop = () => {
    log("[rap] shutting down");
    closeAll();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  const shown = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  // Tests and scripts wait for this exact line (rap:// even with TLS); raps:// follows.
  console.log(`Listening on rap://${shown}:${server.addr.port}/`);
  if (tls) console.log(`TLS on: clients connect to ${server.url}`);
  if (http) console.log(`Listening on ${http.url}cmd/`);
  if (gdb) {
    const { hostname, port } = gdb.server.addr;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`Listening for gdb on ${host}:${port} (gdb -ex 'target remote ${host}:${port}')`);
    const warning = listenWarning(`${host}:${port}`, hostname, { tls: false, token: false });
    if (warning) console.error(warning.replace("[rap]", "[gdb]"));
  }
  for (const note of running.notes ?? []) console.log(note);
  try {
    // If one listener stops on its own, the others are stopped too and the failure reported.
    const ended = await Promise.allSettled(
      [server.finished, http?.finished, gdb?.server.finished].map((finished) =>
        finished?.catch((error) => {
          closeAll();
          throw error;
        })
      ),
    );
    const failed = ended.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    await gdb?.close();
    await httpSession?.release();
    await shared?.close();
  }
  return 0;
}
