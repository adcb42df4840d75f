/**
 * `dbg:///path/to/program [args]`, `dbg://PID`, `pid://PID`, `attach://PID` and
 * `pidof://NAME` — debug a process through Debian's `gdbserver`: the plugin starts
 * gdbserver on a private loopback port, launching the program (its arguments split as a
 * shell would, quotes kept together, but no shell runs) or attaching to the process, and
 * opens it as `gdb://` does. The file is the process's memory (offsets are addresses,
 * unmapped bytes read as 0xff); the plugin commands are radare2's debugger basics (`dr`,
 * `ds`, `dso`, `dc`, `db`, `dm`, `dp`, `dk`, see `_gdb_debug.ts`) and those of `gdb://`.
 *
 * Closing kills a program the plugin launched and detaches from a process it attached
 * to, and gdbserver exits (see `_gdbserver.ts`: no process is left, also when rap is
 * killed or a client drops). Deno needs `--allow-run=gdbserver` and the loopback net
 * (`--allow-net=127.0.0.1`); `pidof://` also reads `/proc` (`--allow-read=/proc`).
 * Attaching needs ptrace rights (the same user and `kernel.yama.ptrace_scope` 0, or
 * `CAP_SYS_PTRACE`).
 *
 * @example
 * ```ts
 * import dbg, { parseDbgUri } from "./dbg.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseDbgUri("dbg:///bin/echo 'a b' c"), { program: ["/bin/echo", "a b", "c"] });
 * assert.deepEqual(parseDbgUri("pid://42"), { attach: 42 });
 * assert.deepEqual(dbg.permissions("dbg:///bin/ls", {}), [
 *   { name: "run", command: "gdbserver" },
 *   { name: "net", host: "127.0.0.1" },
 * ]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { definePlugin } from "../lib/io/plugin_base.ts";
import type { IoPlugin, OpenOptions } from "../lib/io/types.ts";
import { Gdbserver, type GdbserverTarget } from "./_gdbserver.ts";
import { GdbDescriptor } from "./gdb.ts";

/**
 * What a `dbg://` family URI asks for.
 *
 * @example
 * ```ts
 * import type { DbgTarget } from "./dbg.ts";
 * const target: DbgTarget = { pidof: "sleep" };
 * console.assert("pidof" in target);
 * ```
 */
export type DbgTarget = GdbserverTarget | { pidof: string };

/**
 * Split a command line as a shell would (`'...'`, `"..."` and `\` quote), without
 * expanding anything.
 *
 * @param text The command line.
 * @returns The words.
 * @throws {SyntaxError} On an unterminated quote.
 *
 * @example
 * ```ts
 * import { splitCommandLine } from "./dbg.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitCommandLine(`/bin/sh -c "echo \\"hi\\"" x\\ y`), ["/bin/sh", "-c", 'echo "hi"', "x y"]);
 * ```
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < text.length && /["\\$`]/.test(text[i + 1])) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new SyntaxError(`Unterminated ${quote} in "${text}"`);
  if (word !== undefined) words.push(word);
  return words;
}

function parsePid(uri: string, text: string): number {
  const pid = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid < 1) {
    throw new IoError(uri, `Cannot open "${uri}": invalid process id "${text}"`);
  }
  return pid;
}

/**
 * Parse a URI of the plugin: `dbg:///program args` (launch), `dbg://PID`, `pid://PID`,
 * `attach://PID` (attach), `pidof://NAME` (attach to the one process of that name).
 *
 * @param uri The URI.
 * @returns What to debug.
 * @throws {IoError} For a missing program, a bad PID or quote.
 */
export function parseDbgUri(uri: string): DbgTarget {
  const m = /^([a-z]+):\/\/(.*)$/is.exec(uri);
  const scheme = m?.[1].toLowerCase();
  const rest = (m?.[2] ?? "").trim();
  if (rest === "") {
    throw new IoError(
      uri,
      `Cannot open "${uri}": missing ${
        scheme === "pidof" ? "process name" : "program or process id"
      }`,
    );
  }
  if (scheme === "pidof") return { pidof: rest };
  if (scheme !== "dbg" || /^\d+$/.test(rest)) return { attach: parsePid(uri, rest) };
  let program: string[];
  try {
    program = splitCommandLine(rest);
  } catch (error) {
    throw new IoError(uri, `Cannot open "${uri}": ${(error as Error).message}`);
  }
  return { program };
}

/**
 * The process whose name (`/proc/PID/comm`, or the base name of its command) is `name`:
 * there must be exactly one, rap and its gdbservers aside.
 *
 * @param uri The URI being opened.
 * @param name The process name.
 * @returns Its PID.
 * @throws {IoError} When none or several match.
 */
export async function findPidByName(uri: string, name: string): Promise<number> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const comm = (await Deno.readTextFile(`/proc/${entry.name}/comm`)).trim();
      const argv0 = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0")[0];
      if (comm === "gdbserver") continue;
      if (comm === name || argv0 === name || argv0.split("/").at(-1) === name) {
        found.push(Number(entry.name));
      }
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
  if (found.length === 0) {
    throw new IoError(uri, `Cannot open "${uri}": no process named "${name}"`);
  }
  if (found.length > 1) {
    throw new IoError(
      uri,
      `Cannot open "${uri}": ${found.length} processes are named "${name}" ` +
        `(${found.sort((a, b) => a - b).slice(0, 10).join(", ")}): use pid://PID`,
    );
  }
  return found[0];
}

async function open(uri: string, options: OpenOptions): Promise<GdbDescriptor> {
  const parsed = parseDbgUri(uri);
  const target: GdbserverTarget = "pidof" in parsed
    ? { attach: await findPidByName(uri, parsed.pidof) }
    : parsed;
  const server = await Gdbserver.start(uri, target);
  try {
    return await GdbDescriptor.connect(uri, { hostname: "127.0.0.1", port: server.port }, options, {
      plugin: "dbg",
      afterRelease: () => server.stop(),
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The `dbg` plugin (schemes `dbg`, `pid`, `attach`, `pidof`).
 *
 * @example
 * ```ts
 * import dbg from "./dbg.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(dbg.open("pid://0", {}), /invalid process id "0"/);
 * ```
 */
const dbg: IoPlugin = definePlugin({
  name: "dbg",
  description: "debug a program or process through gdbserver (dbg:///path args, dbg://PID, " +
    "pid://PID, attach://PID, pidof://NAME)",
  schemes: ["dbg", "pid", "attach", "pidof"],
  uriForms: [
    "dbg:///path/to/program [args]",
    "dbg://PID",
    "pid://PID",
    "attach://PID",
    "pidof://NAME",
  ],
  capabilities: { write: true, system: true },
  permissions: (uri) => [
    { name: "run", command: "gdbserver" },
    { name: "net", host: "127.0.0.1" },
    ...(/^pidof:/i.test(uri) ? [{ name: "read", path: "/proc" } as const] : []),
  ],
  open,
});

export default dbg;
