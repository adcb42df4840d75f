/**
 * Runs the python3 outside peers of tests/peers/ (raw sockets from another process): each
 * prints JSON lines on stdout, the last one its result.
 *
 * @module
 */

/** The folder of the peer scripts. */
export const PEERS_DIR: string = new URL("./peers/", import.meta.url).pathname;

/**
 * The python3 interpreter itself (`sys.executable`: a version manager's `python3` shim can
 * take 0.2 s per start), or undefined when python3 is not on PATH.
 */
export const PYTHON: string | undefined = (() => {
  try {
    const out = new Deno.Command("python3", {
      args: ["-c", "import sys; print(sys.executable)"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!out.success) return undefined;
    return new TextDecoder().decode(out.stdout).trim() || "python3";
  } catch {
    return undefined;
  }
})();

/** Whether python3 is on PATH (every machine here has it; tests skip without it). */
export const HAS_PYTHON: boolean = PYTHON !== undefined;

/** A running peer process. */
export interface Peer extends AsyncDisposable {
  /**
   * Wait for a JSON line with `"event": name` (rejects if the peer ends without one).
   *
   * @param name The event.
   * @returns That line.
   */
  waitFor(name: string): Promise<Record<string, unknown>>;
  /** Its last JSON line, once it exits (rejects when it fails, with its stderr). */
  result: Promise<Record<string, unknown>>;
  /** Close its stdin (peers that hold connections end then). */
  release(): Promise<void>;
}

/**
 * Start `python3 tests/peers/SCRIPT ARGS...`.
 *
 * @param script The script's file name, e.g. `rap_peer.py`.
 * @param args Its arguments.
 * @returns The running peer.
 */
export function startPeer(script: string, args: (string | number)[]): Peer {
  const child = new Deno.Command(PYTHON ?? "python3", {
    args: [PEERS_DIR + script, ...args.map(String)],
    env: { PYTHONDONTWRITEBYTECODE: "1" }, // peers import rap_peer.py: no __pycache__ in tests/
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const lines: Record<string, unknown>[] = [];
  let notify: (() => void) | undefined;
  let ended = false;
  const stderr = new Response(child.stderr).text();
  const reading = (async () => {
    let partial = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        if (line.trim() === "") continue;
        lines.push(JSON.parse(line));
        notify?.();
      }
    }
    ended = true;
    notify?.();
  })();
  const waitFor = async (name: string) => {
    for (;;) {
      const line = lines.find((l) => l.event === name);
      if (line) return line;
      if (ended) throw new Error(`python3 ${script} ended without "${name}": ${await stderr}`);
      await new Promise<void>((resolve) => notify = resolve);
      notify = undefined;
    }
  };
  const result = (async () => {
    const [status, err] = await Promise.all([child.status, stderr, reading]);
    await stdin.close().catch(() => {});
    if (!status.success || lines.length === 0) {
      throw new Error(`python3 ${script} ${args.join(" ")} failed (${status.code}): ${err}`);
    }
    return lines[lines.length - 1];
  })();
  const release = () => stdin.close().catch(() => {});
  return {
    waitFor,
    result,
    release,
    async [Symbol.asyncDispose]() {
      await release();
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await result.catch(() => {});
    },
  };
}

/**
 * Run a peer to its end and return its result.
 *
 * @param script The script's file name.
 * @param args Its arguments.
 * @returns Its last JSON line.
 */
export async function runPeer(
  script: string,
  args: (string | number)[],
): Promise<Record<string, unknown>> {
  await using peer = startPeer(script, args);
  await peer.release();
  return await peer.result;
}

/**
 * Write a temporary file of `size` bytes of a fixed pattern, for checker clients to compare.
 *
 * @param size Its size.
 * @returns Its path (the caller removes it).
 */
export async function sampleFile(size: number): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + (i >> 8)) & 0xff;
  await Deno.writeFile(path, bytes);
  return path;
}

/**
 * Start the byte-checking client (`rap_peer.py check`): it reads random blocks of `path`
 * over plain RAP for `seconds` and compares them with the local file.
 *
 * @param port The server's port on 127.0.0.1.
 * @param path The file, served by the server and read locally.
 * @param seconds How long it checks.
 * @param token The token of a `--token-file` server, if any.
 * @returns The running peer; its result is `{ ops, errors, wrong }`.
 */
export function startChecker(port: number, path: string, seconds: number, token?: string): Peer {
  return startPeer("rap_peer.py", [
    "check",
    "127.0.0.1",
    port,
    path,
    "--seconds",
    seconds,
    ...(token === undefined ? [] : ["--token", token]),
  ]);
}
