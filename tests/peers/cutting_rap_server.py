#!/usr/bin/env python3
"""A RAP server (another process, raw sockets) that resets the connection in the middle of a
READ_AT reply: for the tests of what a streaming client (rap cat) does when its server goes.

  cutting_rap_server.py --size N --cut BYTES

Listens on 127.0.0.1 (a free port) and prints {"event": "listening", "port": P}. The probe gets
an offer (maxdata 4 MiB), OPEN answers fd 3, SIZE answers N. READ_AT replies carry the bytes of
pattern(offset) = (offset * 7 + (offset >> 16)) & 0xff; once BYTES payload bytes in all have been
sent, the connection is reset (SO_LINGER 0) in the middle of a reply. It stops when stdin closes
and prints {"sent": BYTES_SENT}.
"""
import argparse
import json
import socket
import struct

from rap_peer import (CMD, OPEN, READ_AT, REPLY, SIZE, answer_open, answer_probe, recv_exact,
                      serve_loopback)


BASE = bytes((j * 7) & 0xFF for j in range(65536))


def pattern(offset, n):
    """The bytes at [offset, offset + n): within 64 KiB block b, byte j is (j * 7 + b) & 0xff."""
    out = []
    end = offset + n
    while offset < end:
        block, j = divmod(offset, 65536)
        take = min(65536 - j, end - offset)
        shift = bytes((x + block) & 0xFF for x in range(256))
        out.append(BASE[j:j + take].translate(shift))
        offset += take
    return b"".join(out)


def serve(conn, size, cut, sent):
    try:
        while True:
            head = conn.recv(1)
            if not head:
                return
            op = head[0]
            if op == CMD:
                answer_probe(conn, 4194304)
            elif op == OPEN:
                answer_open(conn)
            elif op == SIZE:
                recv_exact(conn, 4)
                conn.sendall(struct.pack(">BQ", SIZE | REPLY, size))
            elif op == READ_AT:
                _, offset, n = struct.unpack(">IQI", recv_exact(conn, 16))
                n = max(0, min(n, size - offset))
                conn.sendall(struct.pack(">BI", READ_AT | REPLY, n))
                part = min(n, cut - sent[0])
                conn.sendall(pattern(offset, part))
                sent[0] += part
                if part < n:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
            else:
                return
    except (OSError, ConnectionError):
        return
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--cut", type=int, required=True)
    args = p.parse_args()
    sent = [0]
    serve_loopback(lambda conn, _: serve(conn, args.size, args.cut, sent))
    print(json.dumps({"sent": sent[0]}))


if __name__ == "__main__":
    main()
