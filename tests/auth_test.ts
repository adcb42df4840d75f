/**
 * Authentication and address filtering: a server with a token lets in only clients whose
 * first request is a probe carrying it (never logging it); --allow-from refuses other
 * addresses at accept.
 */

import {
  AddressFilter,
  encodePacket,
  RapClient,
  RapConnectionError,
  RapServer,
  readTokenFile,
  TokenVerifier,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startServe } from "./_serve_process.ts";
import { HAS_OPENSSL, withCertificates } from "./_certificates.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const TOKEN = "tok-3f9a0c1e5b7d2468ace13579bdf02468";

function tokenServer(logs: string[], options: Parameters<typeof RapServer.listen>[0] = {}) {
  return RapServer.listen({
    port: 0,
    token: TOKEN,
    defaultUri: "hex://a1b2c3",
    log: (line) => logs.push(line),
    ...options,
  });
}

function assertNoToken(logs: string[]) {
  for (const line of logs) assert.ok(!line.includes(TOKEN), `the token is in: ${line}`);
  for (const line of logs) assert.ok(!line.includes(TOKEN.slice(4, 20)), `part of it: ${line}`);
}

/** Send raw bytes and read until the server closes. */
async function rawExchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(bytes);
  const chunks: number[] = [];
  const buf = new Uint8Array(1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return new Uint8Array(chunks);
    chunks.push(...buf.subarray(0, n));
  }
}

Deno.test("a client that presents the token in its first probe is let in, with the extensions", async () => {
  const logs: string[] = [];
  await using server = tokenServer(logs);
  await using client = await RapClient.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
    token: TOKEN,
  });
  assert.ok(client.extensions);
  assert.deepEqual([...await client.read(0, 3)], [0xa1, 0xb2, 0xc3]);
  await client.close();
  await server.close();
  assert.ok(logs.some((l) => /: authenticated$/.test(l)), logs.join("\n"));
  assertNoToken(logs);
});

Deno.test("a wrong token is refused with a clear error and a log line that does not show it", async () => {
  const logs: string[] = [];
  await using server = tokenServer(logs);
  await assert.rejects(
    RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port, token: TOKEN + "x" }),
    (error: Error) =>
      error instanceof RapConnectionError && /refused the token/.test(error.message),
  );
  await server.close();
  assert.ok(
    logs.some((l) => /closed: refused: wrong token \(--token-file\)/.test(l)),
    logs.join("\n"),
  );
  assertNoToken(logs);
  assert.ok(!logs.some((l) => l.includes(TOKEN + "x")));
});

Deno.test("a probe without a token gets auth=required and the client says the server wants one", async () => {
  const logs: string[] = [];
  await using server = tokenServer(logs);
  await assert.rejects(
    RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port, extensions: true }),
    /requires a token \(the server was started with --token-file\)/,
  );
  await server.close();
  assert.ok(logs.some((l) => /closed: refused: no token in the probe/.test(l)), logs.join("\n"));
});

Deno.test("a plain radare2 client (OPEN first) is refused: closed without a reply, reason logged", async () => {
  const logs: string[] = [];
  await using server = tokenServer(logs);
  const open = encodePacket({ type: "open", flags: 4, name: "hex://00" });
  assert.equal((await rawExchange(server.addr.port, open)).length, 0);
  // A CMD that is not a probe, and a probe after another request, are refused the same way.
  const cmd = encodePacket({ type: "cmd", command: "?V" });
  assert.equal((await rawExchange(server.addr.port, cmd)).length, 0);
  await server.close();
  const refusals = logs.filter((l) =>
    /closed: refused: the first request is not an extension probe with a token \(--token-file\); plain radare2 clients cannot authenticate/
      .test(l)
  );
  assert.equal(refusals.length, 2, logs.join("\n"));
});

