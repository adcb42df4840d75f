/**
 * radare2's `=` commands as shell commands ({@linkcode REMOTE_COMMANDS}): the `=`
 * dispatcher reads the character after `=` and hands the rest to the host table
 * (`hosts.ts`), the servers (`servers.ts`), the reverse prompt or the current file's plugin.
 *
 * Where radare2's help and its code disagree, this follows the help (marked "help" in
 * the comments below), since the help is what users read.
 *
 * @module
 */

import type { CommandEnv, CommandSpec } from "../command.ts";
import { ioSystem } from "../commands/misc.ts";
import { OutputBuffer, withNewline } from "../output.ts";
import { createReverseCommandHandler } from "../peer.ts";
import { CommandPolicy } from "../policy.ts";
import { reversePrompt } from "../reverse_prompt.ts";
import { formatSessions, listSessions } from "../sessions.ts";
import { dialRap, explainRefusal, type RapDial } from "./dial.ts";
import { MAX_HOSTS, type RemoteShell, type RemoteState } from "./hosts.ts";
import { parseHostPort } from "./target.ts";

const decoder = new TextDecoder();

const HELP = `Usage: =[:!+-=hH] [...]  # connect with other instances of r2 or rap
| =[*j]                   list the remote hosts
| =+ [proto://]host:port[/file]  add a host (rap://, raps://, tcp://, udp://, http://)
| =-[n]                   remove host n, or all hosts
| =[n] cmd                run cmd on host n (default: the current host)
| ==[n]                   interactive session with host n ('q' or an empty line leaves)
| =<[n] cmd               send the output of a local cmd to host n (tcp, udp)
| =!cmd                   run cmd through the current file's plugin (same as :cmd)
| !=![n]                  remote mode on: every line goes to host n (or the current file)
| =!=                     remote mode off (also =!q, or a line starting with q)
| =:port                  serve rap in the foreground (interrupt to stop)
| =&:port                 serve rap in the background (=&- stops those servers)
| =:host:port cmd         run cmd on a rap server (one connection)
| =r port                 same as =:port
| =r host:port, =R ...    reverse prompt: let host:port type commands here (=R retries)
| =t port                 plain-TCP command server, in the foreground
| =t [host:]port cmd      send cmd to a =t server and print the reply
| =h [port]               serve HTTP (the /cmd endpoint and a page at /) in the foreground,
|                         as r2 -qc '=h 9090' FILE: until ^C/SIGINT, SIGTERM or =h- (default 9090)
| =h& [port]              the same in the background (the next commands run at once)
| =H [port], =H& [port]   the same; prints the page's URL (no browser is launched)
| =h-, =h--               stop the HTTP endpoint (also from one of its clients)
| =g port [uri]           GDB remote-protocol server over the current file (or uri)
| =l, =lj                 list the sessions registered by =h ($TMPDIR/r2/PID.pid)
| =ll, =l-                serve =h on a free port and register it / stop it
`;

const GDB_HELP = `Usage: =g port [uri]  # a GDB remote-protocol server, in the foreground
| =g 1234                 serve the current file's bytes: gdb -ex 'target remote 127.0.0.1:1234'
| =g 1234 ihex://fw.hex   serve uri instead (opened while it runs)
| over a dbg:// or gdb:// process, gdb's registers, c, s, ^C and breakpoints reach the process
| gdb's "monitor CMD" runs CMD here, under the peers' command policy
`;

/**
 * One `=X` command: the environment, and the text after `=X` (trimmed). A `false` result
 * leaves the text to `=N cmd`.
 */
type Subcommand = (env: CommandEnv<RemoteShell>, rest: string) => Promise<unknown> | unknown;

function listHosts(state: RemoteState, style: "" | "*" | "j"): string {
  const hosts = state.hosts();
  if (style === "j") {
    return JSON.stringify(hosts.map(({ host }) => ({
      protocol: host.proto,
      fd: host.fd,
      host: host.host,
      port: host.port,
      file: host.file,
    }))) + "\n";
  }
  const prefix = style === "*" ? "# " : "";
  return hosts.map(({ slot, host }) =>
    `${prefix}${slot} fd:${host.fd} ${host.proto}://${host.host}:${host.port}/${host.file}\n`
  ).join("");
}

/** `=`, `=*`, `=j`: list the hosts. */
function list(style: "" | "*" | "j"): Subcommand {
  return ({ shell, out }, rest) => {
    if (rest !== "") return false;
    out.write(listHosts(shell.remote, style));
  };
}

async function stopHttp({ shell, out }: CommandEnv<RemoteShell>): Promise<void> {
  if (!await shell.remote.servers.stopHttp()) out.message("INFO: the http server is not running");
}

