/**
 * `rap serve [URI] [options]`: a RAP server (and radare2's `=h` HTTP endpoint with
 * `--http-port`) until SIGINT or SIGTERM. Every listener is bound before any is announced.
 * As radare2 opens a file read-only unless `-w`, the server is read-only unless `-w`: the
 * default URI and every file clients open (an OPEN asking for W is opened read-only, and
 * its writes are refused).
 *
 * @module
 */

import type { PinnedSession } from "../io/pinned_session.ts";
import { CERTIFICATE_ADVICE, serverCertificateProblem } from "../net/certificate.ts";
import { SERVER_DEFAULTS } from "../server/options.ts";
import type { RapServer } from "../server/server.ts";
import type { HttpEndpoint } from "../shell/http.ts";
import { createLogger, type LogFormat } from "./log.ts";
import { type CliPlugins, registryWith } from "./registry.ts";
import { allowFromFlag, limitsHelp, parseLimits, SERVE_LIMIT_FLAGS } from "./serve_flags.ts";
import type { ServeGdb } from "./serve_gdb.ts";
import { numberFlag, parseFlags, UsageError } from "./usage.ts";
import { untilStopped } from "./_until_stopped.ts";

/**
 * The help of `serve`.
 *
 * @example
 * ```ts
 * import { SERVE_USAGE } from "@rap/cli/commands";
 * console.assert(SERVE_USAGE.startsWith("Usage: rap serve"));
 * ```
 */
export const SERVE_USAGE = `Usage: rap serve [URI] [options]

Serve RAP: each connection gets its own session. URI, if given, is opened once at start
and shared by the clients that read or send commands before any OPEN (r2 rap://H:P/).
Read-only unless -w, as radare2: the URI and every file clients open.

Options:
  --host H              address to bind (default 127.0.0.1; others warn without TLS)
  --port P              port (default ${SERVER_DEFAULTS.port}; 0 picks a free port)
  -w, --writable        open URI writable, and honour the W of clients' OPENs (deno needs
                        --allow-write of the files)
  --read-only           read-only (the default; cannot be combined with -w)
  --log-format F        text (default: each line with its time) or json (one object a line)
  --allow-cmd CAPS      widen what clients' commands may do: open, fs, remote, system, all
                        (comma-separated, repeatable; default: only the session's own files)
  --http-port N         also serve radare2's =h HTTP endpoint (GET /cmd/..., POST /cmd) on
                        this port, under the same TLS, token, --allow-from, -w and --allow-cmd
                        as RAP; its clients share one session (seek, files) in
                        which the served URI is pinned: o-* cannot close it
  --gdb-port N          also serve URI to gdb (target remote HOST:N) over the GDB remote
                        protocol: its bytes, and when URI is a dbg:// or gdb:// process its
                        registers, execution and breakpoints; under --host, --allow-from,
                        -w and --allow-cmd (gdb's monitor CMD); no TLS, no token
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)

Security:
  --cert FILE           serve raps:// (TLS) with this PEM certificate chain; it may also
                        hold the key (one PEM with both, as radare2's raps://:PORT/file.pem)
  --key FILE            the PEM private key
  --token-file FILE     require this token: clients must send it in the extension probe
                        first (rap cat --token-file); plain radare2 clients are refused.
                        HTTP requests must carry "Authorization: Bearer TOKEN" (else 401)
  --allow-from CIDRS    accept only these client addresses (comma-separated, repeatable;
                        RAP and HTTP)

Limits:
${limitsHelp()}
  --fsync               sync every write to disk before acknowledging it
`;

/** The flags of `serve`. */
const FLAGS = {
  host: { type: "string" },
  port: { type: "string" },
  writable: { type: "boolean", short: "w" },
  "read-only": { type: "boolean" },
  "log-format": { type: "string" },
  fsync: { type: "boolean" },
  cert: { type: "string" },
  key: { type: "string" },
  "token-file": { type: "string" },
  "allow-from": { type: "string", multiple: true },
  "allow-cmd": { type: "string", multiple: true },
  "http-port": { type: "string" },
  "gdb-port": { type: "string" },
  plugin: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(SERVE_LIMIT_FLAGS.map((f) => [f.name, { type: "string" as const }])),
} as const;

/** A port flag's value: 0 to 65535. */
function portFlag(flag: string, text: string | undefined, fallback: number): number {
  const port = numberFlag(flag, text, fallback, 0, "N");
  if (port > 65535) throw new UsageError(`${flag} must be 0 to 65535, got ${port}`);
  return port;
}

/**
 * Run `serve`: until SIGINT/SIGTERM (0), or until a listener fails (1, the reason
 * printed by the caller).
 *
 * @param args The arguments after `serve`.
 * @param plugins The plugins the CLI was given.
 * @returns The exit code.
 * @throws {UsageError} For a usage mistake.
 */
