/**
 * Runs {@linkcode fuzzDecoders} in a worker, so `bench/fuzz.ts` can notice a decoder stuck
 * in a loop (no heartbeat) and stop it. Messages out: `{ type: "beat", name, index }`,
 * `{ type: "report", report }`, `{ type: "done" }` or `{ type: "error", message }`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { type DecoderFuzzOptions, fuzzDecoders } from "./_fuzz_decoders.ts";

self.onmessage = async (event: MessageEvent<DecoderFuzzOptions>) => {
  try {
    await fuzzDecoders({
      ...event.data,
      heartbeat: (name, index) => self.postMessage({ type: "beat", name, index }),
      progress: (report) => self.postMessage({ type: "report", report }),
    });
    self.postMessage({ type: "done" });
  } catch (error) {
    self.postMessage({ type: "error", message: String((error as Error)?.stack ?? error) });
  }
};
