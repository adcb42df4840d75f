/**
 * Fixed-size replies encoded in place into the connection's write batch, and the sync of
 * written files (`--fsync`).
 *
 * @module
 */

import type { QueuedWriter } from "../../net/write_queue.ts";
import { putU32, putU64 } from "../../protocol/_bytes.ts";
import type { IoDescriptor } from "../../io/types.ts";
import type { ConnectionContext as Connection } from "../context.ts";
import type { Syncable } from "../shared_default.ts";

/** Queue a 5-byte reply (`op | value:be32`), encoded in place. */
export function reply32(writer: QueuedWriter, op: number, value: number): void {
  const b = writer.reserve(5);
  b[0] = op;
  putU32(b, 1, value);
}

/** Queue a 9-byte reply (`op | value:be64`), encoded in place. */
export function reply64(writer: QueuedWriter, op: number, value: bigint): void {
  const b = writer.reserve(9);
  b[0] = op;
  putU64(b, 1, value);
}

/** With `fsync`, sync a written descriptor to disk (those that support it). */
export async function sync(c: Connection, desc: IoDescriptor | undefined): Promise<void> {
  if (c.server.options.fsync && desc !== undefined) await (desc as Syncable).sync?.();
}
