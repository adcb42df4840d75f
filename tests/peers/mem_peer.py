#!/usr/bin/env python3
"""Outside peers for the memory tests: raw RAP clients in another process.

Subcommands (each prints JSON lines on stdout; the last one is the result):

  open HOST PORT URI...
      One connection per URI, each sends OPEN URI (read-only) as radare2 does. Prints
      {"results": [{"uri": U, "fd": N} or {"uri": U, "closed": REASON}, ...],
       "seconds": [S, ...]} (the time each OPEN took to be answered or refused).
  fill HOST PORT --count N --uri URI [--size BYTES] [--whole]
      N connections opened one after the other, each sends OPEN URI for writing, then
      writes the last byte (--size - 1) so the buffer is really touched; with --whole it
      writes every byte (4 KiB plain RAP writes, pipelined). The connections are held
      (printing {"event": "filled", ...}) until stdin closes. Prints
      {"results": [{"fd": N} or {"closed": REASON}, ...]}.

Only 127.0.0.1 is ever dialled (RapConn refuses anything else).
"""
import argparse
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rap_peer import REPLY, SEEK, WRITE, RapConn, recv_exact  # noqa: E402


def try_open(host, port, uri, write=False):
    conn = RapConn(host, port, timeout=120)
    try:
        return conn, {"fd": conn.open(uri, write=write)}
    except (ConnectionError, OSError, ValueError) as e:
        conn.close()
        return None, {"closed": f"{type(e).__name__}: {e}"}


def open_uris(args):
    results, seconds = [], []
    for uri in args.uris:
        started = time.monotonic()
        conn, result = try_open(args.host, args.port, uri)
        seconds.append(round(time.monotonic() - started, 3))
        results.append({"uri": uri, **result})
        if conn is not None:
            conn.close()
    print(json.dumps({"results": results, "seconds": seconds}))


def write_whole(conn, size):
    """Write `size` bytes from offset 0: SEEK + 4 KiB plain WRITE pairs, 128 in flight."""
    block = bytes([0xA5]) * 4096
    done = 0
    while done < size:
        batch = []
        while done < size and len(batch) < 128:
            n = min(len(block), size - done)
            batch.append(struct.pack(">BBQ", SEEK, 0, done) + struct.pack(">BI", WRITE, n) + block[:n])
            done += n
        conn.sock.sendall(b"".join(batch))
        for _ in batch:
            seek_op = recv_exact(conn.sock, 9)[0]
            write_op = recv_exact(conn.sock, 5)[0]
            if seek_op != SEEK | REPLY or write_op != WRITE | REPLY:
                raise ValueError(f"reply opcodes {seek_op:#x} {write_op:#x}")


def fill(args):
    conns, results = [], []
    for _ in range(args.count):
        conn, result = try_open(args.host, args.port, args.uri, write=True)
        if conn is not None:
            try:
                if args.whole:
                    write_whole(conn, args.size)
                else:
                    conn.seek(args.size - 1)
                    result["wrote"] = conn.write(b"\x01")
                conns.append(conn)
            except (ConnectionError, OSError, ValueError) as e:
                conn.close()
                result = {"closed": f"{type(e).__name__}: {e}"}
        results.append(result)
    print(json.dumps({"event": "filled", "results": results}), flush=True)
    while os.read(sys.stdin.fileno(), 1):
        pass
    for conn in conns:
        conn.close()
    print(json.dumps({"results": results}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("open")
    o.add_argument("host")
    o.add_argument("port", type=int)
    o.add_argument("uris", nargs="+")
    o.set_defaults(run=open_uris)
    f = sub.add_parser("fill")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("--count", type=int, default=4)
    f.add_argument("--uri", default="malloc://1G")
    f.add_argument("--size", type=int, default=1 << 30)
    f.add_argument("--whole", action="store_true")
    f.set_defaults(run=fill)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
