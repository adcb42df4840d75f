/**
 * radare2's session files (`=l`): a shell serving the `=h` HTTP endpoint registers itself as
 * `$TMPDIR/r2/<pid>.pid`, holding `<uri>#<file>` with the uri `r2web://HOST:PORT/cmd`, so
 * other shells can list the running sessions and reach them with `=+ http://`.
 *
 * Every permission is asked first (`Deno.permissions.querySync`), never requested: on a
 * terminal, Deno's prompts would swallow the commands typed next. Without the flags
 * ({@linkcode sessionFlags}) the session is not registered, with one line that names them.
 *
 * @module
 */

/**
 * One registered session.
 *
 * @example
 * ```ts
 * import type { SessionRecord } from "@rap/cli/shell";
 * const s: SessionRecord = { uri: "r2web://127.0.0.1:9090/cmd", pid: 1, file: "/bin/ls" };
 * console.assert(s.pid === 1);
 * ```
 */
export interface SessionRecord {
  /** Where the session answers (`r2web://HOST:PORT/cmd`). */
  uri: string;
  /** The process id. */
  pid: number;
  /** The file it has open (may be empty). */
  file: string;
}

/**
 * The folder of the session files: `$TMPDIR/r2` (`/tmp/r2` when TMPDIR is unset or not
 * readable under the granted permissions).
 *
 * @returns The folder.
 *
 * @example
 * ```ts
 * import { sessionDir } from "@rap/cli/shell";
 * console.assert(sessionDir().endsWith("/r2"));
 * ```
 */
export function sessionDir(): string {
  let tmp: string | undefined;
  if (granted({ name: "env", variable: "TMPDIR" })) tmp = Deno.env.get("TMPDIR");
  return `${(tmp || "/tmp").replace(/\/+$/, "")}/r2`;
}

/** Whether a permission is granted (asked without a prompt). */
function granted(permission: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(permission).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The deno flags the session files of `dir` need (`=h` registers, `=l` lists).
 *
 * @param dir The folder (default {@linkcode sessionDir}).
 * @returns The flags, e.g. `--allow-read=/tmp/r2 --allow-write=/tmp/r2 --allow-env=TMPDIR`.
 *
 * @example
 * ```ts
 * import { sessionFlags } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   sessionFlags("/tmp/r2"),
 *   "--allow-read=/tmp/r2 --allow-write=/tmp/r2 --allow-env=TMPDIR",
 * );
 * ```
 */
export function sessionFlags(dir: string = sessionDir()): string {
  return `--allow-read=${dir} --allow-write=${dir} --allow-env=TMPDIR`;
}

/** Refuse, without a prompt, an access to the session files that is not granted. */
function check(name: "read" | "write", dir: string, what: string): void {
  if (!granted({ name, path: dir })) {
    throw new Deno.errors.NotCapable(`${what} ${dir} needs deno's ${sessionFlags(dir)}`);
  }
}

function alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  // Without /proc (or its permission) a session cannot be proven dead: keep it.
  if (!granted({ name: "read", path: `/proc/${pid}` })) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    // Without /proc (or its permission) a session cannot be proven dead: keep it.
    return !(error instanceof Deno.errors.NotFound);
  }
}

/**
 * Register this process's session (best effort, as radare2: a failure is reported, not
 * fatal).
 *
 * @param uri Where it answers (`r2web://HOST:PORT/cmd`).
 * @param file The file it has open.
 * @param dir The folder (default {@linkcode sessionDir}).
 * @returns The session file's path.
 *
 * @example
 * ```ts
 * import { listSessions, registerSession, unregisterSession } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await registerSession("r2web://127.0.0.1:9090/cmd", "/bin/ls", dir);
 * assert.deepEqual(await listSessions(dir), [
 *   { uri: "r2web://127.0.0.1:9090/cmd", pid: Deno.pid, file: "/bin/ls" },
 * ]);
 * await unregisterSession(dir);
 * assert.deepEqual(await listSessions(dir), []);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function registerSession(
  uri: string,
  file: string,
  dir: string = sessionDir(),
): Promise<string> {
  check("write", dir, "writing");
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${Deno.pid}.pid`;
  await Deno.writeTextFile(path, `${uri}#${file}`);
  return path;
}

/**
 * Remove this process's session file, if any.
 *
 * @param dir The folder (default {@linkcode sessionDir}).
 *
 * @example
 * ```ts
 * import { unregisterSession } from "@rap/cli/shell";
 * await unregisterSession(await Deno.makeTempDir()); // nothing registered: no error
 * ```
 */
export async function unregisterSession(dir: string = sessionDir()): Promise<void> {
  if (!granted({ name: "write", path: dir })) return;
  await Deno.remove(`${dir}/${Deno.pid}.pid`).catch(() => {});
}

/**
 * The registered sessions, by pid; files of processes that are gone are deleted, as
 * radare2 does.
 *
 * @param dir The folder (default {@linkcode sessionDir}).
 * @returns The live sessions.
 *
 * @example
 * ```ts
 * import { listSessions } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(await listSessions("/nonexistent/r2"), []);
 * ```
 */
export async function listSessions(dir: string = sessionDir()): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  check("read", dir, "reading");
  const prune = granted({ name: "write", path: dir });
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  for (const entry of entries) {
    const m = /^(\d+)\.pid$/.exec(entry.name);
    if (!m || !entry.isFile) continue;
    const pid = Number(m[1]);
    const path = `${dir}/${entry.name}`;
    if (!alive(pid)) {
      if (prune) await Deno.remove(path).catch(() => {});
      continue;
    }
    const text = await Deno.readTextFile(path).catch(() => "");
    const cut = text.indexOf("#");
    out.push({
      uri: cut < 0 ? text.trim() : text.slice(0, cut),
      pid,
      file: cut < 0 ? "" : text.slice(cut + 1).trim(),
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * Format sessions as `=l` (`r2 <uri> # pid <pid> (<file>)` lines) or `=lj` (JSON).
 *
 * @param sessions The sessions.
 * @param json JSON instead of lines.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatSessions } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const s = [{ uri: "r2web://127.0.0.1:9090/cmd", pid: 7, file: "/bin/ls" }];
 * assert.equal(formatSessions(s, false), "r2 r2web://127.0.0.1:9090/cmd # pid 7 (/bin/ls)\n");
 * assert.equal(formatSessions(s, true), JSON.stringify(s) + "\n");
 * ```
 */
export function formatSessions(sessions: readonly SessionRecord[], json: boolean): string {
  if (json) return JSON.stringify(sessions) + "\n";
  return sessions.map((s) => `r2 ${s.uri} # pid ${s.pid} (${s.file})\n`).join("");
}
