/**
 * Files on a GDB stub's host, read with `vFile:open`/`pread`/`close` (`dm` reads
 * `/proc/PID/maps` this way).
 *
 * @example
 * ```ts
 * import { readStubFile } from "./_gdb_stub_file.ts";
 * console.assert(typeof readStubFile === "function");
 * ```
 *
 * @module
 */

import { latin1Text, toHex, unescapeGdbBinary } from "../lib/gdb/codec.ts";
import type { GdbRemote } from "../lib/gdb/remote.ts";
import { IoError } from "../lib/io/errors.ts";
import { concatBytes } from "../lib/protocol/bytes.ts";

/** Most `vFile:pread` requests one file takes. */
const MAX_PREADS = 4096;

/**
 * Read a file on the stub's host.
 *
 * @param remote The stub connection.
 * @param target The descriptor's URI (for errors) and packet size.
 * @param path The file on the stub's host.
 * @returns The file's text (UTF-8).
 * @throws {IoError} When the stub has no `vFile` or cannot read the file.
 */
export async function readStubFile(
  remote: GdbRemote,
  target: { readonly uri: string; readonly packetSize: number },
  path: string,
): Promise<string> {
  const open = await remote.requestText(`vFile:open:${toHex(new TextEncoder().encode(path))},0,0`);
  const fd = /^F([0-9a-fA-F]+)$/.exec(open)?.[1];
  if (fd === undefined) {
    throw new IoError(
      target.uri,
      open === ""
        ? `The stub of "${target.uri}" cannot read its host's files (vFile): no maps`
        : `Cannot read ${path} through the stub (${open})`,
    );
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  const count = Math.max(64, Math.floor((target.packetSize - 16) / 2));
  try {
    for (let i = 0; i < MAX_PREADS; i++) {
      const reply = await remote.request(
        `vFile:pread:${fd},${count.toString(16)},${offset.toString(16)}`,
      );
      const semi = reply.indexOf(0x3b);
      const head = latin1Text(semi < 0 ? reply : reply.subarray(0, semi));
      const n = /^F([0-9a-fA-F]+)$/.exec(head);
      if (!n) throw new IoError(target.uri, `Cannot read ${path} through the stub (${head})`);
      if (parseInt(n[1], 16) === 0) break;
      const data = unescapeGdbBinary(reply.subarray(semi + 1));
      parts.push(data);
      offset += data.length;
    }
  } finally {
    await remote.requestText(`vFile:close:${fd}`).catch(() => {});
  }
  return new TextDecoder().decode(concatBytes(parts));
}
