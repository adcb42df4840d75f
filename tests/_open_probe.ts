/**
 * Runs `openInScope` in a process of its own, under the permission flags the test gives
 * it (the test runner itself has all permissions, where there is no scope to check).
 *
 * Usage: `deno run FLAGS tests/_open_probe.ts '[{"path": P, "write": true, ...}, ...]'`;
 * each step is `ScopedOpenOptions` plus `path`, and `data` (text written at offset 0 once
 * opened). Prints one JSON array: per step `{ ok: true, text }` (the first 64 bytes read
 * after any write) or `{ ok: false, name, message }`.
 *
 * @module
 */

import { openInScope, type ScopedOpenOptions } from "../mod.ts";

/** One step of the probe. */
export interface ProbeStep extends ScopedOpenOptions {
  /** The file to open. */
  path: string;
  /** Text to write at offset 0 once it is open. */
  data?: string;
}

/** What a step gave. */
export type ProbeResult =
  | { ok: true; text: string }
  | { ok: false; name: string; message: string };

async function run(step: ProbeStep): Promise<ProbeResult> {
  try {
    using file = await openInScope(step.path, step);
    if (step.data !== undefined) {
      await file.write(new TextEncoder().encode(step.data));
      await file.seek(0, Deno.SeekMode.Start);
    }
    const buffer = new Uint8Array(64);
    const n = await file.read(buffer);
    return { ok: true, text: new TextDecoder().decode(buffer.subarray(0, n ?? 0)) };
  } catch (error) {
    return { ok: false, name: (error as Error).name, message: (error as Error).message };
  }
}

if (import.meta.main) {
  const steps = JSON.parse(Deno.args[0]) as ProbeStep[];
  const results: ProbeResult[] = [];
  for (const step of steps) results.push(await run(step));
  console.log(JSON.stringify(results));
}
