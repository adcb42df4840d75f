/**
 * `rap cert DIR [--host H]... [--days N] [--force]`: a private CA and a server
 * certificate it signs, for `serve --cert DIR/server.pem --key DIR/server.key` and
 * clients' `--ca DIR/ca.pem`. Made with Web Crypto (no openssl needed); the server
 * certificate has `CA:FALSE` and the hosts as subjectAltName, which a lone self-signed
 * certificate does not have (TLS clients refuse it: `CaUsedAsEndEntity`).
 *
 * @module
 */

import { makeCertificates } from "../net/certificate.ts";
import { numberFlag, parseFlags, UsageError } from "./usage.ts";

/**
 * The help of `cert`.
 *
 * @example
 * ```ts
 * import { CERT_USAGE } from "@rap/cli/commands";
 * console.assert(CERT_USAGE.startsWith("Usage: rap cert"));
 * ```
 */
export const CERT_USAGE = `Usage: rap cert DIR [--host H]... [--days N] [--force]

Make a private CA and a server certificate signed by it, in DIR:
  ca.pem       the CA certificate: what clients trust (--ca DIR/ca.pem)
  ca.key       the CA's key (keep it; the server does not need it)
  server.pem   the server certificate (serve --cert DIR/server.pem)
  server.key   its key (serve --key DIR/server.key)
Keys are ECDSA P-256; the key files are readable by their owner only.

Options:
  --host H     a name clients connect to: an IP address or a DNS name (repeatable;
               default 127.0.0.1, ::1 and localhost)
  --days N     how long the certificates are valid (default 365)
  --force      replace files that exist

Needs deno's --allow-write=DIR.
`;

const FILES = ["ca.pem", "ca.key", "server.pem", "server.key"] as const;

async function writeFile(path: string, text: string, secret: boolean, force: boolean) {
  try {
    await Deno.writeTextFile(path, text, {
      createNew: !force,
      mode: secret ? 0o600 : 0o644,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Error(`"${path}" exists; give --force to replace it`);
    }
    if (error instanceof Deno.errors.NotCapable) {
      const dir = path.slice(0, path.lastIndexOf("/")) || ".";
      throw new Error(`Cannot write "${path}": run deno with --allow-write=${dir}`);
    }
    throw new Error(`Cannot write "${path}": ${(error as Error).message}`);
  }
  if (secret && Deno.build.os !== "windows") await Deno.chmod(path, 0o600).catch(() => {});
}

/**
 * Run `cert`.
 *
 * @param args The arguments after `cert`.
 * @returns The exit code.
 * @throws {UsageError} For a usage mistake.
 */
export async function cert(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string", multiple: true },
    days: { type: "string" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CERT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`expected one directory, got ${positionals.length}`);
  }
  const days = numberFlag("--days", values.days, 365, 1);
  const dir = positionals[0].replace(/(.)\/+$/, "$1");
  let set;
  try {
    set = await makeCertificates({ hosts: values.host, days });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`--host: ${error.message}`);
    throw error;
  }
  await Deno.mkdir(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new Error(`Cannot make "${dir}": run deno with --allow-write=${dir}`);
  });
  const texts = [set.caCert, set.caKey, set.cert, set.key];
  for (const [i, file] of FILES.entries()) {
    await writeFile(`${dir}/${file}`, texts[i], file.endsWith(".key"), values.force ?? false);
  }
  const hosts = (values.host ?? ["127.0.0.1", "::1", "localhost"]).join(", ");
  console.log(`Wrote ${FILES.join(", ")} in ${dir} (for ${hosts}; valid ${days} days)
Serve:   rap serve --cert ${dir}/server.pem --key ${dir}/server.key ...
Connect: rap cat --ca ${dir}/ca.pem raps://HOST:PORT//FILE`);
  return 0;
}
