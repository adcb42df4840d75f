/**
 * The pure RAP codec: constants, packet types, encoding, an incremental decoder and typed
 * errors. No sockets, no IO.
 *
 * @example Round-trip a SEEK
 * ```ts
 * import { decodePacket, encodePacket } from "@rap/cli/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodePacket({ type: "seek", whence: 0, offset: 0x1000n });
 * assert.deepEqual(decodePacket(bytes), { type: "seek", whence: 0, offset: 0x1000n });
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./errors.ts";
export * from "./packets.ts";
export * from "./encode.ts";
export * from "./decode.ts";
export * from "./extensions.ts";
export * from "./bytes.ts";
