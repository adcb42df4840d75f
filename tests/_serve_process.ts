/**
 * Run `cli.ts serve` as a subprocess on 127.0.0.1 (port 0 unless given), for the fuzz and
 * load scripts and the tests that need a real process: crashes, memory and signals are
 * then observable from outside.
 *
 * @module
 */

/** A log line without the time `serve` puts first (`2026-01-02T03:04:05.678Z [rap] ...`). */
function unstamped(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, "");
}

/** The CLI entry point. */
export const CLI_PATH: string = new URL("../cli.ts", import.meta.url).pathname;

/**
 * How to start the server.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./_serve_process.ts";
 * const options: ServeOptions = { flags: ["--allow-net=127.0.0.1"], args: ["malloc://1M"] };
 * console.assert(options.args!.length === 1);
 * ```
 */
export interface ServeOptions {
  /** Deno permission flags (default `--allow-net=127.0.0.1 --allow-read`). */
  flags?: string[];
  /** Arguments after `serve` (URI and options); `--port 0` is added when no port is given. */
  args?: string[];
  /** The subcommand to run (default `serve`; `proxy` prints the same `Listening` line). */
  command?: string;
  /**
   * Run through `bash -c 'ulimit -n N; exec deno ...'` to raise the open file limit (to the
   * hard limit when N is above it; {@linkcode ServeProcess.fileLimit} tells what it got).
   */
  fileLimit?: number;
  /**
   * A command to run the server through, e.g. `["systemd-run", "--scope", "--quiet", "-p",
   * "MemoryMax=1G", "--"]` for a real memory limit (it must exec the command it is given).
   */
  wrap?: string[];
  /** The `cli.ts` to run (default this checkout's; e.g. another checkout's, to compare). */
  cli?: string;
  /** Called with every line the server writes on stderr (its log). */
  onLog?: (line: string) => void;
  /** Log lines kept in {@linkcode ServeProcess.logTail} (default 200). */
  keepLines?: number;
  /** Bytes piped into the server's standard input, which then stays open (default: none, /dev/null). */
  stdin?: Uint8Array;
}

/**
 * A running `cli.ts serve` subprocess.
 *
 * @example
 * ```ts
 * import type { ServeProcess } from "./_serve_process.ts";
 * const describe = (p: ServeProcess) => `${p.pid} on ${p.port}`;
 * console.assert(typeof describe === "function");
 * ```
 */
export interface ServeProcess extends AsyncDisposable {
  /** The process id. */
  pid: number;
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** The HTTP endpoint's port, when `--http-port` was given (0 otherwise). */
  httpPort: number;
  /** The last log lines (stderr). */
  logTail: string[];
  /** The kept log lines, joined. */
  readonly log: string;
  /** Resolves with the exit status when the process ends. */
  status: Promise<Deno.CommandStatus>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The resident set size in bytes (`VmRSS`), or undefined once it has exited. */
  rss(): Promise<number | undefined>;
  /** The peak resident set size in bytes (`VmHWM`), or undefined once it has exited. */
  peakRss(): Promise<number | undefined>;
  /** The process's soft limit of open files, from `/proc/PID/limits`. */
  fileLimit(): Promise<number | undefined>;
  /**
   * Send a signal and wait for the exit (with SIGKILL after `graceMs`).
   *
   * @param signal The signal (default SIGTERM).
   * @param graceMs How long to wait before SIGKILL (default 10000).
   * @returns The exit status and how long the exit took, in ms.
   */
  stop(
    signal?: Deno.Signal,
    graceMs?: number,
  ): Promise<{ status: Deno.CommandStatus; ms: number; killed: boolean }>;
}

async function procField(pid: number, field: string): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start `cli.ts serve` and wait for its `Listening on rap://H:P/` line.
 *
 * @param options Flags and arguments.
 * @returns The running process.
 * @throws {Error} If the process exits before listening (with its stderr).
 *
 * @example
 * ```ts
 * import { startServe } from "./_serve_process.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = await startServe({ args: ["hex://cafe"] });
 * assert.ok(server.port > 0);
 * assert.ok((await server.rss())! > 0);
 * const { status } = await server.stop();
 * assert.equal(status.code, 0);
 * ```
 */
