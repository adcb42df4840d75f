/**
 * TLS that works the first time, and a shell that reaches private-CA and token servers:
 * `rap cert DIR` makes a CA and a server certificate that `serve --cert` and `cat --ca`
 * accept (and openssl verifies); a lone self-signed certificate (CA:TRUE) gets a warning
 * from the server and a client error that says what to do; `rap shell --ca --token-file`
 * passes them to `=+`, `o rap://`/`o raps://` and `=:host:port`, and a token refusal
 * says it was the token. Real processes throughout.
 */

import assert from "node:assert/strict";
import { makeCertificates } from "../lib/net/certificate.ts";
import { runRap, startServe } from "./_serve_process.ts";

const decoder = new TextDecoder();
const HAS_OPENSSL = new Deno.Command("bash", { args: ["-c", "command -v openssl"], stdout: "null" })
  .outputSync().success;

const rap = runRap;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_cert_" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rap cert DIR makes a CA and a server certificate that serve --cert and cat --ca accept", async () => {
  await withDir(async (dir) => {
    const made = await rap([`--allow-write=${dir}/tls`], ["cert", `${dir}/tls`]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^Wrote ca\.pem, ca\.key, server\.pem, server\.key in /);
    for (const key of ["ca.key", "server.key"]) {
      assert.equal((await Deno.stat(`${dir}/tls/${key}`)).mode! & 0o777, 0o600, key);
    }
    if (HAS_OPENSSL) {
      const verify = await new Deno.Command("openssl", {
        args: ["verify", "-CAfile", `${dir}/tls/ca.pem`, `${dir}/tls/server.pem`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(decoder.decode(verify.stdout).trim(), `${dir}/tls/server.pem: OK`);
    }
    const again = await rap([`--allow-write=${dir}/tls`], ["cert", `${dir}/tls`]);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `rap cert: "${dir}/tls/ca.pem" exists; give --force to replace it\n`,
    );
    await Deno.writeTextFile(`${dir}/data.bin`, "over TLS\n");
    await using server = await startServe({
      flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
      args: ["--cert", `${dir}/tls/server.pem`, "--key", `${dir}/tls/server.key`],
    });
    for (const host of ["127.0.0.1", "localhost"]) {
      const read = await rap(
        ["--allow-net=127.0.0.1,localhost", `--allow-read=${dir}`],
        ["cat", "--ca", `${dir}/tls/ca.pem`, `raps://${host}:${server.port}/${dir}/data.bin`],
      );
      assert.equal(read.stderr, "");
      assert.equal(read.stdout, "over TLS\n");
    }
    assert.doesNotMatch(server.log, /warning/);
  });
});

Deno.test("a lone self-signed (CA) certificate: the server warns, the client says to use rap cert", async () => {
  await withDir(async (dir) => {
    // A CA certificate and its key, used as a server's own: what `openssl req -x509` gives.
    const { caCert, caKey } = await makeCertificates();
    await Deno.writeTextFile(`${dir}/cert.pem`, caCert);
    await Deno.writeTextFile(`${dir}/key.pem`, caKey);
    await using server = await startServe({
      flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
      args: ["--cert", `${dir}/cert.pem`, "--key", `${dir}/key.pem`, "hex://41"],
    });
    assert.match(
      server.log,
      /\[rap\] warning: clients will refuse ".*cert\.pem": it is a CA certificate \(CA:TRUE.*rap cert DIR/,
    );
    const read = await rap(
      ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
      ["cat", "--ca", `${dir}/cert.pem`, `raps://127.0.0.1:${server.port}/`],
    );
    assert.equal(read.code, 1);
    assert.match(
      read.stderr,
      /^rap cat: Cannot open .*CaUsedAsEndEntity\)\) \(the server's certificate is a CA certificate .*make a CA and a server certificate with "rap cert DIR".*--ca DIR\/ca\.pem\)\n$/,
    );
  });
});

/** A TLS server with a token, its CA and token files, serving `data.bin` of `dir`. */
async function tokenServer(dir: string) {
  const set = await makeCertificates();
  await Deno.writeTextFile(`${dir}/ca.pem`, set.caCert);
  await Deno.writeTextFile(`${dir}/server.pem`, set.cert);
  await Deno.writeTextFile(`${dir}/server.key`, set.key);
  await Deno.writeTextFile(`${dir}/token`, "s3cret-token\n");
  await Deno.writeTextFile(`${dir}/data.bin`, "ABCDEFGH");
  return await startServe({
    flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
    args: [
      "--cert",
      `${dir}/server.pem`,
      "--key",
      `${dir}/server.key`,
      "--token-file",
      `${dir}/token`,
    ],
  });
}

Deno.test("rap shell --ca --token-file reaches a private-CA token server with =+, o raps:// and =:", async () => {
  await withDir(async (dir) => {
    await using server = await tokenServer(dir);
    const flags = ["--allow-net=127.0.0.1", `--allow-read=${dir}`];
    const credentials = ["--ca", `${dir}/ca.pem`, "--token-file", `${dir}/token`];
    const uri = `raps://127.0.0.1:${server.port}//${dir}/data.bin`;
    const added = await rap(flags, ["shell", ...credentials, "-qc", `=+ ${uri};=0 p8 4`]);
    // radare2 prints an empty line after each =N reply.
    assert.equal(added.stdout, "41424344\n\n", added.stderr);
    const opened = await rap(flags, ["shell", ...credentials, "-qc", `o ${uri};p8 2 @ 4`]);
    assert.equal(opened.stdout, "4546\n", opened.stderr);
    const given = await rap(flags, ["shell", ...credentials, "-qc", "p8 1", uri]);
    assert.equal(given.stdout, "41\n", given.stderr);
    const { status } = await server.stop();
    assert.equal(status.code, 0);
  });
});

Deno.test("the shell says a token server refused it for the token (=+ rap://, =N cmd, =:host:port)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/token`, "s3cret-token\n");
    await Deno.writeTextFile(`${dir}/data.bin`, "ABCDEFGH");
    await using server = await startServe({
      flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
      args: ["--token-file", `${dir}/token`],
    });
    const flags = ["--allow-net=127.0.0.1", `--allow-read=${dir}`];
    const where = `127.0.0.1:${server.port}`;
    const added = await rap(flags, ["shell", "-qc", `=+ rap://${where}//${dir}/data.bin`]);
    assert.equal(
      added.stderr,
      `ERROR: Cannot open "/${dir}/data.bin" on ${where}: the server requires a token ` +
        "(start the shell with --token-file FILE)\n",
    );
    // A host added without a file: the refusal comes at its first command.
    const bare = await rap(flags, ["shell", "-qc", `=+ rap://${where}/;=0 p8 2`]);
    assert.match(
      bare.stderr,
      /closed by the server: the server requires a token \(start the shell with --token-file FILE\)\n$/,
    );
    const query = await rap(flags, ["shell", "-qc", `=:${where} ?V`]);
    assert.match(
      query.stderr,
      /: the server requires a token \(start the shell with --token-file FILE\)\n$/,
    );
    const withToken = await rap(flags, [
      "shell",
      "--token-file",
      `${dir}/token`,
      "-qc",
      `=:${where} ?e hi;=+ rap://${where}//${dir}/data.bin;=0 p8 2`,
    ]);
    assert.equal(withToken.stdout, "hi\n\n4142\n\n", withToken.stderr);
    const { status } = await server.stop();
    assert.equal(status.code, 0);
  });
});
