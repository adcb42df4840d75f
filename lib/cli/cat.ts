/**
 * `rap cat URI [--offset N] [--size N]`: the bytes of any URI on standard output, with a
 * progress line on standard error when it is a terminal (and standard output is not); a
 * reader that goes away (`| head -c 10`) ends it quietly.
 *
 * @module
 */

import { INSECURE_TLS_HINT } from "../net/tls.ts";
import { Progress, wantsProgress } from "./progress.ts";
import { type CliPlugins, registryWith, useClientCredentials } from "./registry.ts";
import { writeStdout } from "./stdout.ts";
import { numberFlag, parseFlags, UsageError } from "./usage.ts";

/**
 * The help of `cat`.
 *
 * @example
 * ```ts
 * import { CAT_USAGE } from "@rap/cli/cli";
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

/** The most bytes one read asks for. */
const STEP = 1 << 20;

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
  try {
    for (let at = offset; at < end;) {
      const bytes = await desc.read(at, Math.min(STEP, end - at));
      if (bytes.length === 0) break;
      await writeStdout(bytes);
      at += bytes.length;
      progress?.update(at - offset);
    }
  } finally {
    progress?.clear();
  }
  return 0;
}