/** `=<[n] cmd`: send the output of a local command to a host. */
async function push(env: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  const { shell, out } = env;
  // help: "=<[fd] cmd" works with any host (radare2's code only finds the current one).
  const m = /^(\d+)\s+([\s\S]+)$/.exec(rest);
  const slot = m ? Number(m[1]) : shell.remote.current;
  const command = m ? m[2] : rest;
  if (command === "") throw new SyntaxError("Usage: =<[n] cmd");
  const buffer = new OutputBuffer(out);
  await shell.execute(command, buffer, { signal: env.signal });
  await shell.remote.push(slot, buffer.bytes());
}

/** `==[n]`: an interactive session with a host. */
async function interactive({ shell, out }: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  const state = shell.remote;
  if (rest.startsWith("=")) throw new Error("===errmsg (stderr FIFO) is not supported");
  const slot = rest === "" ? state.current : Number(rest);
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_HOSTS) {
    throw new SyntaxError(`Invalid fd "${rest}"`);
  }
  const host = state.hosts().find((h) => h.slot === slot)?.host;
  if (!host) throw new Error(`Unknown host ${slot}`);
  if (host.proto === "udp") throw new Error("Invalid connection: udp hosts take no commands");
  const prompt = `[${host.proto}://${host.host}:${host.port}/]> `;
  const stop = shell.interrupted();
  for (;;) {
    const line = await Promise.race([shell.readLine(prompt), stop.then(() => null)]);
    if (line === null || line.trim() === "" || line.trim().startsWith("q")) return;
    try {
      out.write(await state.printed(slot, line.trim()));
    } catch (error) {
      out.message(`ERROR: ${(error as Error).message}`);
    }
  }
}

/** `=!cmd` (the current file's plugin), `=!=` (remote mode off), `=!=N` (on, for host N). */
async function bang(env: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  const state = env.shell.remote;
  if (rest === "=" || rest === "q") {
    // help: "=!= disable remote cmd mode" (radare2's code enables it).
    state.mode = undefined;
    return;
  }
  if (rest.startsWith("=")) {
    // radare2's code: "=!=N" turns remote mode on for host N; kept for its users.
    const arg = rest.slice(1).trim();
    if (!/^\d+$/.test(arg)) throw new SyntaxError("Usage: !=![n] (on), =!= (off)");
    state.mode = arg;
    return;
  }
  await ioSystem({ ...env, name: "=!", args: env.args.slice(1) });
}

/** `=h [port]` (foreground), `=h& [port]` (background), `=h-`: the HTTP endpoint. */
async function http(env: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  if (rest === "-" || rest === "--") return await stopHttp(env);
  if (rest === "?") return env.out.write(HELP);
  const background = rest.startsWith("&");
  const arg = rest.replace(/^&/, "").trim();
  const port = arg === "" ? 9090 : Number(arg);
  if (!/^\d*$/.test(arg) || port > 65535) {
    throw new SyntaxError(`Invalid port "${arg}" (usage: =h [port], =h& [port], =h-)`);
  }
  const { servers } = env.shell.remote;
  // A peer's =h (RAP CMD, HTTP) cannot hold its request open: it is always in the background.
  if (background || env.shell.activePeer) await servers.startHttp(port, env.out);
  else await servers.serveHttp(port, env.out);
}

/** `=t port` (serve), `=t [host:]port cmd` (one command to a `=t` server). */
async function tcp({ shell, out }: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  if (rest === "") throw new SyntaxError("Usage: =t port (server), =t [host:]port cmd");
  const m = /^(\S+)(?:\s+([\s\S]+))?$/.exec(rest)!;
  const { host, port } = parseHostPort(m[1], "localhost");
  if (m[2] === undefined) return await shell.remote.servers.serveTcp(port, out);
  const reply = await shell.remote.tcpQuery(host, port, m[2]);
  out.write(reply.length && reply.at(-1) !== 0x0a ? withNewline(decoder.decode(reply)) : reply);
}

/** `=g port [uri]`: the GDB server over the current file (or uri), in the foreground. */
async function gdb({ shell, out }: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  const m = /^(\d+)(?:\s+([\s\S]+))?$/.exec(rest);
  if (!m || Number(m[1]) > 65535) {
    if (rest === "?" || rest === "") return out.write(GDB_HELP);
    throw new SyntaxError(`Usage: =g port [uri] (got "=g ${rest}")`);
  }
  await shell.remote.servers.serveGdb(Number(m[1]), m[2]?.trim(), out);
}

/** `=r port` (serve), `=r host:port` / `=R host:port` (reverse prompt). */
function reverse(retry: boolean): Subcommand {
  return async ({ shell, out }, rest) => {
    // help: "=r port start the rap server"; radare2's code: "=r host:port" opens a
    // reverse prompt (=R retries the connection every second). Both work here.
    if (/^\d+$/.test(rest)) return await shell.remote.servers.serveForeground(Number(rest), out);
    if (rest === "") throw new SyntaxError("Usage: =r port (serve), =r host:port, =R host:port");
    const { host, port } = parseHostPort(rest, "localhost");
    const count = await reversePrompt(shell, host, port, {
      retry,
      policy: shell.options.peerPolicy ?? CommandPolicy.RESTRICTED,
    });
    out.message(`INFO: reverse prompt to ${host}:${port} closed after ${count} command(s)`);
  };
}

