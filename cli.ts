/**
 * The `rap` command line: `serve`, `cat`, `plugins` and `shell`.
 *
 * @example Run a command in-process and read its exit code
 * ```ts
 * import { main } from "@rap/cli/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await main(["--version"]), 0);
 * ```
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { IoRegistry } from "./lib/io/registry.ts";
import type { IoPlugin } from "./lib/io/types.ts";
import { parseNumber } from "./lib/io/uri.ts";
import { RapServer } from "./lib/server/server.ts";
import { createShellCommandHandler } from "./lib/shell/handler.ts";
import { parseCommandPolicy } from "./lib/shell/policy.ts";
import { type HttpEndpoint, serveHttp } from "./lib/shell/http.ts";
import { bindListener } from "./lib/net/listen_error.ts";
import { DEFAULT_MAX_MEMORY, MemoryBudget } from "./lib/io/memory_budget.ts";
import { VERSION } from "./lib/version.ts";
import { AddressFilter } from "./lib/net/address_filter.ts";
import { readTokenFile } from "./lib/net/auth.ts";
import { RemoteRegistry } from "./lib/server/remote_registry.ts";
import { BorrowedDescriptor } from "./lib/io/borrowed_descriptor.ts";
import { PinnedSession } from "./lib/io/pinned_session.ts";
import { INSECURE_TLS_HINT, loadCaCerts, loadCertificate } from "./lib/net/tls.ts";
import { createRapPlugin } from "./plugins/rap.ts";

/** A usage mistake: printed with a hint, exit code 2. */
class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `rap ${VERSION} — radare2's Remote Access Protocol for Deno

Usage: rap <command> [options]

Commands:
  serve [URI]     serve RAP (and optionally HTTP) on 127.0.0.1:9999
  cat URI         write the bytes of any URI to stdout
  plugins         list the IO plugins (like r2 -L)
  shell [URI]     r2-style command shell with the = remote commands

Options:
  -h, --help      help (also "rap <command> --help")
  -V, --version   print the version
`,
  serve: `Usage: rap serve [URI] [options]

Serve RAP: each connection gets its own session. URI, if given, is opened once at start
and shared by the clients that read or send commands before any OPEN.

Options:
  --host H              address to bind (default 127.0.0.1; others get a warning without TLS)
  --port P              port (default 9999; 0 picks a free port)
  --read-only           open everything read-only, refuse writes
  --allow-cmd CAPS      widen what clients' commands may do: open, fs, remote, system, all
                        (comma-separated, repeatable; default: only the session's own files)
  --http-port N         also serve radare2's =h HTTP endpoint (GET /cmd/..., POST /cmd) on
                        this port, under the same TLS, token, --allow-from, --read-only and
                        --allow-cmd as RAP; its clients share one session (seek, files) in
                        which the served URI is pinned: o-* cannot close it
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
  --max-connections N   most connections at once, counting the files sessions open over the
                        network (rap://, tcp:// ...); when full, one that has not completed a
                        request yet makes room, else the new one is refused (default 256)
  --max-per-address N   most connections in use from one client address (IPv6: one /64),
                        counting the files its sessions open over the network (default 64)
  --max-pending N       most connections that have not completed a first request yet (with
                        --token-file: not authenticated); when full, the oldest of the address
                        with the most is closed to make room (default 64)
  --first-request-timeout MS  close a connection whose first request (with --token-file: the
                        token; with TLS: the handshake too) is not complete this long after
                        it connected (default 10000; 0: never)
  --max-open-files N    most files one client may have open (default 64)
  --max-session-memory N  most RAM the files one client opens may hold (malloc://, gzip://,
                        sparse:// ...; r2 numbers like 256M; default 1G)
  --max-memory N        most RAM the files of all clients (RAP and HTTP) may hold together
                        (default 2G); archives and compressed files are checked against
                        what is left before they are inflated
  --idle-timeout MS     close connections idle this long (default 0: never)
  --packet-timeout MS   a started request must arrive whole within this (default 10000);
                        an HTTP request (head and body) within this from the connection
  --cmd-timeout MS      answer a command still running after this with an error (default 5000;
                        HTTP: 503)
  --http-max-connections N  most HTTP connections at once; more get 503 (default 128)
  --http-max-body N     largest POST /cmd body (default 1M; larger: 413, not read). Request
                        heads are cut at 8K (431), replies at 4M, kept-alive connections
                        close after 5 s idle
  --backlog N           kernel queue of connections not yet accepted (default 511)
  --shutdown-timeout MS on SIGINT/SIGTERM, time to answer requests already received
                        (default 3000)
  --fsync               sync every write to disk before acknowledging it
`,
  cat: `Usage: rap cat URI [--offset N] [--size N]

Write the bytes of URI (any plugin, including rap://host:port//path and
raps://host:port//path) to stdout.

Options:
  --offset N            start at N (r2 numbers: 0x100, 4K ...)
  --size N              write N bytes (default: to the end)
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)
  --ca FILE             trust this CA (PEM) for raps://, besides the system's (repeatable)
  --token-file FILE     the token of a server started with --token-file
  --insecure            refused: Deno cannot skip certificate checks per connection; run
                        deno with --unsafely-ignore-certificate-errors=HOST instead
`,
  plugins: `Usage: rap plugins [--json]

List the IO plugins like r2 -L: capabilities (r read, w write, s system commands), name,
description and URI forms.

Options:
  --json                machine-readable output
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)
`,
};

