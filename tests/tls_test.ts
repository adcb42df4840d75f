/**
 * raps:// — RAP over TLS: the server with a certificate and key (or one PEM holding both),
 * clients that always verify the server's certificate, and clear failures for an untrusted
 * certificate and for a plain client at a TLS server. Certificates are made with openssl at
 * test time (skipped, with a message, without it).
 */

import {
  connectTls,
  INSECURE_TLS_HINT,
  IoRegistry,
  loadCaCerts,
  loadCertificate,
  RapClient,
  RapConnectionError,
  RapProtocolError,
  RapServer,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";
import { createRapPlugin } from "../plugins/rap.ts";
import { HAS_OPENSSL, withCertificates } from "./_certificates.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const ignore = !HAS_OPENSSL;

async function runCli(flags: string[], args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function tlsServer(cert: string, key: string, logs: string[]) {
  return RapServer.listen({
    port: 0,
    tls: { cert, key },
    defaultUri: "hex://00112233",
    log: (line) => logs.push(line),
  });
}

Deno.test(
  "a raps:// client that trusts the server's CA reads and writes over TLS",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      const logs: string[] = [];
      await using server = tlsServer(certs.cert, certs.key, logs);
      assert.match(server.url, /^raps:\/\/127\.0\.0\.1:\d+\/$/);
      for (const extensions of [false, true]) {
        await using client = await RapClient.connect({
          hostname: "127.0.0.1",
          port: server.addr.port,
          tls: { caCerts: [certs.ca] },
          extensions,
        });
        assert.equal(client.extensions !== undefined, extensions);
        const fd = await client.open("malloc://8192", 6);
        assert.equal(await client.write(4000, new Uint8Array(200).fill(7), fd), 200);
        assert.deepEqual(await client.read(4000, 200, fd), new Uint8Array(200).fill(7));
        assert.equal(await client.cmd("?V").then((v) => /^\d/.test(v)), true);
      }
      // The name is checked too: "localhost" is in the certificate's subjectAltName.
      await using byName = await RapClient.connect({
        hostname: "localhost",
        port: server.addr.port,
        tls: { caCerts: [certs.ca] },
      });
      assert.deepEqual([...await byName.read(0, 2)], [0x00, 0x11]);
    });
  },
);

Deno.test(
  "a client that does not trust the server's CA fails with a clear error; the server logs it and keeps serving",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      const logs: string[] = [];
      await using server = tlsServer(certs.cert, certs.key, logs);
      const port = server.addr.port;
      for (const caCerts of [undefined, [certs.otherCa]]) {
        await assert.rejects(
          RapClient.connect({ hostname: "127.0.0.1", port, tls: { caCerts } }),
          (error: Error) => {
            assert.ok(error instanceof RapConnectionError);
            assert.match(
              error.message,
              /^Cannot connect to raps:\/\/127\.0\.0\.1:\d+: TLS handshake failed: .*UnknownIssuer.*give its CA with --ca FILE/,
            );
            return true;
          },
        );
      }
      await using good = await RapClient.connect({
        hostname: "127.0.0.1",
        port,
        tls: { caCerts: [certs.ca] },
      });
      assert.deepEqual([...await good.read(0, 4)], [0x00, 0x11, 0x22, 0x33]);
      await good.close();
      await server.close();
      assert.equal(
        logs.filter((l) => /closed: TLS handshake failed/.test(l)).length,
        2,
        logs.join("\n"),
      );
    });
  },
);

Deno.test(
  "a plain rap:// client at a TLS server fails cleanly; the server logs why and keeps serving",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      const logs: string[] = [];
      await using server = tlsServer(certs.cert, certs.key, logs);
      const port = server.addr.port;
      const plain = await RapClient.connect({ hostname: "127.0.0.1", port });
      await assert.rejects(plain.read(0, 4), (error: Error) => {
        assert.ok(error instanceof RapProtocolError || error instanceof RapConnectionError);
        if (error instanceof RapProtocolError) {
          assert.match(error.message, /speaks TLS: use raps:\/\//);
        }
        return true;
      });
      await plain.close();
      await using good = await RapClient.connect({
        hostname: "127.0.0.1",
        port,
        tls: { caCerts: [certs.ca] },
      });
      assert.deepEqual([...await good.read(1, 2)], [0x11, 0x22]);
      await good.close();
      await server.close();
      assert.ok(
        logs.some((l) => /closed: TLS handshake failed: .*\(a plain rap:\/\/ client\?\)/.test(l)),
        logs.join("\n"),
      );
    });
  },
);

