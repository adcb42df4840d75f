/**
 * The ceiling of `bench/rap_bench.ts`: a bare Deno TCP server on 127.0.0.1 that, for each
 * 8-byte request (be64 length), streams that many bytes of the file given as argument
 * (repeated as needed) with plain `conn.write` calls. No framing, no protocol.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/_raw_tcp_sender.ts FILE
 * ```
 *
 * It prints `port N` on stdout once it listens.
 *
 * @module
 */

const BLOCK = 1024 * 1024;

async function serve(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  conn.setNoDelay(true);
  const request = new Uint8Array(8);
  try {
    for (;;) {
      let at = 0;
      while (at < 8) {
        const n = await conn.read(request.subarray(at));
        if (n === null) return;
        at += n;
      }
      let left = Number(new DataView(request.buffer).getBigUint64(0));
      let offset = 0;
      while (left > 0) {
        const end = Math.min(offset + BLOCK, data.length, offset + left);
        const n = await conn.write(data.subarray(offset, end));
        left -= n;
        offset += n;
        if (offset >= data.length) offset = 0;
      }
    }
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

if (import.meta.main) {
  const path = Deno.args[0];
  const data = path ? await Deno.readFile(path) : new Uint8Array(BLOCK).fill(0x5a);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(`port ${listener.addr.port}`);
  for await (const conn of listener) serve(conn, data);
}
