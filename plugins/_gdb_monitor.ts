/**
 * Monitor commands of a GDB stub (`qRcmd`, `=!monitor CMD`): the stub's own commands, with
 * the output it sends as `O` packets or hex-encoded in place of `OK`.
 *
 * @example
 * ```ts
 * import { runStubMonitor } from "./_gdb_monitor.ts";
 * console.assert(typeof runStubMonitor === "function");
 * ```
 *
 * @module
 */

import { fromHex, toHex } from "../lib/gdb/codec.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { IoError } from "../lib/io/errors.ts";

/**
 * Run a monitor command of the stub.
 *
 * @param remote The stub connection.
 * @param uri The URI, for errors.
 * @param command The command (`help`, `reset` ...).
 * @returns Its output.
 * @throws {IoError} When the stub has no monitor commands or answers with an error.
 */
export async function runStubMonitor(
  remote: GdbRemote,
  uri: string,
  command: string,
): Promise<string> {
  let output = "";
  const reply = await remote.requestWithOutput(
    `qRcmd,${toHex(new TextEncoder().encode(command))}`,
    (hex) => output += new TextDecoder().decode(fromHex(hex)),
  );
  if (reply === "") {
    throw new IoError(uri, `The stub of "${uri}" has no monitor commands`);
  }
  if (reply !== "OK") {
    // Some stubs answer with the output hex-encoded in place of OK.
    if (/^[0-9a-fA-F]+$/.test(reply) && reply.length % 2 === 0) {
      return output + new TextDecoder().decode(fromHex(reply));
    }
    throw new IoError(uri, `monitor ${command}: the stub answered ${reply}`);
  }
  return output;
}
