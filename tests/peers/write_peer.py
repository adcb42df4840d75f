#!/usr/bin/env python3
"""An outside peer for the read-only default of `serve`: a raw plain-RAP client.

Subcommand (prints one JSON object on stdout when it ends):

  write HOST PORT --data HEX [--at N] [--open PATH] [--perm P]
      Without --open, sends no OPEN, as `r2 -w rap://HOST:PORT/` does, so it writes to the
      server's default file; with --open it first sends OPEN PATH with radare2 permission P
      (default 6, R|W, what `r2 -w` asks). Then SEEK SET N, WRITE the bytes, SEEK SET N and
      READ them back. Prints {"written": N, "read": HEX}, or {"closed": REASON} when the
      server closed the connection (a refused OPEN).

Only 127.0.0.1 is ever dialled (RapConn refuses anything else).
"""
import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rap_peer import OPEN, REPLY, RapConn, recv_exact  # noqa: E402


def write(args):
    data = bytes.fromhex(args.data)
    conn = RapConn(args.host, args.port)
    try:
        if args.open is not None:
            name = args.open.encode() + b"\0"
            conn.sock.sendall(struct.pack(">BBB", OPEN, args.perm, len(name)) + name)
            op, _fd = struct.unpack(">BI", recv_exact(conn.sock, 5))
            if op != OPEN | REPLY:
                raise ValueError(f"OPEN reply opcode {op:#x}")
        conn.seek(args.at)
        written = conn.write(data)
        conn.seek(args.at)
        read = conn.read(len(data))
        return {"written": written, "read": read.hex()}
    except (ConnectionError, OSError) as error:
        return {"closed": str(error)}
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("write")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--data", required=True)
    p.add_argument("--at", type=int, default=0)
    p.add_argument("--open")
    p.add_argument("--perm", type=int, default=6)
    args = parser.parse_args()
    print(json.dumps(write(args)), flush=True)


if __name__ == "__main__":
    main()
