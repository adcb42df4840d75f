/**
 * `rap cat URI [--offset N] [--size N]`: the bytes of any URI on standard output.
 *
 * @module
 */

import { readTokenFile } from "../net/auth.ts";
import { INSECURE_TLS_HINT, loadCaCerts } from "../net/tls.ts";
import { type CliPlugins, registryWith } from "./registry.ts";
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
raps://host:port//path) to stdout.

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
 */
export async function cat(args: string[], plugins: CliPlugins): Promise<number> {
  const { values, positionals } = parseFlags("cat", args, {
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
  if (positionals.length !== 1) throw new UsageError("cat: expected one URI");
  const offset = numberFlag("--offset", values.offset, 0);
  const size = values.size === undefined ? undefined : numberFlag("--size", values.size, 0);
  const registry = await registryWith(plugins, values.plugin);
  if (values.ca !== undefined || values["token-file"] !== undefined) {
    const caCerts: string[] = [];
    for (const file of values.ca ?? []) caCerts.push(...await loadCaCerts(file));
    const token = values["token-file"] === undefined
      ? undefined
      : await readTokenFile(values["token-file"]);
    if (!plugins.rap) {
      throw new Error("This command line has no rap:// plugin for --ca/--token-file");
    }
    registry.register(plugins.rap({ caCerts, token }));
  }
  await using desc = await registry.open(positionals[0]);
  const end = size !== undefined ? offset + size : await desc.size();
  if (!Number.isFinite(end)) {
    throw new UsageError(`cat: "${positionals[0]}" has no end; give --size`);
  }
  const step = 1 << 20;
  for (let at = offset; at < end;) {
    const bytes = await desc.read(at, Math.min(step, end - at));
    if (bytes.length === 0) break;
    let done = 0;
    while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
    at += bytes.length;
  }
  return 0;
}