function parse<const T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  try {
    const value = parseNumber(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new SyntaxError();
    return value;
  } catch {
    throw new UsageError(`--${name} expects a non-negative number, got "${text}"`);
  }
}

async function registryWith(plugins: string[] | undefined): Promise<IoRegistry> {
  const registry = new IoRegistry();
  if (plugins && plugins.length > 0) {
    const { loadPlugin } = await import("./lib/io/plugin_loader.ts");
    for (const specifier of plugins) registry.register(await loadPlugin(specifier));
  }
  return registry;
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parse("serve", args, {
    host: { type: "string" },
    port: { type: "string" },
    "read-only": { type: "boolean" },
    "max-connections": { type: "string" },
    "max-per-address": { type: "string" },
    "max-pending": { type: "string" },
    "first-request-timeout": { type: "string" },
    "max-open-files": { type: "string" },
    "max-session-memory": { type: "string" },
    "max-memory": { type: "string" },
    "idle-timeout": { type: "string" },
    "packet-timeout": { type: "string" },
    "cmd-timeout": { type: "string" },
    backlog: { type: "string" },
    "shutdown-timeout": { type: "string" },
    fsync: { type: "boolean" },
    cert: { type: "string" },
    key: { type: "string" },
    "token-file": { type: "string" },
    "allow-from": { type: "string", multiple: true },
    "allow-cmd": { type: "string", multiple: true },
    "http-port": { type: "string" },
    "http-max-connections": { type: "string" },
    "http-max-body": { type: "string" },
    plugin: { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("serve");
  if (values.key !== undefined && values.cert === undefined) {
    throw new UsageError("--key needs --cert");
  }
  let allowFrom: AddressFilter | undefined;
  if (values["allow-from"] !== undefined) {
    try {
      allowFrom = AddressFilter.parse(values["allow-from"].join(","));
    } catch (error) {
      throw new UsageError(`--allow-from: ${(error as Error).message}`);
    }
  }
  const limits = {
    maxConnections: number("max-connections", values["max-connections"], 256),
    maxPerAddress: number("max-per-address", values["max-per-address"], 64),
    maxPending: number("max-pending", values["max-pending"], 64),
    firstRequestTimeout: number("first-request-timeout", values["first-request-timeout"], 10_000),
    maxOpenFiles: number("max-open-files", values["max-open-files"], 64),
    maxSessionMemory: number("max-session-memory", values["max-session-memory"], 2 ** 30),
    maxMemory: number("max-memory", values["max-memory"], DEFAULT_MAX_MEMORY),
    idleTimeout: number("idle-timeout", values["idle-timeout"], 0),
    packetTimeout: number("packet-timeout", values["packet-timeout"], 10_000),
    commandTimeout: number("cmd-timeout", values["cmd-timeout"], 5000),
    backlog: number("backlog", values.backlog, 511),
    shutdownTimeout: number("shutdown-timeout", values["shutdown-timeout"], 3000),
  };
  if (limits.maxOpenFiles < 1) throw new UsageError("--max-open-files must be at least 1");
  const counts = {
    "max-connections": limits.maxConnections,
    "max-per-address": limits.maxPerAddress,
    "max-pending": limits.maxPending,
  };
  for (const [flag, value] of Object.entries(counts)) {
    if (value < 1) throw new UsageError(`--${flag} must be at least 1`);
  }
  let policy;
  try {
    policy = parseCommandPolicy(values["allow-cmd"] ?? []);
  } catch (error) {
    throw new UsageError(`--allow-cmd: ${(error as Error).message}`);
  }
  const httpPort = values["http-port"] === undefined
    ? undefined
    : number("http-port", values["http-port"], 0);
  if (httpPort !== undefined && httpPort > 65535) {
    throw new UsageError(`--http-port must be 0 to 65535, got ${httpPort}`);
  }
  const httpLimits = {
    maxConnections: number("http-max-connections", values["http-max-connections"], 128),
    maxBodyBytes: number("http-max-body", values["http-max-body"], 1 << 20),
  };
  if (positionals.length > 1) throw new UsageError(`serve: expected at most one URI`);
  const port = number("port", values.port, 9999);
  if (port > 65535) throw new UsageError(`--port must be 0 to 65535, got ${port}`);
  const hostname = values.host ?? "127.0.0.1";
  const registry = await registryWith(values.plugin);
  const tls = values.cert === undefined
    ? undefined
    : await loadCertificate(values.cert, values.key);
  const token = values["token-file"] === undefined
    ? undefined
    : await readTokenFile(values["token-file"]);
  const defaultUri = positionals[0];
  const readOnly = values["read-only"] ?? false;
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
        ...httpLimits,
        requestTimeout: limits.packetTimeout,
        commandTimeout: limits.commandTimeout,
        shutdownTimeout: limits.shutdownTimeout,
        backlog: limits.backlog,
      });
    } catch (error) {
      await server.close();
      await httpSession.release();
      await shared?.close();
      throw error;
    }
  }
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

