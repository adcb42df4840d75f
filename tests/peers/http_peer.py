#!/usr/bin/env python3
"""Outside peers for the HTTP endpoint: another process, raw sockets, written the way
radare2's own HTTP client (r_socket_http_get) behaves: one request per connection, the
command unencoded in the request target, and the reply read until the server closes.

Subcommands (each prints one JSON object on stdout when it ends):

  get HOST PORT TARGET [--version 1.0|1.1] [--header "Name: value"]... [--count N]
      [--timeout S]
      N times: connect, send "GET TARGET HTTP/x" (raw bytes: spaces stay spaces), the
      headers given (no Host unless given), an empty line, then read until EOF. A read
      that waits S seconds (default 5, about radare2's) counts as a timeout, not an EOF.
      Prints {"requests": N, "eof": N, "timeouts": N, "errors": [...],
              "first": {"status_line", "headers", "body"}, "bodies": [distinct bodies]}.
  post HOST PORT --length N [--chunk B] [--header "Name: value"]...
      Sends "POST /cmd" with Content-Length N, then N zero bytes in chunks of B, watching
      for an early reply; stops sending once one arrives. Prints {"status": code or null,
      "sent": bytes, "eof": bool, "body": text}.
  slow HOST PORT [--interval S] [--seconds T]
      Slow headers (slowloris): sends a request head one byte every S seconds for at most
      T seconds, and reports what the server did. Prints {"closed": bool, "status": code
      or null, "sent": bytes, "total": bytes}.

Only 127.0.0.1 is ever dialled: HOST must be a loopback address.
"""
import argparse
import json
import select
import socket
import sys
import time


def loopback(host):
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit(f"refusing to dial {host}: tests only talk to loopback")
    return host


def parse_reply(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return {"status_line": lines[0], "headers": headers, "body": body.decode("latin1")}


def status_of(raw):
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def read_to_eof(sock, timeout):
    """Read until EOF; returns (bytes, True) at EOF, (bytes, False) on a timeout."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks), True
            chunks.append(data)
    except socket.timeout:
        return b"".join(chunks), False
    except ConnectionResetError:
        return b"".join(chunks), True


def get(args):
    request = f"GET {args.target} HTTP/{args.version}\r\n".encode()
    for header in args.header:
        request += header.encode() + b"\r\n"
    request += b"\r\n"
    eof = timeouts = 0
    errors, first, bodies = [], None, []
    for _ in range(args.count):
        try:
            sock = socket.create_connection((loopback(args.host), args.port), timeout=args.timeout)
            sock.sendall(request)
            raw, ended = read_to_eof(sock, args.timeout)
            sock.close()
        except OSError as e:
            errors.append(f"{type(e).__name__}: {e}")
            continue
        if ended:
            eof += 1
        else:
            timeouts += 1
        reply = parse_reply(raw)
        if first is None:
            first = reply
        if reply["body"] not in bodies and len(bodies) < 10:
            bodies.append(reply["body"])
    print(json.dumps({"requests": args.count, "eof": eof, "timeouts": timeouts,
                      "errors": errors, "first": first, "bodies": bodies}))


def post(args):
    sock = socket.create_connection((loopback(args.host), args.port), timeout=10)
    head = f"POST /cmd HTTP/1.1\r\nContent-Length: {args.length}\r\n".encode()
    for header in args.header:
        head += header.encode() + b"\r\n"
    sock.sendall(head + b"\r\n")
    chunk = bytes(args.chunk)
    sent = 0
    replied = False
    try:
        while sent < args.length:
            r, w, _ = select.select([sock], [sock], [], 10)
            if r:
                replied = True
                break
            if w:
                n = sock.send(chunk[: min(len(chunk), args.length - sent)])
                sent += n
    except (BrokenPipeError, ConnectionResetError):
        replied = True
    raw, ended = read_to_eof(sock, 10)
    sock.close()
    reply = parse_reply(raw) if raw else {"body": ""}
    print(json.dumps({"status": status_of(raw), "sent": sent, "eof": ended,
                      "replied_early": replied, "body": reply["body"]}))


def slow(args):
    request = b"GET /cmd/?V HTTP/1.1\r\nUser-Agent: slow\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    sock = socket.create_connection((loopback(args.host), args.port), timeout=10)
    sent = 0
    closed = False
    raw = b""
    deadline = time.monotonic() + args.seconds
    try:
        while sent < len(request) and time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], args.interval)
            if r:
                data, _ = read_to_eof(sock, 5)
                raw += data
                closed = True
                break
            sock.sendall(request[sent:sent + 1])
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    sock.close()
    print(json.dumps({"closed": closed, "status": status_of(raw), "sent": sent,
                      "total": len(request)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("get")
    g.add_argument("host")
    g.add_argument("port", type=int)
    g.add_argument("target")
    g.add_argument("--version", default="1.1", choices=["1.0", "1.1"])
    g.add_argument("--header", action="append", default=[])
    g.add_argument("--count", type=int, default=1)
    g.add_argument("--timeout", type=float, default=5)
    g.set_defaults(run=get)
    b = sub.add_parser("post")
    b.add_argument("host")
    b.add_argument("port", type=int)
    b.add_argument("--length", type=int, required=True)
    b.add_argument("--chunk", type=int, default=65536)
    b.add_argument("--header", action="append", default=[])
    b.set_defaults(run=post)
    s = sub.add_parser("slow")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--interval", type=float, default=0.2)
    s.add_argument("--seconds", type=float, default=20)
    s.set_defaults(run=slow)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
