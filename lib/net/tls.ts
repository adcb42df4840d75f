/**
 * TLS for `raps://`: loading a server's certificate and key (separate PEM files, or one
 * PEM holding both as radare2's `raps://:PORT/file.pem`), and client connections whose
 * server certificate is always verified (against the system's roots plus the CAs given).
 *
 * Deno has no per-connection switch to skip verification: `Deno.connectTls` always checks
 * the chain (its `unsafelyDisableHostnameVerification` skips only the name check). Only
 * the runtime flag `--unsafely-ignore-certificate-errors[=HOST,...]` turns the checks off,
 * for every TLS connection of the process to those hosts; see {@linkcode INSECURE_TLS_HINT}.
 *
 * @module
 */

import { RapConnectionError } from "../protocol/errors.ts";
import { CERTIFICATE_ADVICE } from "./certificate.ts";

/**
 * A server's certificate chain and private key, in PEM.
 *
 * @example
 * ```ts
 * import type { TlsCertificate } from "./tls.ts";
 * const pair: TlsCertificate = { cert: "-----BEGIN CERTIFICATE-----...", key: "..." };
 * console.assert(pair.cert.startsWith("-----BEGIN"));
 * ```
 */
export interface TlsCertificate {
  /** The certificate chain (PEM), the server's own certificate first. */
  cert: string;
  /** The private key (PEM). */
  key: string;
}

/**
 * How a client checks a TLS server.
 *
 * @example
 * ```ts
 * import type { TlsClientOptions } from "./tls.ts";
 * const options: TlsClientOptions = { caCerts: [] };
 * console.assert(options.caCerts!.length === 0);
 * ```
 */
export interface TlsClientOptions {
  /** CA certificates (PEM) trusted besides the system's, e.g. a private CA. */
  caCerts?: string[];
}

/**
 * What to tell a user who asks to skip certificate verification: Deno cannot do it per
 * connection, only with a runtime flag.
 *
 * @example
 * ```ts
 * import { INSECURE_TLS_HINT } from "./tls.ts";
 * console.assert(INSECURE_TLS_HINT.includes("--unsafely-ignore-certificate-errors"));
 * ```
 */
export const INSECURE_TLS_HINT: string =
  "Deno cannot skip TLS certificate verification for one connection: trust the server's CA " +
  "with --ca FILE, or (unsafe) run deno with --unsafely-ignore-certificate-errors=HOST, " +
  "which turns verification off for every connection of the process to HOST";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Split PEM text into its certificate blocks and its private key blocks.
 *
 * @param text PEM text (one or more blocks; other text is ignored).
 * @returns The blocks, each with its BEGIN and END lines.
 *
 * @example
 * ```ts
 * import { splitPem } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n" +
 *   "-----BEGIN PRIVATE KEY-----\nBB==\n-----END PRIVATE KEY-----\n";
 * const { certs, keys } = splitPem(pem);
 * assert.equal(certs.length, 1);
 * assert.match(keys[0], /^-----BEGIN PRIVATE KEY-----/);
 * ```
 */
