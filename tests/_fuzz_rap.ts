/**
 * The RAP side of the server fuzz: one connection that sends a stream of recorded, random
 * and mutated packets and checks that the replies decode and hold no outside bytes.
 *
 * @module
 */

import { PacketDecoder } from "../lib/protocol/decode.ts";
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
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    outcome.refused = true;
    return outcome;
  }
  options.onConnect?.((conn.localAddr as Deno.NetAddr).port);
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      outcome.hung = true;
      close();
    }, options.hangMs);
  };
  arm();
  const decoder = new PacketDecoder({
    role: "client",
    maxCommandReply: 16 * 1024 * 1024,
    ...(options.extensions === undefined
      ? {}
      : { extensions: options.extensions, maxData: options.extensions }),
  });
  const leaks = new LeakScanner(options.markers);
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        return;
      }
      if (n === null) {
        try {
          decoder.finish();
        } catch (error) {
          outcome.badReply ??= (error as Error).message;
        }
        return;
      }
      arm();
      outcome.received += n;
      if (leaks.scan(buf.subarray(0, n))) outcome.leaked = true;
      if (outcome.badReply === undefined) {
        try {
          decoder.push(buf.slice(0, n));
          while (decoder.next() !== undefined) outcome.replies++;
        } catch (error) {
          outcome.badReply = (error as Error).message;
        }
      }
    }
  })();
  try {
    const bytes = stream.bytes;
    while (outcome.accepted < bytes.length) {
      const end = options.split
        ? Math.min(bytes.length, outcome.accepted + 1 + options.split.int(64))
        : bytes.length;
      outcome.accepted += await conn.write(bytes.subarray(outcome.accepted, end));
      arm();
    }
    await conn.closeWrite();
  } catch {
    // The server closed the connection (expected after a fatal packet).
  }
  await reading;
  close();
  return outcome;
}
