/**
 * A subprocess for tests/crash_safety_test.ts: opens a URI that saves by rewriting
 * (`gzip://`, `ihex://`) for writing, stamps a new generation into every byte, and closes it
 * (which saves), in a loop. Prints `saving N` before each close and `saved N MS` after (MS:
 * how long the save took), so the test can SIGKILL it at any moment of a save.
 *
 * Usage: deno run --allow-read=DIR --allow-write=DIR tests/_crash_saver.ts URI FIRST_GEN SIZE
 */

import { IoRegistry } from "../mod.ts";

/**
 * The image of generation `gen`: its number in the first 4 bytes, then bytes of a generator
 * seeded with it (incompressible, so a save writes about `size` bytes).
 */
export function generation(gen: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  new DataView(bytes.buffer).setUint32(0, gen);
  let x = (gen * 0x9e3779b1) >>> 0 || 1;
  for (let i = 4; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** The generation `bytes` hold, or -1 if they are not one whole generation. */
export function generationOf(bytes: Uint8Array): number {
  if (bytes.length < 4) return -1;
  const gen = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0);
  const expected = generation(gen, bytes.length);
  for (let i = 4; i < bytes.length; i++) if (bytes[i] !== expected[i]) return -1;
  return gen;
}

if (import.meta.main) {
  const [uri, first, size] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
  const registry = new IoRegistry();
  const encoder = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));
  for (let gen = first;; gen++) {
    const desc = await registry.open(uri, { write: true });
    await desc.write!(0, generation(gen, size));
    say(`saving ${gen}`);
    const started = performance.now();
    await desc.close();
    say(`saved ${gen} ${Math.ceil(performance.now() - started)}`);
  }
}
