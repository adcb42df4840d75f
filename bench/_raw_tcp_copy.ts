/**
 * The yardstick of `bench/cat_bench.ts`: a file copied over one plain TCP stream by Deno,
 * with no protocol, as simply as Deno can do it. `serve PATH` listens on 127.0.0.1 (port 0,
 * printed as `port N`) and sends PATH, read in 1 MiB pieces into one reused buffer, to
 * every client; `get PORT` connects and copies what comes to stdout with a 1 MiB buffer.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/_raw_tcp_copy.ts serve big.bin
 * deno run --allow-net=127.0.0.1 bench/_raw_tcp_copy.ts get 40123 > /dev/null
 * ```
 *
 * @module
 */

/** Bytes per read and per write. */
const BLOCK = 1024 * 1024;

/** Write all of `bytes` to `sink`. */
async function writeAll(sink: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let done = 0; done < bytes.length;) done += await sink.write(bytes.subarray(done));
}

/** Send the file at `path` to one client, then close. */
async function send(conn: Deno.TcpConn, path: string): Promise<void> {
  const buffer = new Uint8Array(BLOCK);
  try {
    using file = await Deno.open(path);
    for (;;) {
      const n = await file.read(buffer);
      if (n === null || n === 0) break;
      await writeAll(conn, buffer.subarray(0, n));
    }
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/**
 * Copy everything the server sends to stdout. Standard output is written synchronously, as
 * `rap cat` writes it (an asynchronous write of Deno's stdout goes through another thread).
 */
async function get(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(BLOCK);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      for (let done = 0; done < n;) done += Deno.stdout.writeSync(buffer.subarray(done, n));
    }
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  const [mode, arg] = Deno.args;
  if (mode === "serve" && arg !== undefined) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    console.log(`port ${listener.addr.port}`);
    for await (const conn of listener) send(conn, arg);
  } else if (mode === "get" && arg !== undefined) {
    await get(Number(arg));
  } else {
    console.error("usage: _raw_tcp_copy.ts serve PATH | get PORT");
    Deno.exit(2);
  }
}
