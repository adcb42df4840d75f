/**
 * The RAP side of the server fuzz: one connection that sends a stream of recorded, random
 * and mutated packets and checks that the replies decode and hold no outside bytes.
 *
 * @module
 */

import { PacketDecoder } from "../lib/protocol/decode.ts";
import { WatchedConn } from "./_fuzz_conn.ts";
import { LeakScanner } from "./_fuzz_findings.ts";
import type { PacketStream } from "./_mutate.ts";
import type { Random } from "./_random.ts";

/** What {@linkcode runRapConnection} saw. */
export interface RapOutcome {
  /** Whether the connection could not be made. */
  refused: boolean;
  /** Bytes of the stream the socket accepted. */
  accepted: number;
  /** Replies received (all decoded as RAP replies, unless `badReply`). */
  replies: number;
  /** Reply bytes received. */
  received: number;
  /** Why the replies did not decode, if they did not. */
  badReply: string | undefined;
  /** Neither an answer nor a close within the hang deadline. */
  hung: boolean;
  /** A marker (outside bytes) was in a reply. */
  leaked: boolean;
}

/**
 * Send one stream on a new connection (all at once, or in small pieces) and read the
 * replies until the server closes.
 *
 * @param port The RAP port on 127.0.0.1.
 * @param stream The packets.
 * @param options Hang deadline, markers, whether to split the writes, the payload limit the
 *   stream's extension probe asks for (replies are decoded accordingly), and a hook called
 *   with the local port once connected.
 * @returns What happened.
 */
export async function runRapConnection(
  port: number,
  stream: PacketStream,
  options: {
    hangMs: number;
    markers: readonly Uint8Array[];
    split?: Random;
    extensions?: number;
    onConnect?: (localPort: number) => void;
  },
): Promise<RapOutcome> {
  const outcome: RapOutcome = {
    refused: false,
    accepted: 0,
    replies: 0,
    received: 0,
    badReply: undefined,
    hung: false,
    leaked: false,
  };
  const watched = await WatchedConn.open(port, options.hangMs, options.onConnect);
  if (watched === undefined) return { ...outcome, refused: true };
  const { conn } = watched;
  const decoder = new PacketDecoder({
    role: "client",
    maxCommandReply: 16 * 1024 * 1024,
    ...(options.extensions === undefined
      ? {}
      : { extensions: options.extensions, maxData: options.extensions }),
  });
  const leaks = new LeakScanner(options.markers);
  const reading = watched.readAll((chunk) => {
    outcome.received += chunk.length;
    if (leaks.scan(chunk)) outcome.leaked = true;
    if (outcome.badReply !== undefined) return;
    try {
      decoder.push(chunk.slice());
      while (decoder.next() !== undefined) outcome.replies++;
    } catch (error) {
      outcome.badReply = (error as Error).message;
    }
  }).then((end) => {
    if (end !== "eof") return;
    try {
      decoder.finish();
    } catch (error) {
      outcome.badReply ??= (error as Error).message;
    }
  });
  try {
    const bytes = stream.bytes;
    while (outcome.accepted < bytes.length) {
      const end = options.split
        ? Math.min(bytes.length, outcome.accepted + 1 + options.split.int(64))
        : bytes.length;
      outcome.accepted += await conn.write(bytes.subarray(outcome.accepted, end));
      watched.arm();
    }
    await conn.closeWrite();
  } catch {
    // The server closed the connection (expected after a fatal packet).
  }
  await reading;
  watched.close();
  outcome.hung = watched.hung;
  return outcome;
}