export async function serve(args: string[], plugins: CliPlugins): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  // Loaded here, not with the module: `rap cat` and `rap --help` do not start a server.
  const {
    BorrowedDescriptor,
    MemoryBudget,
    PinnedSession,
    RapServer,
    RemoteRegistry,
    bindListener,
    createShellCommandHandler,
    loadCertificate,
    parseCommandPolicy,
    readTokenFile,
    serveHttp,
    startGdbServer,
  } = await import("./_serve_modules.ts");
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one URI, got ${positionals.length}`);
  }
  if (values.key !== undefined && values.cert === undefined) {
    throw new UsageError("--key needs --cert");
  }
  if (values.writable && values["read-only"]) {
    throw new UsageError("-w (--writable) and --read-only cannot be combined");
  }
  const format = values["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format expects text or json, got "${format}"`);
  }
  const log = createLogger({ format: format as LogFormat });
  const allowFrom = allowFromFlag(values["allow-from"]);
  const { httpMaxConnections, httpMaxBody, ...limits } = parseLimits(values);
  let policy;
  try {
    policy = parseCommandPolicy(values["allow-cmd"] ?? []);
  } catch (error) {
    throw new UsageError(`--allow-cmd: ${(error as Error).message}`);
  }
  const httpPort = values["http-port"] === undefined
    ? undefined
    : portFlag("--http-port", values["http-port"], 0);
  const gdbPort = values["gdb-port"] === undefined
    ? undefined
    : portFlag("--gdb-port", values["gdb-port"], 0);
  if (gdbPort !== undefined && positionals.length === 0) {
    throw new UsageError("--gdb-port serves the URI given to serve: add one (rap serve URI)");
  }
  if (gdbPort !== undefined && values["token-file"] !== undefined) {
    throw new UsageError(
      "--gdb-port cannot ask gdb for the token of --token-file: drop one of the two",
    );
  }
  const port = portFlag("--port", values.port, SERVER_DEFAULTS.port);
  const hostname = values.host ?? "127.0.0.1";
  const registry = await registryWith(plugins, values.plugin);
  const tls = values.cert === undefined
    ? undefined
    : await loadCertificate(values.cert, values.key);
  const problem = tls === undefined ? undefined : await serverCertificateProblem(tls.cert);
  if (problem !== undefined) {
    log(`[rap] warning: clients will refuse "${values.cert}": ${problem}; ${CERTIFICATE_ADVICE}`);
  }
  const token = values["token-file"] === undefined
    ? undefined
    : await readTokenFile(values["token-file"]);
  const defaultUri = positionals[0];
  const readOnly = !values.writable;
  // Opened once, before listening: a URI that cannot be opened fails here, and every
  // client shares it (one buffer for `serve malloc://64M`, whatever the number of clients).
  const shared = defaultUri === undefined
    ? undefined
    : await registry.open(defaultUri, { write: !readOnly });
  // One budget for every session, RAP and HTTP; the default URI's RAM is part of it.
  const memoryBudget = new MemoryBudget(limits.maxMemory);
  try {
    memoryBudget.reserve(shared?.memoryUsage?.() ?? 0, `the default URI "${defaultUri}"`);
  } catch (error) {
    await shared?.close();
    throw error;
  }
  // Every listener is bound before any is announced: a port that is busy or not allowed
  // by --allow-net ends the command with one line naming it, and no "Listening" line.
  let server: RapServer;
  let http: HttpEndpoint | undefined;
  let httpSession: PinnedSession | undefined;
  try {
    server = bindListener(hostname, port, () =>
      RapServer.listen({
        hostname,
        port,
        readOnly,
        defaultUri,
        defaultDescriptor: shared,
        ...limits,
        maxMemory: memoryBudget,
        tls,
        token,
        allowFrom,
        fsync: values.fsync ?? false,
        registry,
        commandHandler: createShellCommandHandler({ policy }),
        log,
      }), "--port");
  } catch (error) {
    await shared?.close();
    throw error;
  }
  if (httpPort !== undefined) {
    // HTTP clients are remote too: no server stdin, and a pinned view of the shared default
    // (one HTTP client's o-* must not close it for the others).
    httpSession = new PinnedSession({
      registry: new RemoteRegistry(registry),
      maxOpenFiles: limits.maxOpenFiles,
      maxMemory: limits.maxSessionMemory,
      memoryBudget,
    });
    if (shared !== undefined) httpSession.pin(httpSession.add(new BorrowedDescriptor(shared)));
    try {
      http = await serveHttp({
        hostname,
        port: httpPort,
        portFlag: "--http-port",
        session: httpSession,
        policy,
        writable: !readOnly,
        tls,
        token,
        allowFrom,
        maxConnections: httpMaxConnections,
        maxBodyBytes: httpMaxBody,
        requestTimeout: limits.packetTimeout,
        commandTimeout: limits.commandTimeout,
        shutdownTimeout: limits.shutdownTimeout,
        backlog: limits.backlog,
        log,
      });
    } catch (error) {
      await server.close();
      await httpSession.release();
      await shared?.close();
      throw error;
    }
  }
  let gdb: ServeGdb | undefined;
  if (gdbPort !== undefined) {
    try {
      gdb = startGdbServer({
        hostname,
        port: gdbPort,
        shared: shared!,
        registry,
        readOnly,
        policy,
        allowFrom,
        maxConnections: limits.maxConnections,
        firstPacketTimeout: limits.packetTimeout,
        commandTimeout: limits.commandTimeout,
        maxOpenFiles: limits.maxOpenFiles,
        maxSessionMemory: limits.maxSessionMemory,
        memoryBudget,
      });
    } catch (error) {
      await server.close();
      await http?.shutdown();
      await httpSession?.release();
      await shared?.close();
      throw error;
    }
  }
  return await untilStopped({
    server,
    http,
    httpSession,
    gdb,
    shared,
    tls: tls !== undefined,
    log,
  });
}
