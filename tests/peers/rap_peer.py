#!/usr/bin/env python3
"""Outside peers for the rap server's resilience tests: another process, raw sockets.

Subcommands (each prints one JSON object on stdout when it ends):

  check HOST PORT PATH --seconds S [--size N] [--write] [--token T] [--until-stdin]
      A checker client: opens PATH over plain RAP (as radare2 does), then reads random
      blocks (SEEK SET + READ) for S seconds and compares every byte with the local file
      PATH. With --write it also writes random blocks to the first half and reads them
      back. With --token it first sends the extension probe carrying the token (servers
      started with --token-file). With --until-stdin it also stops when stdin closes
      (S is then a maximum). Prints {"ops": N, "errors": [...], "wrong": N}.
  reset HOST PORT --count N [--send HEX] [--modes connect,partial,reply] [--read N] [--seed S]
      N connections closed with SO_LINGER 0 (an RST). Each picks one of --modes at random:
      `connect` resets right after connecting (before the server accepts, as a port
      scanner's connect scan or a health check does; the default), `partial` after sending
      a random prefix of HEX (in the middle of a request), `reply` after sending HEX whole
      and reading 1 to N bytes of what comes back (in the middle of a reply; default N
      4096). Prints {"sent": N, "modes": {"connect": N, "partial": N, "reply": N}}.
  hold HOST PORT --count N [--seconds S] [--send HEX] [--reconnect] [--connect-timeout C]
      Opens N connections and keeps them idle (sending HEX on each first, if given) for S
      seconds or until stdin closes; stops opening at the first connect that fails or takes
      longer than C seconds (default 5). With --reconnect, each connection the server closes
      is opened again at once (an attacker squatting the slots). Prints {"event": "holding"}
      once all are open, then {"connected": N, "closed_by_server": N, "reconnects": N}.
  nest HOST PORT --name NAME [--name NAME2 ...] --count N
      Probes for the extensions (so a failed OPEN is an error reply, not a closed
      connection), then sends N OPENs of each NAME (e.g. a rap:// URI to the server
      itself). Prints {"opened": N, "refused": N, "messages": [...], "closed": bool,
      "opened_names": [NAME that opened, ...]}.

Only 127.0.0.1 is ever dialled: HOST must be a loopback address.
"""
import argparse
import json
import os
import random
import select
import selectors
import socket
import struct
import sys
import threading
import time

OPEN, READ, WRITE, SEEK, CLOSE, CMD = 1, 2, 3, 4, 5, 7
READ_AT, WRITE_AT, SIZE, ERROR = 0x11, 0x12, 0x13, 0xFF
REPLY = 0x80


def loopback(host):
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit(f"refusing to dial {host}: tests only talk to loopback")
    return host


def serve_loopback(handle, threaded=True):
    """Serve on 127.0.0.1 (a free port) until stdin closes: prints {"event": "listening",
    "port": P}, then calls handle(conn, number) for each connection (number counts from 1),
    each in its own thread or one after another. Returns how many connections came."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(json.dumps({"event": "listening", "port": listener.getsockname()[1]}), flush=True)
    count = [0]

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            count[0] += 1
            if threaded:
                threading.Thread(target=handle, args=(conn, count[0]), daemon=True).start()
            else:
                handle(conn, count[0])

    threading.Thread(target=accept, daemon=True).start()
    while os.read(sys.stdin.fileno(), 1):
        pass
    listener.close()
    return count[0]


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


class RapConn:
    """A plain RAP client: one request at a time, as radare2's own client."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((loopback(host), port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def open(self, path, write=False):
        name = path.encode()
        perm = 6 if write else 4  # radare2's R|W or R
        self.sock.sendall(struct.pack(">BBB", OPEN, perm, len(name)) + name)
        op, fd = struct.unpack(">BI", recv_exact(self.sock, 5))
        if op != OPEN | REPLY:
            raise ValueError(f"OPEN reply opcode {op:#x}")
        return fd

    def seek(self, offset, whence=0):
        self.sock.sendall(struct.pack(">BBQ", SEEK, whence, offset))
        op, at = struct.unpack(">BQ", recv_exact(self.sock, 9))
        if op != SEEK | REPLY:
            raise ValueError(f"SEEK reply opcode {op:#x}")
        return at

    def read(self, length):
        self.sock.sendall(struct.pack(">BI", READ, length))
        op, n = struct.unpack(">BI", recv_exact(self.sock, 5))
        if op != READ | REPLY:
            raise ValueError(f"READ reply opcode {op:#x}")
        return recv_exact(self.sock, n)

    def write(self, data):
        self.sock.sendall(struct.pack(">BI", WRITE, len(data)) + data)
        op, n = struct.unpack(">BI", recv_exact(self.sock, 5))
        if op != WRITE | REPLY:
            raise ValueError(f"WRITE reply opcode {op:#x}")
        return n

    def probe(self, token=None):
        """The extension probe (with the token of a --token-file server); returns the offer."""
        return self.cmd("#rap-ext? 1" + (f" token={token}" if token else ""))

    def open_ext(self, path):
        """OPEN on a negotiated connection: (fd, None), or (None, message) for an error reply."""
        name = path.encode()
        self.sock.sendall(struct.pack(">BBB", OPEN, 1, len(name)) + name)
        op = recv_exact(self.sock, 1)[0]
        if op == OPEN | REPLY:
            return struct.unpack(">I", recv_exact(self.sock, 4))[0], None
        if op == ERROR:
            _, n = struct.unpack(">II", recv_exact(self.sock, 8))
            return None, recv_exact(self.sock, n).decode(errors="replace")
        raise ValueError(f"OPEN reply opcode {op:#x}")

    def cmd(self, text):
        body = text.encode() + b"\0"
        self.sock.sendall(struct.pack(">BI", CMD, len(body)) + body)
        op, n = struct.unpack(">BI", recv_exact(self.sock, 5))
        if op != CMD | REPLY:
            raise ValueError(f"CMD reply opcode {op:#x}")
        return recv_exact(self.sock, n).rstrip(b"\0").decode(errors="replace")

    def close(self):
        self.sock.close()


