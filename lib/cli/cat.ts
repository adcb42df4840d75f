/**
 * `rap cat URI [--offset N] [--size N]`: the bytes of any URI on standard output, with a
 * progress line on standard error when it is a terminal (and standard output is not); a
 * reader that goes away (`| head -c 10`) ends it quietly.
 *
 * @module
 */

import { INSECURE_TLS_HINT } from "../net/tls.ts";
import { Progress, wantsProgress } from "./progress.ts";
import type { IoDescriptor, ReadIntoOptions } from "../io/types.ts";
import { type CliPlugins, registryWith, useClientCredentials } from "./registry.ts";
import { writeStdout } from "./stdout.ts";
import { numberFlag, parseFlags, UsageError } from "./usage.ts";

/**
 * The help of `cat`.
 *
 * @example
 * ```ts
 * import { CAT_USAGE } from "@rap/cli/commands";
 * console.assert(CAT_USAGE.startsWith("Usage: rap cat"));
 * ```
 */
export const CAT_USAGE = `Usage: rap cat URI [--offset N] [--size N]

Write the bytes of URI (any plugin, including rap://host:port//path and
raps://host:port//path) to stdout. On a terminal, standard error shows the progress
when stdout is a file or a pipe.

Options:
  --offset N            start at N (r2 numbers: 0x100, 4K ...)
  --size N              write N bytes (default: to the end)
  --plugin PATH_OR_URL  load an extra IO plugin (repeatable)
  --ca FILE             trust this CA (PEM) for raps://, besides the system's (repeatable)
  --token-file FILE     the token of a server started with --token-file
  --insecure            refused: Deno cannot skip certificate checks per connection; run
                        deno with --unsafely-ignore-certificate-errors=HOST instead
`;

/**
 * Run `cat`.
 *
 * @param args The arguments after `cat`.
 * @param plugins The plugins the CLI was given.
 * @returns The exit code.
 * @throws {UsageError} For a usage mistake.
 * @throws {StdoutClosed} When standard output is closed by its reader.
 */
export async function cat(args: string[], plugins: CliPlugins): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    offset: { type: "string" },
    size: { type: "string" },
    plugin: { type: "string", multiple: true },
    ca: { type: "string", multiple: true },
    "token-file": { type: "string" },
    insecure: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CAT_USAGE);
    return 0;
  }
  if (values.insecure) throw new UsageError(`--insecure: ${INSECURE_TLS_HINT}`);
  if (positionals.length !== 1) {
    throw new UsageError(`expected one URI, got ${positionals.length}`);
  }
  const offset = numberFlag("--offset", values.offset, 0, 0, "SIZE");
  const size = values.size === undefined
    ? undefined
    : numberFlag("--size", values.size, 0, 0, "SIZE");
  const registry = await registryWith(plugins, values.plugin);
  await useClientCredentials(registry, plugins, values.ca, values["token-file"]);
  await using desc = await registry.open(positionals[0]);
  const end = size !== undefined ? offset + size : await desc.size();
  if (!Number.isFinite(end)) {
    throw new UsageError(`"${positionals[0]}" has no end; give --size`);
  }
  const progress = wantsProgress() ? new Progress({ total: end - offset }) : undefined;
  let written = 0;
  try {
    await copyRange(desc, offset, end, async (bytes) => {
      await writeStdout(bytes);
      written += bytes.length;
      progress?.update(written);
    });
  } finally {
    progress?.clear();
  }
  return 0;
}

/**
 * Bytes per read of `cat` (`rap://` streams in pieces of its own). Read at once, 1 MiB
 * pieces of a local file took 0.87× the wall time of 4 MiB ones (256 MiB, paired runs);
 * with the reads at once, `rap cat FILE` takes 0.76× its earlier time (docs/benchmarks.md).
 */
const CAT_STEP = 1 << 20;
/** Reads in flight when the descriptor reads into buffers (`readInto`): 2 MiB, reused. */
const CAT_DEPTH = 2;
/** How `cat` reads into its buffers. */
const AT_ONCE: ReadIntoOptions = Object.freeze({ atOnce: true });

/**
 * Copy `[offset, end)` of `desc` to `write`, in order. A descriptor that streams
 * (`readStream`: `rap://`) hands its bytes over as they arrive; one that reads into the
 * caller's buffers (`readInto`, e.g. files) gets {@linkcode CAT_DEPTH} reads in flight,
 * each into one of as many reused buffers, written out straight from them (no copy, no
 * garbage); any other gets one read ahead of the write.
 */
async function copyRange(
  desc: IoDescriptor,
  offset: number,
  end: number,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  let next = offset;
  const take = () => {
    const n = Math.min(CAT_STEP, end - next);
    const at = next;
    next += n;
    return { at, n };
  };
  if (desc.readStream !== undefined) {
    // A remote file streams: many reads in flight through one buffer of the client's (short
    // only at the end of the file).
    await desc.readStream(offset, end - offset, write);
    return;
  }
  if (desc.readInto === undefined) {
    const readNext = () => {
      const { at, n } = take();
      return n > 0 ? desc.read(at, n) : undefined;
    };
    let pending = readNext();
    while (pending !== undefined) {
      const bytes = await pending;
      if (bytes.length === 0) return;
      pending = readNext(); // the next read runs while this one is written
      try {
        await write(bytes);
      } catch (error) {
        await pending?.catch(() => {});
        throw error;
      }
    }
    return;
  }
  const readInto = desc.readInto.bind(desc);
  const inflight: { bytes: Uint8Array; asked: number; read: Promise<number> }[] = [];
  const issue = (buffer: Uint8Array) => {
    const { at, n } = take();
    if (n === 0) return;
    const bytes = n === buffer.length ? buffer : buffer.subarray(0, n);
    // `cat` has nothing else to do meanwhile: a file is read at once, without the hop to
    // Deno's blocking-IO thread (ReadIntoOptions.atOnce).
    inflight.push({ bytes, asked: n, read: readInto(at, bytes, AT_ONCE) });
  };
  for (let i = 0; i < CAT_DEPTH && next < end; i++) issue(new Uint8Array(CAT_STEP));
  try {
    for (let head = inflight.shift(); head !== undefined; head = inflight.shift()) {
      const got = await head.read;
      if (got > 0) {
        await write(got === head.bytes.length ? head.bytes : head.bytes.subarray(0, got));
      }
      if (got < head.asked) return; // the end of the data
      issue(new Uint8Array(head.bytes.buffer));
    }
  } finally {
    // Reads still in flight (after a short read or a failure) settle before the close.
    await Promise.allSettled(inflight.map((r) => r.read));
  }
}