export function splitPem(text: string): { certs: string[]; keys: string[] } {
  const certs: string[] = [];
  const keys: string[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (m[1] === "CERTIFICATE") certs.push(m[0]);
    else if (m[1].endsWith("PRIVATE KEY")) keys.push(m[0]);
  }
  return { certs, keys };
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Deno.errors.NotCapable(
        `Cannot read the ${what} "${path}": add --allow-read=${path} to the deno command`,
      );
    }
    throw new TypeError(`Cannot read the ${what} "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Load a server certificate and key. Without `keyFile`, `certFile` must hold both (one PEM
 * with the chain and the key, as radare2's `raps://:PORT/file.pem`).
 *
 * @param certFile PEM file with the certificate chain (and the key when `keyFile` is absent).
 * @param keyFile PEM file with the private key.
 * @returns The chain and the key.
 * @throws {TypeError} If a file cannot be read, has no certificate, or no (or more than one) key.
 *
 * @example
 * ```ts
 * import { loadCertificate } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
 * await assert.rejects(loadCertificate(path), /no private key/);
 * await Deno.remove(path);
 * ```
 */
export async function loadCertificate(
  certFile: string,
  keyFile?: string,
): Promise<TlsCertificate> {
  const certText = await readPem(certFile, "certificate file");
  const { certs, keys: keysInCert } = splitPem(certText);
  if (certs.length === 0) {
    throw new TypeError(`Cannot use "${certFile}": no PEM certificate in it`);
  }
  let keys = keysInCert;
  let keySource = certFile;
  if (keyFile !== undefined) {
    keys = splitPem(await readPem(keyFile, "key file")).keys;
    keySource = keyFile;
  }
  if (keys.length === 0) {
    throw new TypeError(
      keyFile === undefined
        ? `Cannot use "${certFile}": no private key in it (give the key with --key FILE, or one PEM holding both)`
        : `Cannot use "${keyFile}": no PEM private key in it`,
    );
  }
  if (keys.length > 1) {
    throw new TypeError(`Cannot use "${keySource}": it holds ${keys.length} private keys`);
  }
  return { cert: certs.join("\n") + "\n", key: keys[0] + "\n" };
}

/**
 * Load CA certificates to trust (a PEM file with one or more certificates).
 *
 * @param path The file.
 * @returns The certificates, one PEM block each.
 * @throws {TypeError} If the file cannot be read or holds no certificate.
 *
 * @example
 * ```ts
 * import { loadCaCerts } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "not a certificate");
 * await assert.rejects(loadCaCerts(path), /no PEM certificate/);
 * await Deno.remove(path);
 * ```
 */
export async function loadCaCerts(path: string): Promise<string[]> {
  const { certs } = splitPem(await readPem(path, "CA file"));
  if (certs.length === 0) throw new TypeError(`Cannot use "${path}": no PEM certificate in it`);
  return certs;
}

/**
 * What to tell the user about a TLS handshake failure: rustls's reason (e.g.
 * `invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`) as a sentence that
 * says what to do, or `undefined` when it is not about the server's certificate.
 *
 * @param message The handshake error's message.
 * @param hostname The host connected to (named when the certificate does not name it).
 * @returns The sentence, or `undefined`.
 *
 * @example
 * ```ts
 * import { certificateHint } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const ca = "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))";
 * assert.match(certificateHint(ca, "127.0.0.1")!, /is a CA certificate.*rap cert DIR/);
 * assert.match(certificateHint("invalid peer certificate: UnknownIssuer", "h")!, /--ca FILE/);
 * assert.equal(certificateHint("connection reset", "h"), undefined);
 * ```
 */
export function certificateHint(message: string, hostname: string): string | undefined {
  if (/CaUsedAsEndEntity/.test(message)) {
    return "the server's certificate is a CA certificate (CA:TRUE, as a lone " +
      "`openssl req -x509` makes), which TLS clients refuse as a server's own: " +
      CERTIFICATE_ADVICE;
  }
  if (/NotValidForName/.test(message)) {
    return `the server's certificate does not name "${hostname}" in its subjectAltName: ` +
      `connect with a name it has, or ${CERTIFICATE_ADVICE} (rap cert --host ${hostname})`;
  }
  if (/Expired|NotValidYet/.test(message)) {
    return "the server's certificate is out of its validity period (or a clock is wrong)";
  }
  if (/certificate|UnknownIssuer|BadSignature/i.test(message)) {
    return "the server's certificate is not trusted: give its CA with --ca FILE";
  }
  return undefined;
}

/**
 * Open a TLS connection and finish the handshake, verifying the server's certificate
 * (system roots plus `options.caCerts`; the name must match `hostname`).
 *
 * @param hostname Server name or address (checked against the certificate).
 * @param port Server port.
 * @param options Extra trusted CAs.
 * @param onConnect Called with the connection before the handshake; an exception closes it
 *   and is thrown from here.
 * @returns The connection, handshake done.
 * @throws {RapConnectionError} If the connection or the handshake fails; a refused
 *   certificate says how to trust it.
 * @throws {Deno.errors.NotCapable} If `--allow-net` does not cover the host.
 *
 * @example
 * ```ts
 * import { connectTls } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * // A plain TCP server is not a TLS server: the handshake fails with a clear error.
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const served = listener.accept().then((c) => c.close());
 * await assert.rejects(
 *   connectTls("127.0.0.1", listener.addr.port),
 *   /Cannot connect to raps:\/\/127\.0\.0\.1:\d+: TLS handshake failed/,
 * );
 * await served;
 * ```
 */
export async function connectTls(
  hostname: string,
  port: number,
  options: TlsClientOptions = {},
  onConnect?: (conn: Deno.Conn) => void,
): Promise<Deno.TlsConn> {
  const where = `raps://${hostname}:${port}`;
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.connectTls({ hostname, port, caCerts: options.caCerts });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new RapConnectionError(`Cannot connect to ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    onConnect?.(conn);
  } catch (error) {
    conn.close();
    throw error;
  }
  try {
    await conn.handshake();
  } catch (error) {
    try {
      conn.close();
    } catch { /* already closed */ }
    const message = (error as Error).message;
    const advice = certificateHint(message, hostname);
    const hint = advice === undefined ? "" : ` (${advice})`;
    throw new RapConnectionError(
      `Cannot connect to ${where}: TLS handshake failed: ${message}${hint}`,
      { cause: error },
    );
  }
  return conn;
}
