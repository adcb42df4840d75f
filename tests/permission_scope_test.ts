/**
 * The permission scope, proven: a `cli.ts serve` subprocess under narrow Deno flags
 * (`--allow-read=DIR --allow-net=127.0.0.1:PORT`, nothing else) refuses every OPEN that
 * would reach outside DIR or another port, names the missing flag in its log, and serves
 * what is inside DIR.
 */

import { Perm, RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { freePort, type ServeProcess, startServe } from "./_serve_process.ts";
import { gzipFile } from "./_fixtures.ts";

const INSIDE = "INSIDE-BYTES";
const SECRET = "SECRET-BYTES";
const R = Perm.R;
const RW = Perm.R | Perm.W;

interface Scope extends AsyncDisposable {
  root: string;
  dir: string;
  outside: string;
  port: number;
  /** A listener on another 127.0.0.1 port; counts the connections it gets. */
  decoyPort: number;
  decoyHits(): number;
  server: ServeProcess;
  /** Stop the server (SIGTERM) and return its whole log. */
  stop(): Promise<string>;
}

/** Make DIR (served) and a sibling with secrets, symlinks from DIR pointing out, a server. */
async function scopedServer(): Promise<Scope> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_scope_" }));
  const dir = `${root}/served`;
  const outside = `${root}/outside`;
  await Deno.mkdir(dir);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${dir}/inside.bin`, INSIDE);
  await Deno.writeFile(`${dir}/inside.gz`, await gzipFile(new TextEncoder().encode(INSIDE)));
  await Deno.writeTextFile(`${outside}/secret.txt`, SECRET);
  await Deno.writeFile(`${outside}/secret.gz`, await gzipFile(new TextEncoder().encode(SECRET)));
  await Deno.symlink(`${outside}/secret.txt`, `${dir}/link_out`);
  await Deno.symlink(`${outside}/secret.gz`, `${dir}/link_out.gz`);
  await Deno.symlink(outside, `${dir}/dir_out`);
  await Deno.symlink(`${dir}/inside.bin`, `${dir}/link_in`);

  const decoy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let hits = 0;
  const accepting = (async () => {
    for await (const conn of decoy) {
      hits++;
      conn.close();
    }
  })();
  const port = freePort();
  const server = await startServe({
    flags: [`--allow-read=${dir}`, `--allow-net=127.0.0.1:${port}`],
    // Writable (-w): what refuses writes here is the permission scope (no --allow-write).
    args: ["-w", "--port", String(port)],
    keepLines: 100_000,
  });
  let log: string | undefined;
  const stop = async () => {
    if (log === undefined) {
      const { status } = await server.stop("SIGTERM");
      assert.equal(status.code, 0, server.log);
      log = server.log;
    }
    return log;
  };
  return {
    root,
    dir,
    outside,
    port,
    decoyPort: (decoy.addr as Deno.NetAddr).port,
    decoyHits: () => hits,
    server,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop().catch(() => server.stop("SIGKILL"));
      decoy.close();
      await accepting;
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** OPEN `name` on a fresh connection; returns the first bytes, or "refused" if it closed. */
async function attempt(port: number, name: string, flags: number): Promise<string> {
  const client = await RapClient.connect({ hostname: "127.0.0.1", port, timeout: 15_000 });
  try {
    await client.open(name, flags);
    return new TextDecoder().decode(await client.read(0, 12));
  } catch {
    return "refused";
  } finally {
    await client.close();
  }
}

/** The log line of the refused OPEN of `name`. */
function refusal(log: string, name: string): string {
  const line = log.split("\n").find((l) => l.includes(`OPEN failed: Cannot open "${name}"`));
  assert.ok(line, `no refusal logged for ${name}:\n${log}`);
  return line;
}

Deno.test("a file inside --allow-read=DIR is served, and a symlink inside DIR to a file inside DIR too", async () => {
  await using scope = await scopedServer();
  assert.equal(await attempt(scope.port, `${scope.dir}/inside.bin`, R), INSIDE);
  assert.equal(await attempt(scope.port, `file://${scope.dir}/inside.bin`, R), INSIDE);
  assert.equal(await attempt(scope.port, `gzip://${scope.dir}/inside.gz`, R), INSIDE);
  assert.equal(await attempt(scope.port, `${scope.dir}/link_in`, R), INSIDE);
  // The server's own port is allowed, but a client cannot make the server dial itself.
  const self = `rap://127.0.0.1:${scope.port}/${scope.dir}/inside.bin`;
  assert.equal(await attempt(scope.port, self, R), "refused");
  assert.match(refusal(await scope.stop(), self), /is this server's own listening address/);
});

