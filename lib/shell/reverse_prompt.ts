/**
 * `=r host:port` / `=R host:port`: radare2's reverse prompt. The shell connects out to a
 * listener and lets it type commands: it sends the prompt `[0x%08x]> `, reads a command
 * (up to 1023 bytes), runs it and sends the output plus a newline, until the peer sends a
 * line starting with `q` or closes.
 *
 * @module
 */

import { writeAll } from "../net/write_queue.ts";
import type { CommandShell } from "./command.ts";
import { CommandPolicy } from "./policy.ts";

/**
 * Options of {@linkcode reversePrompt}.
 *
 * @example
 * ```ts
 * import type { ReversePromptOptions } from "@rap/cli/shell";
 * const options: ReversePromptOptions = { retry: true };
 * console.assert(options.retry);
 * ```
 */
export interface ReversePromptOptions {
  /** Retry the connection every second until it succeeds or the shell is interrupted (`=R`). */
  retry?: boolean;
  /** What the peer may run (default: its own files only, like every remote peer). */
  policy?: CommandPolicy;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Send `text`; false when the peer has gone. */
async function send(conn: Deno.Conn, text: string): Promise<boolean> {
  try {
    await writeAll(conn, [encoder.encode(text)]);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset) {
      return false;
    }
    throw error;
  }
}

async function connect(
  shell: CommandShell,
  hostname: string,
  port: number,
  retry: boolean,
): Promise<Deno.Conn | undefined> {
  const interrupted = shell.interrupted().then(() => undefined);
  for (;;) {
    try {
      return await Deno.connect({ hostname, port });
    } catch (error) {
      if (!retry || error instanceof Deno.errors.NotCapable) throw error;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const again = new Promise<true>((resolve) => timer = setTimeout(() => resolve(true), 1000));
    const go = await Promise.race([again, interrupted]);
    clearTimeout(timer);
    if (!go) return undefined;
  }
}

/**
 * Run the reverse prompt: connect to `hostname:port` and serve commands typed there.
 *
 * @param shell The local shell the commands run in.
 * @param hostname Where to connect.
 * @param port The port.
 * @param options Retry and policy.
 * @returns How many commands ran.
 *
 * @example
 * ```ts
 * import "@rap/cli"; // installs the built-in plugins
 * import { reversePrompt, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * await shell.session.open("hex://41424344");
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const peer = (async () => {
 *   const conn = await listener.accept();
 *   const buf = new Uint8Array(256);
 *   let seen = "";
 *   const prompts = async (count: number) => {
 *     while (seen.split("> ").length - 1 < count) {
 *       seen += new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
 *     }
 *   };
 *   await prompts(1);
 *   await conn.write(new TextEncoder().encode("p8 2"));
 *   await prompts(2);
 *   await conn.write(new TextEncoder().encode("q"));
 *   conn.close();
 *   return seen;
 * })();
 * assert.equal(await reversePrompt(shell, "127.0.0.1", listener.addr.port), 1);
 * assert.equal(await peer, "[0x00000000]> 4142\n[0x00000000]> ");
 * ```
 */
export async function reversePrompt(
  shell: CommandShell,
  hostname: string,
  port: number,
  options: ReversePromptOptions = {},
): Promise<number> {
  const conn = await connect(shell, hostname, port, options.retry ?? false);
  if (!conn) return 0;
  const policy = options.policy ?? CommandPolicy.RESTRICTED;
  const buf = new Uint8Array(1023);
  let count = 0;
  try {
    for (;;) {
      if (!await send(conn, `[0x${shell.seek.toString(16).padStart(8, "0")}]> `)) break;
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      const command = decoder.decode(buf.subarray(0, n)).replace(/\r?\n$/, "");
      if (command.startsWith("q")) break;
      const output = await shell.run(command, { policy, peer: true });
      count++;
      if (!await send(conn, output.endsWith("\n") ? output : `${output}\n`)) break;
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed by the peer */ }
  }
  return count;
}
