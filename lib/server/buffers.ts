/**
 * How much a connection of a `RapServer` buffers, which bounds its memory.
 *
 * @module
 */

/**
 * Per-connection buffering of `RapServer`: large payloads move in pieces of
 * `piece` bytes, and a connection stops reading requests while more than `highWaterMark`
 * reply bytes wait for the client (TCP flow control then holds the client back). The
 * memory one connection holds is therefore bounded by about
 * `piece` (a request being received) + `highWaterMark + piece` (replies queued) + 640 KiB
 * (read buffer, write batches): about 3.6 MiB, whatever `maxdata` is, whatever the client
 * sends and however slowly it reads. In-memory files (`malloc://` ...) are sent as views
 * of their own bytes, so their replies cost no extra memory.
 *
 * @example
 * ```ts
 * import { SERVER_BUFFERS } from "@rap/cli";
 * console.assert(SERVER_BUFFERS.piece === 1 << 20);
 * ```
 */
export const SERVER_BUFFERS: Readonly<{ piece: number; highWaterMark: number }> = {
  piece: 1024 * 1024,
  highWaterMark: 1024 * 1024,
};