Deno.test("paths outside --allow-read=DIR are refused, closing the connection, and the log names the flag", async () => {
  await using scope = await scopedServer();
  const names = [
    `${scope.outside}/secret.txt`,
    `${scope.dir}/../outside/secret.txt`,
    "/etc/passwd",
    "file:///etc/passwd",
    "/proc/self/environ",
    "/proc/self/cmdline",
    `/proc/self/root${scope.outside}/secret.txt`,
    `/proc/self/cwd/deno.json`,
    `mmap://${scope.outside}/secret.txt`,
    `slurp://${scope.outside}/secret.txt`,
    `gzip://${scope.outside}/secret.gz`,
    `zip://${scope.outside}/secret.gz::0`,
    "procpid://1",
    "self://",
    "shm://rap-scope-test",
  ];
  for (const name of names) {
    assert.equal(await attempt(scope.port, name, R), "refused", name);
  }
  const log = await scope.stop();
  for (const name of names) {
    assert.match(refusal(log, name), /read access is not granted \(run with --allow-read=/, name);
  }
  assert.ok(!log.includes(SECRET));
});

Deno.test("a .. after a linked directory is resolved by name, as Deno checks it, so it stays in DIR", async () => {
  await using scope = await scopedServer();
  // The OS would take DIR/dir_out/.. to be ROOT; Deno normalizes it to DIR first and opens
  // DIR/outside/secret.txt, which does not exist.
  const name = `${scope.dir}/dir_out/../outside/secret.txt`;
  assert.equal(await attempt(scope.port, name, R), "refused");
  const log = await scope.stop();
  assert.match(refusal(log, name), /no such file/);
});

Deno.test("writes are refused without --allow-write, and the file inside DIR is unchanged", async () => {
  await using scope = await scopedServer();
  for (const name of [`${scope.dir}/inside.bin`, `gzip://${scope.dir}/inside.gz`]) {
    assert.equal(await attempt(scope.port, name, RW), "refused", name);
  }
  const log = await scope.stop();
  assert.match(
    refusal(log, `${scope.dir}/inside.bin`),
    /write access is not granted \(run with --allow-write=/,
  );
  assert.equal(await Deno.readTextFile(`${scope.dir}/inside.bin`), INSIDE);
});

Deno.test("a symlink inside DIR to a file outside is refused for file://, mmap:// and through a linked directory", async () => {
  await using scope = await scopedServer();
  // Deno grants --allow-read=DIR to DIR/link_out itself and Deno.open follows the link; the
  // file plugin resolves the real path and checks it again.
  const names = [
    `${scope.dir}/link_out`,
    `file://${scope.dir}/link_out`,
    `${scope.dir}/dir_out/secret.txt`,
    `mmap://${scope.dir}/link_out`,
  ];
  for (const name of names) {
    assert.equal(await attempt(scope.port, name, R), "refused", name);
  }
  const log = await scope.stop();
  for (const name of names) {
    assert.match(
      refusal(log, name),
      new RegExp(
        `read access is not granted \\(run with --allow-read=${scope.outside}/secret.txt\\)`,
      ),
    );
  }
});

// Deno follows a symbolic link inside DIR to its target outside DIR without a permission
// check on the target; the registry's preflight checks the real path of every declared path.
Deno.test({
  name:
    "a symlink inside DIR to a file outside is refused by every path plugin (gzip, slurp, hexfile, ihex, srec, bfdbg)",
  fn: async () => {
    await using scope = await scopedServer();
    const names = [
      `gzip://${scope.dir}/link_out.gz`,
      `gzip://${scope.dir}/dir_out/secret.gz`,
      `slurp://${scope.dir}/link_out`,
      `hexfile://${scope.dir}/link_out`,
      `ihex://${scope.dir}/link_out`,
      `srec://${scope.dir}/link_out`,
      `bfdbg://${scope.dir}/link_out`,
      `zip://${scope.dir}/link_out.gz::0`,
      `ar://${scope.dir}/link_out//x`,
    ];
    for (const name of names) {
      assert.equal(await attempt(scope.port, name, R), "refused", name);
    }
    const log = await scope.stop();
    for (const name of names) assert.match(refusal(log, name), /--allow-read=/, name);
  },
});

Deno.test("other hosts' ports and network schemes are refused under --allow-net=127.0.0.1:PORT", async () => {
  await using scope = await scopedServer();
  const other = `127.0.0.1:${scope.decoyPort}`;
  const names = [
    `http://${other}/x`,
    `tcp://${other}`,
    `tcp-slurp://${other}`,
    `rap://${other}//${scope.dir}/inside.bin`,
    `gdb://${other}`,
    `r2web://${other}`,
  ];
  for (const name of names) {
    assert.equal(await attempt(scope.port, name, R), "refused", name);
  }
  // rap:// to the server's own (allowed) port cannot widen the scope either: it is refused
  // (self-dialing), and the file behind it would be.
  const self = `rap://127.0.0.1:${scope.port}//etc/passwd`;
  assert.equal(await attempt(scope.port, self, R), "refused");
  assert.equal(await attempt(scope.port, "/etc/passwd", R), "refused");
  const log = await scope.stop();
  for (const name of names) {
    assert.match(
      refusal(log, name),
      new RegExp(`net access is not granted \\(run with --allow-net=${other}\\)`),
    );
  }
  assert.match(refusal(log, "/etc/passwd"), /--allow-read=\/etc\/passwd/);
  assert.match(refusal(log, self), /127\.0\.0\.1:\d+ is this server's own listening address/);
  assert.equal(scope.decoyHits(), 0, "the server connected to another port");
});

Deno.test("a narrow server reads nothing but DIR: its file limit and RSS are observable, and SIGTERM exits 0", async () => {
  await using scope = await scopedServer();
  assert.ok((await scope.server.rss())! > 0);
  assert.equal(await attempt(scope.port, "nosuch://x", R), "refused");
  const log = await scope.stop();
  assert.match(refusal(log, "nosuch://x"), /no plugin for scheme "nosuch"/);
  assert.match(log, /shutting down/);
});
