#!/usr/bin/env python3
"""A RAP server (another process, raw sockets) that records what its clients send: for the
tests that check that our shell puts the same requests on the wire as radare2's `=+` / `=N`.

  rap_recorder.py [--size N]

Listens on 127.0.0.1 (a free port) and prints {"event": "listening", "port": P}. Connections
are served one at a time. OPEN answers fd 3; CMD answers "reply to CMD\\n" (plus the NUL);
SEEK answers the offset (END: --size); READ answers zeros; CLOSE answers 0. Every request is
recorded as one string ("OPEN 0 /x", "CMD px 16", "SEEK 0 0x10", "READ 256", "CLOSE"); when
connection K (from 1) ends it prints {"event": "closed-K", "requests": [...]}. It stops when
stdin closes and prints {"connections": N}.
"""
import argparse
import json
import struct

from rap_peer import CLOSE, CMD, OPEN, READ, REPLY, SEEK, recv_exact, serve_loopback


def serve(conn, size):
    seek = 0
    log = []
    try:
        while True:
            head = conn.recv(1)
            if not head:
                break
            op = head[0]
            if op == OPEN:
                perm, n = struct.unpack(">BB", recv_exact(conn, 2))
                name = recv_exact(conn, n).decode(errors="replace")
                log.append(f"OPEN {perm} {name}")
                conn.sendall(struct.pack(">BI", OPEN | REPLY, 3))
            elif op == CMD:
                (n,) = struct.unpack(">I", recv_exact(conn, 4))
                text = recv_exact(conn, n).decode(errors="replace")
                log.append(f"CMD {text.rstrip(chr(0))}")
                body = b"reply to " + text.rstrip("\0").encode() + b"\n\0"
                conn.sendall(struct.pack(">BI", CMD | REPLY, len(body)) + body)
            elif op == SEEK:
                whence, offset = struct.unpack(">BQ", recv_exact(conn, 9))
                log.append(f"SEEK {whence} {offset:#x}")
                seek = offset if whence == 0 else seek + offset if whence == 1 else size
                conn.sendall(struct.pack(">BQ", SEEK | REPLY, seek))
            elif op == READ:
                (n,) = struct.unpack(">I", recv_exact(conn, 4))
                log.append(f"READ {n}")
                conn.sendall(struct.pack(">BI", READ | REPLY, n) + bytes(n))
            elif op == CLOSE:
                recv_exact(conn, 4)
                log.append("CLOSE")
                conn.sendall(struct.pack(">BI", CLOSE | REPLY, 0))
            else:
                log.append(f"OP {op:#x}")
                break
    except (OSError, ConnectionError):
        pass
    finally:
        conn.close()
    return log


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    args = p.parse_args()

    def record(conn, number):
        requests = serve(conn, args.size)
        print(json.dumps({"event": f"closed-{number}", "requests": requests}), flush=True)

    print(json.dumps({"connections": serve_loopback(record, threaded=False)}))


if __name__ == "__main__":
    main()