Deno.test("a client that connects to a token server and sends nothing is closed after the packet timeout", async () => {
  const logs: string[] = [];
  await using server = tokenServer(logs, { packetTimeout: 100 });
  assert.equal((await rawExchange(server.addr.port, new Uint8Array(0))).length, 0);
  await server.close();
  assert.ok(logs.some((l) => /request not complete within 100 ms \(--packet-timeout\)/.test(l)));
});

Deno.test("TokenVerifier compares whole tokens; readTokenFile trims and refuses unusable files", async () => {
  const verifier = new TokenVerifier(TOKEN);
  assert.equal(await verifier.verify(TOKEN), true);
  for (const wrong of ["", TOKEN.slice(0, -1), TOKEN + "0", TOKEN.toUpperCase(), undefined]) {
    assert.equal(await verifier.verify(wrong), false, String(wrong));
  }
  assert.equal(`${verifier}`, "[token]");
  assert.throws(() => new TokenVerifier(""), /empty/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t`, `  ${TOKEN}\n`);
    assert.equal(await readTokenFile(`${dir}/t`), TOKEN);
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    await assert.rejects(readTokenFile(`${dir}/empty`), /is empty/);
    await Deno.writeTextFile(`${dir}/spaces`, "two words");
    await assert.rejects(readTokenFile(`${dir}/spaces`), /printable ASCII without spaces/);
    await assert.rejects(readTokenFile(`${dir}/missing`), /Cannot read the token file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--allow-from refuses clients outside the list at accept, with a log line", async () => {
  const logs: string[] = [];
  {
    await using server = RapServer.listen({
      port: 0,
      allowFrom: AddressFilter.parse("10.0.0.0/8,::1"),
      log: (l) => logs.push(l),
    });
    const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await assert.rejects(client.cmd("?V"), RapConnectionError);
    await client.close();
  }
  assert.ok(
    logs.some((l) =>
      /127\.0\.0\.1:\d+: refused, address not in --allow-from 10\.0\.0\.0\/8,::1\/128/.test(l)
    ),
    logs.join("\n"),
  );
  assert.ok(!logs.some((l) => /connected/.test(l)));
  await using open = RapServer.listen({
    port: 0,
    allowFrom: AddressFilter.parse("127.0.0.0/8"),
    log: () => {},
  });
  await using client = await RapClient.connect({ hostname: "127.0.0.1", port: open.addr.port });
  assert.match(await client.cmd("?V"), /^\d/);
});

Deno.test("serve --token-file with cat --token-file across processes; cat without it fails in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, TOKEN + "\n");
    await using server = await startServe({
      flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
      args: ["--token-file", `${dir}/token`, "--allow-from", "127.0.0.1/32", "hex://cafe"],
    });
    const cat = async (extra: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-net=127.0.0.1",
          `--allow-read=${dir}`,
          CLI,
          "cat",
          `rap://127.0.0.1:${server.port}//hex://0102`,
          ...extra,
        ],
        stdin: "null",
      }).output();
      return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
    };
    const ok = await cat(["--token-file", `${dir}/token`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([...ok.stdout], [1, 2]);
    const refused = await cat([]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^rap cat: Cannot open "rap:[^\n]*requires a token[^\n]*\n$/);
    const { status } = await server.stop();
    assert.equal(status.code, 0);
    assert.match(server.log, /refused: no token in the probe/);
    assert.match(server.log, /authenticated/);
    assert.ok(!server.log.includes(TOKEN));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a token over TLS: the token server works with raps:// clients",
  { ignore: !HAS_OPENSSL },
  async () => {
    await withCertificates(async (certs) => {
      const logs: string[] = [];
      await using server = tokenServer(logs, { tls: { cert: certs.cert, key: certs.key } });
      await using client = await RapClient.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
        tls: { caCerts: [certs.ca] },
        token: TOKEN,
      });
      assert.deepEqual([...await client.read(1, 2)], [0xb2, 0xc3]);
      await client.close();
      await server.close();
      assertNoToken(logs);
    });
  },
);