export async function startServe(options: ServeOptions = {}): Promise<ServeProcess> {
  const flags = options.flags ?? ["--allow-net=127.0.0.1", "--allow-read"];
  const args = [...(options.args ?? [])];
  if (!args.includes("--port")) args.push("--port", "0");
  const denoArgs = [
    "run",
    "--quiet",
    ...flags,
    options.cli ?? CLI_PATH,
    options.command ?? "serve",
    ...args,
  ];
  const argv = [...(options.wrap ?? []), Deno.execPath(), ...denoArgs];
  if (options.fileLimit) {
    const ulimit = `ulimit -n ${options.fileLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`;
    argv.unshift("bash", "-c", `${ulimit}; exec "$0" "$@"`);
  }
  const command = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { NO_COLOR: "1" },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  let stdinWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  if (options.stdin) {
    stdinWriter = child.stdin.getWriter();
    await stdinWriter.write(options.stdin);
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const keep = options.keepLines ?? 200;
  const tail: string[] = [];
  const stderrDone = (async () => {
    let partial = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const stamped of lines) {
        const line = unstamped(stamped);
        options.onLog?.(line);
        tail.push(line);
        if (tail.length > keep) tail.shift();
      }
    }
    if (partial) {
      options.onLog?.(unstamped(partial));
      tail.push(unstamped(partial));
    }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let port = 0;
  let httpPort = 0;
  const wantHttp = args.includes("--http-port");
  while (port === 0 || (wantHttp && httpPort === 0)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    const m = /Listening on rap:\/\/[^\n]*:(\d+)\/\n/.exec(seen);
    if (m) port = Number(m[1]);
    const h = /Listening on https?:\/\/[^\n]*:(\d+)\/cmd\/\n/.exec(seen);
    if (h) httpPort = Number(h[1]);
  }
  const stdoutDone = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  })();
  const settle = async () => {
    const s = await status;
    await stdinWriter?.close().catch(() => {});
    await stdoutDone;
    await stderrDone;
    return s;
  };
  if (port === 0 || (wantHttp && httpPort === 0)) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await settle();
    throw new Error(`serve did not start:\n${seen}\n${tail.join("\n")}`);
  }

  const stop = async (signal: Deno.Signal = "SIGTERM", graceMs = 10_000) => {
    const started = performance.now();
    let killed = false;
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* exited meanwhile */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([status, timeout]);
    clearTimeout(timer);
    if (!exited) {
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    const s = await settle();
    return { status: s, ms: performance.now() - started, killed };
  };

  return {
    pid: child.pid,
    port,
    httpPort,
    logTail: tail,
    get log() {
      return tail.join("\n");
    },
    status,
    get exited() {
      return exited;
    },
    rss: () => procField(child.pid, "VmRSS"),
    peakRss: () => procField(child.pid, "VmHWM"),
    fileLimit: async () => {
      try {
        const text = await Deno.readTextFile(`/proc/${child.pid}/limits`);
        const m = /^Max open files\s+(\d+)/m.exec(text);
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop("SIGKILL", 5000);
    },
  };
}

/**
 * Find a free TCP port on 127.0.0.1 by listening on port 0 and closing (for servers whose
 * `--allow-net` must name the port before they start).
 *
 * @returns The port.
 *
 * @example
 * ```ts
 * import { freePort } from "./_serve_process.ts";
 * console.assert(freePort() > 0);
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Wait until something accepts TCP connections on 127.0.0.1:`port` (a server started
 * outside this process: nbdkit, radare2), trying every 50 ms for about 10 s.
 *
 * @param port The port.
 * @throws {Error} When nothing accepts in time.
 *
 * @example
 * ```ts
 * import { acceptsOn } from "./_serve_process.ts";
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept().then((conn) => conn.close());
 * await acceptsOn(listener.addr.port);
 * await accepted;
 * ```
 */
export async function acceptsOn(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing accepts on 127.0.0.1:${port}`);
}

/**
 * The `serve` arguments that let `count` clients from this host (all from 127.0.0.1, each
 * connected before its first request) in at once: `--max-connections`, `--max-per-address`
 * and `--max-pending`, all set to `count`.
 *
 * @param count How many connections.
 * @returns The arguments.
 *
 * @example
 * ```ts
 * import { connectionLimitArgs } from "./_serve_process.ts";
 * console.assert(connectionLimitArgs(300).join(" ") ===
 *   "--max-connections 300 --max-per-address 300 --max-pending 300");
 * ```
 */
export function connectionLimitArgs(count: number): string[] {
  return ["--max-connections", "--max-per-address", "--max-pending"].flatMap((flag) => [
    flag,
    String(count),
  ]);
}

/**
 * Format a byte count as MiB with one decimal.
 *
 * @param bytes The count (undefined prints "n/a").
 * @returns The text.
 *
 * @example
 * ```ts
 * import { mib } from "./_serve_process.ts";
 * console.assert(mib(3 * 1024 * 1024) === "3.0 MiB");
 * ```
 */
export function mib(bytes: number | undefined): string {
  return bytes === undefined ? "n/a" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Run `cli.ts` once as a subprocess (no stdin) and collect what it printed.
 *
 * @param flags Deno's flags (`--allow-read=...`).
 * @param args The command line after `cli.ts`.
 * @param cwd The directory to run in (default this one).
 * @returns The exit code and both outputs, decoded.
 *
 * @example
 * ```ts
 * import { runRap } from "./_serve_process.ts";
 * const { code, stdout } = await runRap([], ["--version"]);
 * console.assert(code === 0 && stdout.length > 0);
 * ```
 */
export async function runRap(
  flags: string[],
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, CLI_PATH, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
