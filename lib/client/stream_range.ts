/**
 * A range of a file read with the extensions and handed over as it arrives: READ_ATs run
 * ahead in a window of many megabytes, and every reply's payload is received through one
 * small buffer and given to the caller piece by piece. The window, not the buffers, keeps
 * the server busy, so a bulk reader (`rap cat`) needs neither a buffer per request in
 * flight nor a copy.
 *
 * @module
 */

import type { StreamSink } from "../io/types.ts";
import { ExtOpcode } from "../protocol/constants.ts";
import { putU32, putU64 } from "../protocol/_bytes.ts";
import { Fifo, handled } from "./_support.ts";
import type { PayloadStream, RapTransport } from "./transport.ts";

/**
 * How {@linkcode streamRange} reads.
 *
 * @example
 * ```ts
 * import type { StreamPlan } from "./stream_range.ts";
 * const plan: StreamPlan = { fd: 3, step: 4 << 20, window: 8, chunk: 1 << 20 };
 * console.assert(plan.step * plan.window === 32 << 20);
 * ```
 */
export interface StreamPlan {
  /** The file's fd on the server. */
  fd: number;
  /** Bytes per READ_AT (at most the negotiated `maxdata`). */
  step: number;
  /** READ_ATs in flight. */
  window: number;
  /** Size of the one buffer the payloads are received through. */
  chunk: number;
}

/**
 * Read `length` bytes of a file from `offset` with pipelined READ_ATs, handing them to
 * `write` in order as they arrive. It stops at the end of the file (a short reply): what
 * later requests bring is received and dropped. Call it when the transport is free (no
 * exchange runs alone), as the other pipelined transfers.
 *
 * @param transport The connection, with the extensions on.
 * @param plan The fd, request size, window and buffer size.
 * @param offset Where to start.
 * @param length How many bytes at most.
 * @param write Takes each piece in order (a view valid until it returns or settles).
 * @returns How many bytes were handed over: fewer than `length` only at the end of the file.
 * @throws {RapRemoteError} When the server refuses a read (the requests still in flight
 *   are received first).
 *
 * @example
 * ```ts
 * import { RapClient, RapServer } from "@rap/cli";
 * import { concatBytes } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * await using server = RapServer.listen({ port: 0, log: () => {} });
 * await using client = await RapClient.connect({
 *   hostname: "127.0.0.1", port: server.addr.port, extensions: true,
 * });
 * const fd = await client.open("hex://00112233445566");
 * const pieces: Uint8Array[] = [];
 * const n = await client.readStream(1, 100, (bytes) => void pieces.push(bytes.slice()), fd);
 * assert.equal(n, 6);
 * assert.deepEqual([...concatBytes(pieces)], [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
 * ```
 */
export async function streamRange(
  transport: RapTransport,
  plan: StreamPlan,
  offset: bigint,
  length: number,
  write: StreamSink,
): Promise<number> {
  let stopped = false;
  const stream: PayloadStream = {
    chunk: new Uint8Array(Math.max(1, Math.min(plan.chunk, length))),
    write: (bytes) => stopped ? undefined : write(bytes),
  };
  const inflight = new Fifo<{ asked: number; got: Promise<number> }>();
  const end = offset + BigInt(length);
  let next = offset;
  const issue = () => {
    const asked = Number(BigInt(plan.step) < end - next ? BigInt(plan.step) : end - next);
    const got = handled(transport.expectStream(stream));
    const b = transport.reserve(17);
    b[0] = ExtOpcode.READ_AT;
    putU32(b, 1, plan.fd);
    putU64(b, 5, next);
    putU32(b, 13, asked);
    inflight.push({ asked, got });
    next += BigInt(asked);
  };
  let total = 0;
  try {
    while (next < end && inflight.length < plan.window) issue();
    for (let head = inflight.shift(); head !== undefined; head = inflight.shift()) {
      const got = await head.got;
      total += got;
      if (got < head.asked) break; // the end of the file
      if (next < end) {
        if (transport.alone) await transport.turn();
        issue();
      }
    }
  } finally {
    // What is still in flight after the end or a failure is received, not written.
    stopped = true;
    for (let p = inflight.shift(); p !== undefined; p = inflight.shift()) {
      await p.got.catch(() => {});
    }
  }
  return total;
}
