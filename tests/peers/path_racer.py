#!/usr/bin/env python3
"""Outside peers for the symbolic-link race tests: another process swaps a directory inside
the server's scope for a symbolic link to somewhere outside it, while a client opens a file
inside that directory over RAP.

Subcommands (each prints JSON lines on stdout; the last one is its result):

  swap DIR OUTSIDE --seconds S [--mode exchange|rename] [--pause P]
      Swaps the real directory DIR with a symbolic link to OUTSIDE, back and forth, for S
      seconds or until stdin closes (sleeping P seconds after each swap, default 0: as fast
      as it can, which takes a whole CPU). `exchange` (default) swaps the two names atomically
      (renameat2 RENAME_EXCHANGE), so DIR always exists; `rename` moves DIR away and puts
      the link in its place (DIR is missing for a moment in each swap). DIR is a real
      directory again at the end. Prints {"event": "racing"} once started, then
      {"swaps": N}.
  opens HOST PORT PATH --seconds S --inside FILE --outside FILE [--write] [--count N]
      A client that opens PATH over plain RAP again and again (one connection per OPEN,
      as a failed OPEN closes it), reads its first bytes and sorts what came back: the
      bytes of FILE given as --inside, those of --outside, or anything else. With --write
      it opens for writing, reads, then writes a marker at offset 0 of what it opened
      (the test then checks that no file outside the scope changed). Prints {"opens": N,
      "refused": N, "inside": N, "outside": N, "other": N, "errors": [...]}.

Only 127.0.0.1 is ever dialled.
"""
import argparse
import ctypes
import json
import os
import sys
import time

from rap_peer import RapConn, stdin_closed

RENAME_EXCHANGE = 2
AT_FDCWD = -100
WRITE_MARKER = b"RAP-RACE-WRITE"


def exchanger():
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

    def exchange(a, b):
        if fn(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return exchange


def swap(args):
    target = os.path.abspath(args.dir)
    if not os.path.isdir(target) or os.path.islink(target):
        sys.exit(f"{target} must be a real directory")
    link = target + ".racer-link"
    real = target + ".racer-real"
    os.symlink(args.outside, link)
    exchange = exchanger() if args.mode == "exchange" else None
    a, b = target.encode(), link.encode()
    swaps = 0
    swapped = False
    print(json.dumps({"event": "racing"}), flush=True)
    deadline = time.monotonic() + args.seconds
    try:
        while True:
            if swaps % 256 == 0 and (time.monotonic() >= deadline or stdin_closed()):
                break
            if exchange:
                exchange(a, b)
            elif not swapped:
                os.rename(target, real)
                os.rename(link, target)
            else:
                os.rename(target, link)
                os.rename(real, target)
            swapped = not swapped
            swaps += 1
            if args.pause > 0:
                time.sleep(args.pause)
    finally:
        if swapped:
            if exchange:
                exchange(a, b)
            else:
                os.rename(target, link)
                os.rename(real, target)
        os.remove(link)
    print(json.dumps({"swaps": swaps}), flush=True)


def opens(args):
    with open(args.inside, "rb") as f:
        inside = f.read(64)
    with open(args.outside, "rb") as f:
        outside = f.read(64)
    n = min(len(inside), len(outside))
    if n == 0 or inside[:n] == outside[:n]:
        sys.exit("--inside and --outside must start with different bytes")
    counts = {"opens": 0, "refused": 0, "inside": 0, "outside": 0, "other": 0}
    errors = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and (args.count == 0 or counts["opens"] < args.count):
        counts["opens"] += 1
        conn = RapConn(args.host, args.port)
        try:
            try:
                conn.open(args.path, write=args.write)
            except (ConnectionError, ValueError, OSError):
                counts["refused"] += 1
                continue
            conn.seek(0)
            got = conn.read(n)
            if args.write:
                conn.seek(0)
                conn.write(WRITE_MARKER)
            if got[:n] == inside[:n] or got.startswith(WRITE_MARKER):
                counts["inside"] += 1
            elif got[:n] == outside[:n]:
                counts["outside"] += 1
            else:
                counts["other"] += 1
                if len(errors) < 10:
                    errors.append(f"unexpected bytes {got[:n]!r}")
        except Exception as e:  # the server must answer every request of an opened file
            if len(errors) < 10:
                errors.append(f"{type(e).__name__}: {e}")
        finally:
            conn.close()
    counts["errors"] = errors
    print(json.dumps(counts), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("swap")
    s.add_argument("dir")
    s.add_argument("outside")
    s.add_argument("--seconds", type=float, default=3)
    s.add_argument("--mode", choices=["exchange", "rename"], default="exchange")
    s.add_argument("--pause", type=float, default=0)
    s.set_defaults(run=swap)
    o = sub.add_parser("opens")
    o.add_argument("host")
    o.add_argument("port", type=int)
    o.add_argument("path")
    o.add_argument("--seconds", type=float, default=3)
    o.add_argument("--count", type=int, default=0)
    o.add_argument("--inside", required=True)
    o.add_argument("--outside", required=True)
    o.add_argument("--write", action="store_true")
    o.set_defaults(run=opens)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
