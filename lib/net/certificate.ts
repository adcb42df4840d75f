/**
 * Certificates for `raps://` made with Web Crypto alone (no openssl): a private CA and a
 * server certificate it signs, the pair TLS clients accept. A lone self-signed
 * certificate (`openssl req -x509 ...`) is a CA certificate (`CA:TRUE`), which rustls
 * refuses as a server's own (`CaUsedAsEndEntity`), even when it is given as the CA; the
 * server certificate made here has `CA:FALSE`, the `serverAuth` usage and the names
 * clients check (`subjectAltName`: IP addresses and DNS names).
 *
 * Keys are ECDSA P-256, signatures ECDSA with SHA-256; PEM files as `openssl` writes
 * them (`CERTIFICATE`, PKCS #8 `PRIVATE KEY`).
 *
 * @module
 */

import { parseIpAddress } from "./address_filter.ts";

/** DER: a tag, its length, its content. */
function der(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head: number[] = [tag];
  if (length < 0x80) {
    head.push(length);
  } else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    head.push(0x80 | bytes.length, ...bytes);
  }
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const seq = (...parts: Uint8Array[]) => der(0x30, ...parts);
const octets = (bytes: Uint8Array) => der(0x04, bytes);
const bits = (bytes: Uint8Array, unused = 0) => der(0x03, new Uint8Array([unused]), bytes);
const TRUE = der(0x01, new Uint8Array([0xff]));

/** A DER INTEGER from big-endian magnitude bytes (positive). */
function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  return body[0] & 0x80 ? der(0x02, new Uint8Array([0]), body) : der(0x02, body);
}

/** A DER OBJECT IDENTIFIER from its dotted form. */
function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const group: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) {
      group.unshift(0x80 | (n & 0x7f));
    }
    out.push(...group);
  }
  return der(0x06, new Uint8Array(out));
}

const text = (s: string) => der(0x0c, new TextEncoder().encode(s));