async function cat(args: string[]): Promise<number> {
  const { values, positionals } = parse("cat", args, {
    offset: { type: "string" },
    size: { type: "string" },
    plugin: { type: "string", multiple: true },
    ca: { type: "string", multiple: true },
    "token-file": { type: "string" },
    insecure: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("cat");
  if (values.insecure) throw new UsageError(`--insecure: ${INSECURE_TLS_HINT}`);
  if (positionals.length !== 1) throw new UsageError("cat: expected one URI");
  const offset = number("offset", values.offset, 0);
  const size = values.size === undefined ? undefined : number("size", values.size, 0);
  const registry = await registryWith(values.plugin);
  if (values.ca !== undefined || values["token-file"] !== undefined) {
    const caCerts: string[] = [];
    for (const file of values.ca ?? []) caCerts.push(...await loadCaCerts(file));
    const token = values["token-file"] === undefined
      ? undefined
      : await readTokenFile(values["token-file"]);
    registry.register(createRapPlugin({ caCerts, token }));
  }
  await using desc = await registry.open(positionals[0]);
  const end = size !== undefined ? offset + size : await desc.size();
  if (!Number.isFinite(end)) {
    throw new UsageError(`cat: "${positionals[0]}" has no end; give --size`);
  }
  const step = 1 << 20;
  for (let at = offset; at < end;) {
    const bytes = await desc.read(at, Math.min(step, end - at));
    if (bytes.length === 0) break;
    let done = 0;
    while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
    at += bytes.length;
  }
  return 0;
}

function capabilities(plugin: IoPlugin): string {
  const c = plugin.capabilities;
  return `${c.read ? "r" : "_"}${c.write ? "w" : "_"}${c.system ? "s" : "_"}`;
}

async function plugins(args: string[]): Promise<number> {
  const { values, positionals } = parse("plugins", args, {
    json: { type: "boolean" },
    plugin: { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("plugins");
  if (positionals.length > 0) throw new UsageError("plugins: takes no arguments");
  const list = await (await registryWith(values.plugin)).list();
  if (values.json) {
    console.log(JSON.stringify(
      list.map((p) => ({
        name: p.name,
        description: p.description,
        schemes: p.schemes,
        uris: p.uriForms,
        capabilities: p.capabilities,
        license: p.license ?? "MIT",
      })),
      null,
      2,
    ));
    return 0;
  }
  const width = Math.max(...list.map((p) => p.name.length));
  for (const p of list) {
    console.log(
      `${capabilities(p)}  ${p.name.padEnd(width)}  ${p.description} (${p.uriForms.join(" ")})`,
    );
  }
  return 0;
}

async function shell(args: string[]): Promise<number> {
  const { shellMain } = await import("./lib/cli/shell.ts");
  return await shellMain(args);
}

function help(topic: string): number {
  console.log(HELP[topic] ?? HELP.main);
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve,
  cat,
  plugins,
  shell,
};

/**
 * Run the command line.
 *
 * @param args The arguments (without the program name).
 * @returns The exit code: 0 success, 1 runtime error, 2 usage error.
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      if (command === undefined) {
        console.error(HELP.main);
        return 2;
      }
      return help(rest[0] ?? "main");
    }
    if (command === "-V" || command === "--version") {
      console.log(VERSION);
      return 0;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command "${command}" (try "rap --help")`);
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`rap: ${error.message}`);
      return 2;
    }
    console.error(`rap: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