def answer_probe(conn, maxdata):
    """Answer a CMD whose opcode was just read: the rap extension probe gets an offer of READ_AT,
    WRITE_AT, SIZE and error replies up to maxdata; any other command, "". Returns whether it
    was the probe."""
    (n,) = struct.unpack(">I", recv_exact(conn, 4))
    text = recv_exact(conn, n).rstrip(b"\0").decode(errors="replace")
    probe = text.startswith("#rap-ext? ")
    out = f"#rap-ext 1 maxdata={maxdata} ops=readat,writeat,size,error\n".encode() if probe else b""
    body = out + b"\0"
    conn.sendall(struct.pack(">BI", CMD | REPLY, len(body)) + body)
    return probe


def answer_open(conn, fd=3):
    """Answer an OPEN whose opcode was just read with `fd`; returns the name it asked for."""
    _, n = struct.unpack(">BB", recv_exact(conn, 2))
    name = recv_exact(conn, n)
    conn.sendall(struct.pack(">BI", OPEN | REPLY, fd))
    return name


def stdin_closed():
    """Whether stdin has reached its end (the parent released the peer); never blocks."""
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(r) and not os.read(sys.stdin.fileno(), 1)


def check_loop(host, port, path, seconds, block=4096, write=False, seed=1, stop=None,
               on_op=None, token=""):
    """The checker's loop: reads (and with write, writes) and compares bytes until the time
    is up or stop() is true; on_op(start, end) is called after each op (monotonic times).
    Returns {"ops": N, "errors": [...], "wrong": N}."""
    with open(path, "rb") as f:
        expected = bytearray(f.read())
    size = len(expected)
    rng = random.Random(seed)
    ops, wrong, errors = 0, 0, []
    deadline = time.monotonic() + seconds
    conn = None
    while time.monotonic() < deadline and len(errors) < 20 and not (stop and stop()):
        started = time.monotonic()
        try:
            if conn is None:
                conn = RapConn(host, port)
                if token:
                    offer = conn.probe(token)
                    if "auth=ok" not in offer:
                        raise ValueError(f"token refused: {offer.strip()}")
                conn.open(path, write=write)
            if write and rng.random() < 0.3 and size > 1:
                at = rng.randrange(0, size // 2)
                data = bytes(rng.randrange(256) for _ in range(min(64, size // 2 - at) or 1))
                conn.seek(at)
                if conn.write(data) != len(data):
                    errors.append(f"short write at {at}")
                expected[at:at + len(data)] = data
            else:
                at = rng.randrange(0, max(1, size))
                n = min(block, size - at) or 1
                if conn.seek(at) != at:
                    errors.append(f"seek to {at} landed elsewhere")
                got = conn.read(n)
                if got != bytes(expected[at:at + n]):
                    wrong += 1
                    errors.append(f"wrong bytes at {at}+{n}")
            ops += 1
            if on_op:
                on_op(started, time.monotonic())
        except Exception as e:  # any failure of the checker is an error the test reports
            errors.append(f"{type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
    if conn is not None:
        conn.close()
    return {"ops": ops, "errors": errors, "wrong": wrong}


def check(args):
    result = check_loop(args.host, args.port, args.path, args.seconds, args.block, args.write,
                        args.seed, stop=stdin_closed if args.until_stdin else None,
                        token=args.token)
    print(json.dumps(result))


def reset(args):
    payload = bytes.fromhex(args.send) if args.send else b""
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in ("connect", "partial", "reply"):
            sys.exit(f"unknown reset mode {m!r}")
        if m != "connect" and not payload:
            sys.exit(f"reset mode {m!r} needs --send")
    rng = random.Random(args.seed)
    sent = 0
    counts = {m: 0 for m in modes}
    for _ in range(args.count):
        mode = rng.choice(modes)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(5)
        try:
            s.connect((loopback(args.host), args.port))
            if mode == "partial":
                s.sendall(payload[: rng.randrange(1, len(payload) + 1)])
            elif mode == "reply":
                s.sendall(payload)
                want = rng.randrange(1, args.read + 1)
                got = 0
                while got < want:
                    chunk = s.recv(want - got)
                    if not chunk:
                        break
                    got += len(chunk)
            sent += 1
            counts[mode] += 1
        except OSError:
            pass
        s.close()
    print(json.dumps({"sent": sent, "modes": counts}))


def hold(args):
    payload = bytes.fromhex(args.send) if args.send else b""

    def connect():
        s = socket.create_connection((loopback(args.host), args.port),
                                     timeout=args.connect_timeout)
        if payload:
            s.sendall(payload)
        return s

    socks = []
    for _ in range(args.count):
        try:
            socks.append(connect())
        except OSError:
            break
    connected = len(socks)
    print(json.dumps({"event": "holding", "connected": connected}), flush=True)
    deadline = time.monotonic() + args.seconds
    closed, reconnects, missing = 0, 0, 0
    # selectors (epoll), not select(): thousands of sockets are past FD_SETSIZE.
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    done = False
    while time.monotonic() < deadline and not done:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            if s is sys.stdin:
                if not os.read(sys.stdin.fileno(), 1):
                    done = True
                continue
            try:
                gone = not s.recv(4096)
            except OSError:
                gone = True
            if gone:
                closed += 1
                sel.unregister(s)
                socks.remove(s)
                s.close()
                missing += 1
        # Bounded: at most --max-reconnects in all.
        while args.reconnect and missing > 0 and reconnects < args.max_reconnects:
            try:
                s = connect()
            except OSError:
                break
            socks.append(s)
            sel.register(s, selectors.EVENT_READ)
            reconnects += 1
            missing -= 1
    sel.close()
    for s in socks:
        s.close()
    print(json.dumps({"connected": connected, "closed_by_server": closed, "reconnects": reconnects}))


def nest(args):
    conn = RapConn(args.host, args.port)
    opened, refused, messages, closed, opened_names = 0, 0, [], False, []
    try:
        conn.probe()
        for name in args.name:
            for _ in range(args.count):
                fd, message = conn.open_ext(name)
                if fd is not None:
                    opened += 1
                    if name not in opened_names:
                        opened_names.append(name)
                else:
                    refused += 1
                    if message not in messages:
                        messages.append(message)
    except (OSError, ConnectionError, ValueError) as e:
        closed = True
        messages.append(f"{type(e).__name__}: {e}")
    conn.close()
    print(json.dumps({"opened": opened, "refused": refused, "messages": messages, "closed": closed,
                      "opened_names": opened_names}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("path")
    c.add_argument("--seconds", type=float, default=3)
    c.add_argument("--block", type=int, default=4096)
    c.add_argument("--write", action="store_true")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--token", default="")
    c.add_argument("--until-stdin", action="store_true")
    c.set_defaults(run=check)
    r = sub.add_parser("reset")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("--count", type=int, default=100)
    r.add_argument("--send", default="")
    r.add_argument("--modes", default="connect")
    r.add_argument("--read", type=int, default=4096)
    r.add_argument("--seed", type=int, default=1)
    r.set_defaults(run=reset)
    h = sub.add_parser("hold")
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("--count", type=int, default=100)
    h.add_argument("--seconds", type=float, default=5)
    h.add_argument("--send", default="")
    h.add_argument("--reconnect", action="store_true")
    h.add_argument("--max-reconnects", type=int, default=200000)
    h.add_argument("--connect-timeout", type=float, default=5)
    h.set_defaults(run=hold)
    n = sub.add_parser("nest")
    n.add_argument("host")
    n.add_argument("port", type=int)
    n.add_argument("--name", required=True, action="append")
    n.add_argument("--count", type=int, default=1)
    n.set_defaults(run=nest)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
