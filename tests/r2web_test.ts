import { IoError } from "../mod.ts";
import assert from "node:assert/strict";
import r2web, { decodeR2Hex, r2UriEncode, R2webDescriptor } from "../plugins/r2web.ts";

interface FakeR2 extends AsyncDisposable {
  uri: string;
  /** The request targets received (path and query exactly as sent). */
  paths: string[];
  /** The commands after %XX decoding. */
  commands: string[];
  memory: Uint8Array;
}

/** Decode %XX escapes only, as radare2's `=h` does (`+` stays `+`). */
function percentDecode(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "%" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...new TextEncoder().encode(text[i]));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** A radare2 `=h` stand-in over a 1 KiB buffer: `?V`, `p8 N@A`, `wx HEX@A`, and echo. */
function fakeR2(options: { version?: string; status?: number } = {}): FakeR2 {
  const paths: string[] = [];
  const commands: string[] = [];
  const memory = Uint8Array.from({ length: 1024 }, (_, i) => (i * 3) & 0xff);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      const target = url.pathname + url.search;
      paths.push(target);
      if (!target.startsWith("/cmd/")) return new Response("File not found\n", { status: 404 });
      const command = percentDecode(target.slice("/cmd/".length));
      commands.push(command);
      const text = (body: string) =>
        new Response(body, {
          status: options.status ?? 200,
          headers: { "content-type": "text/plain" },
        });
      if (command === "?V") return text(options.version ?? "6.2.1 fake\n");
      let m = /^p8 (\d+)@(0x[0-9a-f]+|\d+)$/.exec(command);
      if (m) {
        const [n, at] = [Number(m[1]), Number(m[2])];
        let hex = "";
        for (let i = 0; i < n; i++) {
          hex += (memory[at + i] ?? 0xff).toString(16).padStart(2, "0");
        }
        return text(hex + "\n");
      }
      m = /^wx ([0-9a-f]*)@(0x[0-9a-f]+|\d+)$/.exec(command);
      if (m) {
        const at = Number(m[2]);
        for (let i = 0; i < m[1].length / 2; i++) {
          memory[at + i] = parseInt(m[1].slice(2 * i, 2 * i + 2), 16);
        }
        return text("");
      }
      return text(`ran: ${command}\n`);
    },
  );
  return {
    uri: `r2web://127.0.0.1:${server.addr.port}/cmd/`,
    paths,
    commands,
    memory,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("r2web:// opens with GET <base>/?V and keeps the version", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, {});
  assert.deepEqual(remote.paths, ["/cmd/?V"]);
  assert.ok(desc instanceof R2webDescriptor);
  assert.equal(desc.version, "6.2.1 fake");
  assert.equal(desc.base, remote.uri.replace("r2web://", "http://").replace(/\/$/, ""));
  assert.equal(await desc.size(), Infinity);
});

Deno.test("r2web:// reads with p8%20N@0xHEX and decodes the hex answer", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, {});
  assert.deepEqual(await desc.read(0x10, 4), remote.memory.slice(0x10, 0x14));
  assert.deepEqual(
    await desc.read(1000, 30),
    Uint8Array.from([
      ...remote.memory.slice(1000),
      ...new Uint8Array(6).fill(0xff),
    ]),
  );
  assert.deepEqual(remote.paths.slice(1), ["/cmd/p8%204@0x10", "/cmd/p8%2030@0x3e8"]);
  assert.deepEqual(remote.commands.slice(1), ["p8 4@0x10", "p8 30@0x3e8"]);
});

Deno.test("r2web:// writes with wx%20HEX@DECIMAL when opened for writing", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, { write: true });
  assert.equal(await desc.write(300, Uint8Array.of(0xde, 0xad, 0xbe, 0xef)), 4);
  assert.deepEqual([...remote.memory.slice(300, 304)], [0xde, 0xad, 0xbe, 0xef]);
  assert.equal(remote.paths.at(-1), "/cmd/wx%20deadbeef@300");
  assert.deepEqual([...await desc.read(299, 6)], [
    (299 * 3) & 0xff,
    0xde,
    0xad,
    0xbe,
    0xef,
    (304 * 3) & 0xff,
  ]);
});

Deno.test("r2web:// splits large writes into 8 KiB requests", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, { write: true });
  await desc.write(0, new Uint8Array(8192 + 10).fill(0x41));
  const writes = remote.paths.filter((p) => p.startsWith("/cmd/wx"));
  assert.equal(writes.length, 2);
  assert.match(writes[1], /^\/cmd\/wx%20(41){10}@8192$/);
});

Deno.test("r2web:// refuses writes when opened read-only", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, {});
  await assert.rejects(desc.write(0, Uint8Array.of(1)), (e) => e instanceof IoError);
  assert.equal(remote.paths.length, 1);
});

Deno.test("r2web:// system() sends the command with radare2's URI encoding", async () => {
  await using remote = fakeR2();
  await using desc = await r2web.open(remote.uri, {});
  assert.equal(await desc.system!("pd 10 @ main~call"), "ran: pd 10 @ main~call\n");
  assert.equal(remote.paths.at(-1), "/cmd/pd%2010%20%40%20main%7ecall");
  assert.equal(await desc.system!("?e é"), "ran: ?e é\n");
  assert.equal(remote.paths.at(-1), "/cmd/%3fe%20%c3%a9");
});

Deno.test("r2web:// open fails clearly on an empty answer, an error status or no server", async () => {
  {
    await using remote = fakeR2({ version: "" });
    await assert.rejects(r2web.open(remote.uri, {}), /empty answer/);
  }
  {
    await using remote = fakeR2({ status: 500 });
    await assert.rejects(r2web.open(remote.uri, {}), /HTTP 500/);
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    r2web.open(`r2web://127.0.0.1:${port}/cmd`, {}),
    (e) => e instanceof IoError && /connection refused by 127\.0\.0\.1:\d+/.test(e.message),
  );
});

Deno.test("r2web:// needs net access to HOST:PORT and rejects a missing host", () => {
  assert.deepEqual(r2web.permissions("r2web://localhost/cmd", {}), [
    { name: "net", host: "localhost:80" },
  ]);
  assert.throws(() => r2web.permissions("r2web://", {}), IoError);
});

Deno.test("r2UriEncode() keeps only [0-9A-Za-z] and escapes every other byte in lower case", () => {
  assert.equal(r2UriEncode("aZ09 -_.~/"), "aZ09%20%2d%5f%2e%7e%2f");
  assert.equal(r2UriEncode("\n"), "%0a");
});

Deno.test("decodeR2Hex() reads p8 answers like r_hex_str2bin", () => {
  assert.deepEqual([...decodeR2Hex("0001ff\n")], [0, 1, 0xff]);
  assert.deepEqual([...decodeR2Hex("ab c")], [0xab, 0xc0]);
  assert.deepEqual([...decodeR2Hex("")], []);
  assert.deepEqual([...decodeR2Hex("zz")], []);
});