/** A Name with one common name. */
const name = (cn: string) => seq(der(0x31, seq(oid("2.5.4.3"), text(cn))));

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Uint8Array {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const ascii = (s: string) => new TextEncoder().encode(s);
  return date.getUTCFullYear() < 2050 ? der(0x17, ascii(iso.slice(2))) : der(0x18, ascii(iso));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

/** ECDSA's raw `r || s` as the DER `SEQUENCE { r, s }` X.509 carries. */
function ecdsaSignature(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

/** The subjectAltName entries: an IP address (`[7]`) or a DNS name (`[2]`). */
function altName(host: string): Uint8Array {
  const ip = parseIpAddress(host);
  if (ip === undefined) {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) {
      throw new TypeError(`Cannot put "${host}" in a certificate: not an IP address or DNS name`);
    }
    return der(0x82, new TextEncoder().encode(host));
  }
  const length = ip.v6 ? 16 : 4;
  const bytes = new Uint8Array(length);
  for (let i = 0, v = ip.value; i < length; i++, v >>= 8n) {
    bytes[length - 1 - i] = Number(v & 0xffn);
  }
  return der(0x87, bytes);
}

function pem(label: string, bytes: Uint8Array): string {
  let b64 = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    b64 += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const lines = btoa(b64).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

/** The key identifier of a public key: SHA-1 of its bits (RFC 5280 4.2.1.2, method 1). */
async function keyId(spki: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  // The SPKI is SEQUENCE { algorithm, BIT STRING }: P-256's BIT STRING is its last 66 bytes
  // (tag, length, unused-bits byte, 65-byte point).
  const point = spki.subarray(spki.length - 65);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", point));
}

interface Signed {
  certificate: Uint8Array;
  key: CryptoKeyPair;
  keyId: Uint8Array;
}

async function signCertificate(
  subject: string,
  issuer: { name: string; key: CryptoKey; keyId: Uint8Array } | undefined,
  extensions: (ownKeyId: Uint8Array) => Uint8Array[],
  days: number,
): Promise<Signed> {
  const key = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key.publicKey));
  const ownKeyId = await keyId(spki);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const now = Date.now();
  const tbs = seq(
    der(0xa0, integer(new Uint8Array([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(issuer?.name ?? subject),
    seq(time(new Date(now - 3_600_000)), time(new Date(now + days * 86_400_000))),
    name(subject),
    spki,
    der(0xa3, seq(...extensions(ownKeyId))),
  );
  const signer = issuer?.key ?? key.privateKey;
  const raw = new Uint8Array(await crypto.subtle.sign(SIGN, signer, tbs));
  return {
    certificate: seq(tbs, ECDSA_SHA256, bits(ecdsaSignature(raw))),
    key,
    keyId: ownKeyId,
  };
}

/**
 * Options of {@linkcode makeCertificates}.
 *
 * @example
 * ```ts
 * import type { CertificateOptions } from "./certificate.ts";
 * const options: CertificateOptions = { hosts: ["127.0.0.1", "localhost"], days: 30 };
 * console.assert(options.days === 30);
 * ```
 */
export interface CertificateOptions {
  /** The names clients connect to: IP addresses and DNS names (default 127.0.0.1, ::1, localhost). */
  hosts?: readonly string[];
  /** How many days they are valid (default 365). */
  days?: number;
}

/**
 * A CA and a server certificate it signed, in PEM.
 *
 * @example
 * ```ts
 * import type { CertificateSet } from "./certificate.ts";
 * const empty: Partial<CertificateSet> = {};
 * console.assert(empty.caCert === undefined);
 * ```
 */
export interface CertificateSet {
  /** The CA certificate (what clients trust: `--ca`). */
  caCert: string;
  /** The CA's private key (to sign more server certificates; keep it away from servers). */
  caKey: string;
  /** The server certificate (`serve --cert`). */
  cert: string;
  /** The server's private key (`serve --key`). */
  key: string;
}

/**
 * Make a private CA and a server certificate for `hosts` signed by it.
 *
 * @param options The names and the validity.
 * @returns The PEM texts.
 * @throws {TypeError} For a host that is neither an IP address nor a DNS name.
 *
 * @example
 * ```ts
 * import { makeCertificates } from "./certificate.ts";
 * import { X509Certificate } from "node:crypto";
 * import assert from "node:assert/strict";
 *
 * const set = await makeCertificates({ hosts: ["127.0.0.1", "localhost"] });
 * const ca = new X509Certificate(set.caCert);
 * const server = new X509Certificate(set.cert);
 * assert.equal(ca.ca, true);
 * assert.equal(server.ca, false);
 * assert.ok(server.verify(ca.publicKey));
 * assert.equal(server.subjectAltName, "IP Address:127.0.0.1, DNS:localhost");
 * ```
 */
export async function makeCertificates(options: CertificateOptions = {}): Promise<CertificateSet> {
  const hosts = options.hosts ?? ["127.0.0.1", "::1", "localhost"];
  if (hosts.length === 0) throw new TypeError("A server certificate needs at least one host");
  const days = options.days ?? 365;
  const names = hosts.map(altName);
  const caName = `rap private CA (${new Date().toISOString().slice(0, 10)})`;
  const ca = await signCertificate(caName, undefined, (ownKeyId) => [
    extension("2.5.29.19", true, seq(TRUE)), // basicConstraints: CA:TRUE
    extension("2.5.29.15", true, bits(new Uint8Array([0x06]), 1)), // keyCertSign, cRLSign
    extension("2.5.29.14", false, octets(ownKeyId)), // subjectKeyIdentifier
  ], days);
  const server = await signCertificate(
    hosts[0],
    { name: caName, key: ca.key.privateKey, keyId: ca.keyId },
    (ownKeyId) => [
      extension("2.5.29.19", true, seq()), // basicConstraints: CA:FALSE
      extension("2.5.29.15", true, bits(new Uint8Array([0x80]), 7)), // digitalSignature
      extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
      extension("2.5.29.17", false, seq(...names)), // subjectAltName
      extension("2.5.29.14", false, octets(ownKeyId)),
      extension("2.5.29.35", false, seq(der(0x80, ca.keyId))), // authorityKeyIdentifier
    ],
    days,
  );
  const privateKey = async (pair: CryptoKeyPair) =>
    pem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)));
  return {
    caCert: pem("CERTIFICATE", ca.certificate),
    caKey: await privateKey(ca.key),
    cert: pem("CERTIFICATE", server.certificate),
    key: await privateKey(server.key),
  };
}

/**
 * What is wrong with a server certificate that TLS clients will refuse, if anything: a CA
 * certificate (`CA:TRUE`, as a lone `openssl req -x509` makes) or one without a
 * subjectAltName (clients match the host against it, not the common name).
 *
 * @param certPem The server's certificate chain (PEM), its own certificate first.
 * @returns The problem in one sentence, or `undefined`.
 *
 * @example
 * ```ts
 * import { makeCertificates, serverCertificateProblem } from "./certificate.ts";
 * import assert from "node:assert/strict";
 *
 * const set = await makeCertificates();
 * assert.equal(await serverCertificateProblem(set.cert), undefined);
 * assert.match(await serverCertificateProblem(set.caCert) ?? "", /CA certificate/);
 * ```
 */
export async function serverCertificateProblem(certPem: string): Promise<string | undefined> {
  const { X509Certificate } = await import("node:crypto");
  let cert;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return undefined; // Deno's TLS says what is wrong with an unreadable certificate
  }
  if (cert.ca) {
    return "it is a CA certificate (CA:TRUE, as a lone `openssl req -x509` makes), which " +
      "TLS clients refuse as a server's own (CaUsedAsEndEntity)";
  }
  if (cert.subjectAltName === undefined) {
    return "it has no subjectAltName, so TLS clients find no host name in it (NotValidForName)";
  }
  return undefined;
}

/**
 * The advice for a certificate clients refuse: make a CA and a server certificate with
 * `rap cert` and use them.
 *
 * @example
 * ```ts
 * import { CERTIFICATE_ADVICE } from "./certificate.ts";
 * console.assert(CERTIFICATE_ADVICE.includes("rap cert"));
 * ```
 */
export const CERTIFICATE_ADVICE: string =
  'make a CA and a server certificate with "rap cert DIR" (or the openssl recipe in ' +
  "docs/security.md), serve with --cert DIR/server.pem --key DIR/server.key and connect " +
  "with --ca DIR/ca.pem";
