/**
 * Test certificates made at test time with the system's `openssl` (Debian's): a CA, a
 * server certificate for 127.0.0.1 and localhost signed by it, the same in one PEM, and an
 * unrelated CA. Tests that need them are skipped (with a message) when openssl is missing.
 *
 * @module
 */

/** Whether `openssl` can be run. */
export const HAS_OPENSSL: boolean = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

if (!HAS_OPENSSL) console.warn("openssl is not installed: the TLS tests are skipped");

/** The files and their PEM text. */
export interface Certificates {
  /** The temp directory holding them (remove it at the end). */
  dir: string;
  /** The CA certificate (PEM) and its file. */
  ca: string;
  caFile: string;
  /** The server certificate, its key, both in one PEM, and their files. */
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  bothFile: string;
  /** Another CA, which did not sign the server certificate. */
  otherCa: string;
  otherCaFile: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=rap test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  );
}

/**
 * Make the certificates in a new temp directory.
 *
 * @returns The certificates.
 */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await Deno.makeTempDir({ prefix: "rap_tls_" });
  await makeCa(dir, "ca");
  await makeCa(dir, "other");
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  const cert = await read("server.pem");
  const key = await read("server.key");
  await Deno.writeTextFile(`${dir}/both.pem`, cert + key);
  return {
    dir,
    ca: await read("ca.pem"),
    caFile: `${dir}/ca.pem`,
    cert,
    key,
    certFile: `${dir}/server.pem`,
    keyFile: `${dir}/server.key`,
    bothFile: `${dir}/both.pem`,
    otherCa: await read("other.pem"),
    otherCaFile: `${dir}/other.pem`,
  };
}

/**
 * Make a CA and server certificates, run `fn` with them, and remove them afterwards.
 *
 * @param fn What to run with the certificates.
 * @returns What `fn` returns.
 */
export async function withCertificates<T>(fn: (certs: Certificates) => Promise<T>): Promise<T> {
  const certs = await makeCertificates();
  try {
    return await fn(certs);
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
}