/** `=&:port` (serve in the background), `=&-` (stop those servers). */
function background({ shell, out }: CommandEnv<RemoteShell>, rest: string): Promise<void> | void {
  if (rest === "-") return shell.remote.servers.stopBackground();
  const m = /^:(\d+)$/.exec(rest);
  if (!m) throw new SyntaxError("Usage: =&:port, =&- (stop)");
  shell.remote.servers.serveBackground(Number(m[1]), out);
}

/** `=:port` (serve in the foreground), `=:host:port cmd` (one command on a RAP server). */
async function colon({ shell, out }: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  const server = /^(\d+)$/.exec(rest);
  if (server) return await shell.remote.servers.serveForeground(Number(server[1]), out);
  // help: "=:host:port cmd" (radare2's code falls through to "=cmd").
  const query = /^(\[[^\]]*\]|[^:\s]*):(\d+)\s+([\s\S]+)$/.exec(rest);
  if (!query) throw new SyntaxError("Usage: =:port (serve), =:host:port cmd");
  const dial: RapDial = {
    hostname: query[1].replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: Number(query[2]),
    tls: false,
    credentials: shell.options,
    onReverseCommand: createReverseCommandHandler(shell),
  };
  await using client = await dialRap(dial);
  let output: string;
  try {
    output = await client.cmd(query[3]);
  } catch (error) {
    throw await explainRefusal(error, dial);
  }
  out.write(output + "\n"); // as =N prints a rap host's reply
}

/** `=l`, `=lj` (list the registered sessions), `=ll` (serve `=h` and register), `=l-`. */
async function sessions(env: CommandEnv<RemoteShell>, rest: string): Promise<void> {
  if (rest === "" || rest === "j") {
    return env.out.write(formatSessions(await listSessions(), rest === "j"));
  }
  if (rest === "l") {
    const { servers } = env.shell.remote;
    if (!servers.http) await servers.startHttp(0, env.out);
    return;
  }
  if (rest === "-") return await stopHttp(env);
  throw new SyntaxError("Usage: =l (list sessions), =lj, =ll (serve and register), =l-");
}

/** The `=X` commands by their character X. */
const SUBCOMMANDS: ReadonlyMap<string, Subcommand> = new Map(Object.entries<Subcommand>({
  "": list(""),
  "*": list("*"),
  "j": list("j"),
  "?": ({ out }) => out.write(HELP),
  "+": async ({ shell, out }, rest) => {
    if (rest === "" || rest === "?") return out.write(HELP);
    await shell.remote.add(rest, out);
  },
  "-": ({ shell }, rest) => {
    // help: "=-[fd] remove all hosts or host 'fd'" (radare2's code treats "=- 1" as all).
    if (rest === "") return shell.remote.remove();
    if (!/^\d+$/.test(rest)) throw new SyntaxError("Usage: =-[n]");
    return shell.remote.remove(Number(rest));
  },
  "<": push,
  "=": interactive,
  "!": bang,
  "h": http,
  "H": http,
  "t": tcp,
  "r": reverse(false),
  "R": reverse(true),
  "&": background,
  ":": colon,
  "l": sessions,
  "g": gdb,
}));

/** `=…`: the subcommand of the character after `=`, else `=N cmd` / `=cmd`. */
async function equals(env: CommandEnv<RemoteShell>): Promise<void> {
  const text = env.args;
  const sub = SUBCOMMANDS.get(text[0] ?? "");
  if (sub && await sub(env, text.slice(1).trim()) !== false) return;
  // "=N cmd" or "=cmd" (the current host).
  const state = env.shell.remote;
  const m = /^(\d+)(?:\s+([\s\S]*))?$/.exec(text);
  const slot = m ? Number(m[1]) : state.current;
  const command = m ? m[2] ?? "" : text;
  if (command.trim() === "") {
    state.current = slot;
    return;
  }
  env.out.write(await state.printed(slot, command));
}

/**
 * The `=` family as shell commands (`=…` and `!=!`), all needing the `remote` capability.
 *
 * @example
 * ```ts
 * import { REMOTE_COMMANDS } from "@rap/cli/shell";
 * console.assert(REMOTE_COMMANDS.every((c) => c.capability === "remote"));
 * ```
 */
export const REMOTE_COMMANDS: readonly CommandSpec<RemoteShell>[] = [
  {
    name: "=",
    usage: "[?]",
    help: "remote hosts and servers (=? for the list)",
    capability: "remote",
    unlocked: true,
    run: equals,
  },
  {
    name: "!=!",
    usage: "[n]",
    help: "remote mode on: every line goes to host n (=!= turns it off)",
    capability: "remote",
    unlocked: true,
    run({ shell, args }) {
      // help: "!=! enable remote cmd mode" (radare2's code disables it).
      if (args !== "" && !/^\d+$/.test(args)) throw new SyntaxError("Usage: !=![n]");
      shell.remote.mode = args;
    },
  },
];
