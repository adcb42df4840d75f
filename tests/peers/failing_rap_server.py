#!/usr/bin/env python3
"""A RAP server (another process, raw sockets) whose one file fails: for the tests of what our
server answers when a rap:// file it opened fails on the far side.

  failing_rap_server.py [--size N]

Listens on 127.0.0.1 (a free port) and prints {"event": "listening", "port": P}. Every
connection is served in its own thread: the extension probe gets an offer (readat, writeat,
size, error), OPEN answers fd 3, READ_AT answers zeros (up to --size), SEEK answers the offset
(SET/CUR), while SIZE, SEEK END, WRITE and WRITE_AT answer ERROR 6 ("the disk is on fire").
A plain CMD answers "". It stops when stdin closes and prints {"connections": N}.
"""
import argparse
import json
import struct

from rap_peer import (CLOSE, CMD, ERROR, OPEN, READ, READ_AT, REPLY, SEEK, SIZE, WRITE, WRITE_AT,
                      answer_open, answer_probe, recv_exact, serve_loopback)

FAILURE = b"the disk is on fire"


def error(code=6, message=FAILURE):
    return struct.pack(">BII", ERROR, code, len(message)) + message


def serve(conn, size):
    seek = 0
    ext = False
    try:
        while True:
            head = conn.recv(1)
            if not head:
                return
            op = head[0]
            if op == CMD:
                ext = answer_probe(conn, 1048576) or ext
            elif op == OPEN:
                answer_open(conn)
            elif op == SEEK:
                whence, offset = struct.unpack(">BQ", recv_exact(conn, 9))
                if whence == 2:
                    conn.sendall(error() if ext else struct.pack(">BQ", SEEK | REPLY, 2**64 - 1))
                    continue
                seek = offset if whence == 0 else seek + offset
                conn.sendall(struct.pack(">BQ", SEEK | REPLY, seek))
            elif op == READ:
                (n,) = struct.unpack(">I", recv_exact(conn, 4))
                conn.sendall(struct.pack(">BI", READ | REPLY, n) + bytes(n))
            elif op == WRITE:
                (n,) = struct.unpack(">I", recv_exact(conn, 4))
                recv_exact(conn, n)
                conn.sendall(error() if ext else struct.pack(">BI", WRITE | REPLY, 0))
            elif op == READ_AT:
                _, offset, n = struct.unpack(">IQI", recv_exact(conn, 16))
                n = max(0, min(n, size - offset))
                conn.sendall(struct.pack(">BI", READ_AT | REPLY, n) + bytes(n))
            elif op == WRITE_AT:
                _, _, n = struct.unpack(">IQI", recv_exact(conn, 16))
                recv_exact(conn, n)
                conn.sendall(error())
            elif op == SIZE:
                recv_exact(conn, 4)
                conn.sendall(error())
            elif op == CLOSE:
                recv_exact(conn, 4)
                conn.sendall(struct.pack(">BI", CLOSE | REPLY, 0))
            else:
                return
    except (OSError, ConnectionError):
        return
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    args = p.parse_args()
    count = serve_loopback(lambda conn, _: serve(conn, args.size))
    print(json.dumps({"connections": count}))


if __name__ == "__main__":
    main()