Deno.test("a raps:// client at a plain server gets a clear error, and the server's log names TLS", {
  ignore,
}, async () => {
  const logs: string[] = [];
  await using server = RapServer.listen({ port: 0, log: (l) => logs.push(l) });
  await assert.rejects(
    connectTls("127.0.0.1", server.addr.port),
    /Cannot connect to raps:\/\/127\.0\.0\.1:\d+: TLS handshake failed/,
  );
  await server.close();
  assert.ok(logs.some((l) => /a TLS client\? serve raps:\/\//.test(l)), logs.join("\n"));
});

Deno.test(
  "loadCertificate takes a certificate and a key, or one PEM holding both; bad files are clear errors",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      const pair = await loadCertificate(certs.certFile, certs.keyFile);
      const both = await loadCertificate(certs.bothFile);
      assert.deepEqual(both, pair);
      await assert.rejects(loadCertificate(certs.certFile), /no private key in it .*--key FILE/);
      await assert.rejects(loadCertificate(certs.keyFile), /no PEM certificate in it/);
      await assert.rejects(loadCertificate(certs.certFile, certs.caFile), /no PEM private key/);
      await assert.rejects(
        loadCertificate(`${certs.dir}/missing.pem`),
        /Cannot read the certificate file/,
      );
      assert.equal((await loadCaCerts(certs.caFile)).length, 1);
    });
  },
);

Deno.test(
  "the rap plugin opens raps:// with the CAs given to createRapPlugin",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      await using server = tlsServer(certs.cert, certs.key, []);
      const uri = `raps://127.0.0.1:${server.addr.port}//hex://cafe`;
      const registry = new IoRegistry();
      await assert.rejects(registry.open(uri), /Cannot open "raps:.*TLS handshake failed/);
      registry.register(createRapPlugin({ caCerts: [certs.ca] }));
      await using desc = await registry.open(uri);
      assert.deepEqual([...await desc.read(0, 2)], [0xca, 0xfe]);
    });
  },
);

Deno.test(
  "serve --cert with one PEM and cat raps:// --ca work across processes",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      await using server = await startServe({
        flags: ["--allow-net=127.0.0.1", `--allow-read=${certs.dir}`],
        args: ["--cert", certs.bothFile, "hex://cafebabe"],
      });
      const uri = `raps://127.0.0.1:${server.port}//hex://0102`;
      const flags = ["--allow-net=127.0.0.1", `--allow-read=${certs.dir}`];
      const ok = await runCli(flags, ["cat", uri, "--ca", certs.caFile]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "\x01\x02");
      const untrusted = await runCli(flags, ["cat", uri]);
      assert.equal(untrusted.code, 1);
      assert.match(
        untrusted.stderr,
        /^rap cat: Cannot open "raps:.*TLS handshake failed.*--ca FILE\)\n$/,
      );
      const { status } = await server.stop();
      assert.equal(status.code, 0);
    });
  },
);

Deno.test(
  "cat --insecure is refused and names Deno's --unsafely-ignore-certificate-errors, which does skip the check",
  { ignore },
  async () => {
    await withCertificates(async (certs) => {
      await using server = tlsServer(certs.cert, certs.key, []);
      const uri = `raps://127.0.0.1:${server.addr.port}//hex://41`;
      const refused = await runCli(["--allow-net=127.0.0.1"], ["cat", "--insecure", uri]);
      assert.equal(refused.code, 2);
      assert.equal(
        refused.stderr,
        `rap cat: --insecure: ${INSECURE_TLS_HINT} (see rap cat --help)\n`,
      );
      // The finding: Deno's runtime flag applies to Deno.connectTls, for the hosts it names.
      const unsafe = await runCli(
        ["--allow-net=127.0.0.1", "--unsafely-ignore-certificate-errors=127.0.0.1"],
        ["cat", uri],
      );
      assert.equal(unsafe.code, 0, unsafe.stderr);
      assert.equal(unsafe.stdout, "A");
      assert.match(
        unsafe.stderr,
        /DANGER: TLS certificate validation is disabled for: 127\.0\.0\.1/,
      );
    });
  },
);
