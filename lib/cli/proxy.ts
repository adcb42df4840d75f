/**
 * `rap proxy UPSTREAM [options]`: a RAP server for plain radare2 clients whose files are
 * the files of an upstream RAP server, reached with the rap extensions (large pipelined
 * requests), a block cache with read-ahead per file, TLS verified against `--ca` and the
 * upstream's token: radare2 over a slow or secure link at LAN speed. It is `RapServer`
 * itself (its limits, handshake and shutdown), given a registry of upstream files.
 *
 * @module
 */

import { RAP_CACHE_DEFAULTS, type RapCacheOptions } from "../client/file_caches.ts";
import { loadCaCerts } from "../net/tls.ts";
import { SERVER_DEFAULTS } from "../server/options.ts";
import { untilStopped } from "./_until_stopped.ts";
import type { CliPlugins } from "./registry.ts";
import {
  allowFromFlag,
  type LimitFlag,
  limitsHelp,
  parseLimits,
  SERVE_LIMIT_FLAGS,
} from "./serve_flags.ts";
import { numberFlag, parseFlags, UsageError } from "./usage.ts";

/** The limit flags of `serve` that a proxy has (not the HTTP endpoint's). */
const LIMIT_FLAGS: readonly LimitFlag[] = SERVE_LIMIT_FLAGS.filter((f) =>
  !f.name.startsWith("http-")
);

const MIB = 1024 * 1024;

/**
 * The help of `proxy`.
 *
 * @example
 * ```ts
 * import { PROXY_USAGE } from "@rap/cli/commands";
 * console.assert(PROXY_USAGE.startsWith("Usage: rap proxy"));
 * ```
 */
export const PROXY_USAGE = `Usage: rap proxy UPSTREAM [options]

Serve RAP for plain radare2 clients (r2 rap://127.0.0.1:${SERVER_DEFAULTS.port}//path): every file a
client opens is opened on UPSTREAM (rap://HOST:PORT or raps://HOST:PORT), with the rap
extensions and a block cache with read-ahead per file. SEEK is answered here, READ from
the cache, WRITE goes upstream and is acknowledged once the upstream acknowledged it, CMD
runs upstream. An upstream that fails closes its client's connection. See docs/proxy.md.

Options:
  --host H              address to bind (default 127.0.0.1)
  --port P              port (default ${SERVER_DEFAULTS.port}; 0 picks a free port)
  --read-only           open upstream files read-only, refuse writes

Upstream:
  --ca FILE             trust this PEM CA for a raps:// upstream (repeatable; the system's
                        roots are trusted too; the certificate is always verified)
  --token-file FILE     send this token to an upstream started with --token-file

Cache (per open file; its size counts against --max-session-memory and --max-memory):
  --cache-size SIZE     most bytes cached per file (default ${
  RAP_CACHE_DEFAULTS.maxBytes / MIB
}M; 0: no cache)
  --block-size SIZE     bytes per block, the smallest upstream read (default ${
  RAP_CACHE_DEFAULTS.blockSize / 1024
}K)
  --read-ahead SIZE     largest read-ahead of sequential reads (default ${
  RAP_CACHE_DEFAULTS.readAhead / MIB
}M; 0: none)

Security:
  --allow-from CIDRS    accept only these client addresses (comma-separated, repeatable)

Limits:
${limitsHelp(LIMIT_FLAGS)}
`;

/** The flags of `proxy`. */
const FLAGS = {
  host: { type: "string" },
  port: { type: "string" },
  "read-only": { type: "boolean" },
  ca: { type: "string", multiple: true },
  "token-file": { type: "string" },
  "cache-size": { type: "string" },
  "block-size": { type: "string" },
  "read-ahead": { type: "string" },
  "allow-from": { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(LIMIT_FLAGS.map((f) => [f.name, { type: "string" as const }])),
} as const;

/** The cache settings the flags give (`false`: no cache). */
function cacheFlags(values: Record<string, unknown>): RapCacheOptions | false {
  const text = (name: string) => values[name] as string | undefined;
  const maxBytes = numberFlag("--cache-size", text("cache-size"), RAP_CACHE_DEFAULTS.maxBytes);
  if (maxBytes === 0) return false;
  const blockSize = numberFlag(
    "--block-size",
    text("block-size"),
    RAP_CACHE_DEFAULTS.blockSize,
    512,
  );
  if (blockSize > maxBytes) {
    throw new UsageError(`--block-size ${blockSize} is larger than --cache-size ${maxBytes}`);
  }
  const readAhead = numberFlag("--read-ahead", text("read-ahead"), RAP_CACHE_DEFAULTS.readAhead);
  return { maxBytes, blockSize, readAhead };
}

/**
 * Run `proxy`: until SIGINT/SIGTERM (0), or until the listener fails (1).
 *
 * @param args The arguments after `proxy`.
 * @param plugins The plugins the CLI was given (its `rap` plugin reaches the upstream).
 * @returns The exit code.
 * @throws {UsageError} For a usage mistake.
 */
export async function proxy(args: string[], plugins: CliPlugins): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(PROXY_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("expected one UPSTREAM (rap://HOST:PORT or raps://HOST:PORT)");
  }
  // The server and the upstream's pieces load when proxy runs, not with the command line.
  const { bindListener, RapServer, readTokenFile } = await import("./_serve_modules.ts");
  const { upstreamBase, upstreamCommands, UpstreamRegistry } = await import("./_upstream.ts");
  let base: string;
  try {
    base = upstreamBase(positionals[0]);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!plugins.rap) throw new Error("This command line has no rap:// plugin for proxy");
  const allowFrom = allowFromFlag(values["allow-from"]);
  const { httpMaxConnections: _c, httpMaxBody: _b, ...limits } = parseLimits(values);
  const cache = cacheFlags(values);
  const port = numberFlag("--port", values.port, SERVER_DEFAULTS.port);
  if (port > 65535) throw new UsageError(`--port must be 0 to 65535, got ${port}`);
  const hostname = values.host ?? "127.0.0.1";
  const caCerts: string[] = [];
  for (const file of values.ca ?? []) caCerts.push(...await loadCaCerts(file));
  const token = values["token-file"] === undefined
    ? undefined
    : await readTokenFile(values["token-file"]);
  const registry = new UpstreamRegistry(base, plugins.rap({ caCerts, token, cache }));
  const server = bindListener(hostname, port, () =>
    RapServer.listen({
      hostname,
      port,
      readOnly: values["read-only"] ?? false,
      ...limits,
      allowFrom,
      registry,
      commandHandler: upstreamCommands(),
    }), "--port");
  return await untilStopped({ server, tls: false, notes: [`Proxying to ${base}/`] });
}
