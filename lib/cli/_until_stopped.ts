/**
 * The end of `serve` and `proxy`: announce the listeners (the `Listening on rap://H:P/`
 * line tests and scripts wait for), serve until SIGINT/SIGTERM or a failure, clean up.
 *
 * @module
 */

import type { RapServer } from "../server/server.ts";
import type { HttpEndpoint } from "../shell/http.ts";
import type { PinnedSession } from "../io/pinned_session.ts";

/** Announce the listeners, then serve until a signal or a failure; clean up. */
export async function untilStopped(
  server: RapServer,
  http: HttpEndpoint | undefined,
  httpSession: PinnedSession | undefined,
  shared: { close(): Promise<void> } | undefined,
  tls: boolean,
  notes: readonly string[] = [],
): Promise<number> {
  const stop = () => {
    console.error("[rap] shutting down");
    server.close();
    http?.shutdown();
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
  for (const note of notes) console.log(note);
  try {
    // If one listener stops on its own, the other is stopped too and the failure reported.
    const ended = await Promise.allSettled([
      server.finished.catch((error) => {
        http?.shutdown();
        throw error;
      }),
      http?.finished.catch((error) => {
        server.close();
        throw error;
      }),
    ]);
    const failed = ended.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    await httpSession?.release();
    await shared?.close();
  }
  return 0;
}
