#!/usr/bin/env python3
"""Outside peer for the command limits: big or long CMDs on one connection while a checker
client (rap_peer.check_loop) reads and compares bytes on another, the whole time.

  cmds HOST PORT PATH --cmd TEXT [--cmd TEXT ...] [--probe TEXT] [--nonzero N]
      Starts the checker on PATH, then sends each CMD in turn on its own connection (as
      radare2 does: plain RAP, one request at a time). After each CMD it sends --probe
      (default "?e probe") and records its reply too. With --nonzero N it also counts the
      non-zero bytes among the first N of the connection's file right after the CMD's reply
      and again after the probe's ("nonzero", "nonzero_after_probe"): a command that goes
      on after its reply changes them. Prints one JSON object:
      {"results": [{"cmd", "bytes", "head", "tail", "ms", "ops_inside",
                    "probe", "probe_ms", "nonzero", "nonzero_after_probe"}, ...],
       "checker": {"ops", "errors", "wrong", "max_ms"}}
      "ops_inside" counts the checker's operations that were sent after the CMD and
      answered before its reply: more than zero means the server kept serving the checker
      while the command ran. "ms" figures are for reports only.

Only 127.0.0.1 is ever dialled.
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rap_peer import RapConn, check_loop  # noqa: E402


def nonzero(conn, n):
    count, at = 0, 0
    while at < n:
        conn.seek(at)
        piece = conn.read(min(32768, n - at))
        count += len(piece) - piece.count(0)
        at += len(piece)
    return count


def cmds(args):
    spans = []  # (start, end) of each checker op
    done = threading.Event()
    checker = {}

    def run_checker():
        checker.update(check_loop(args.host, args.port, args.path, 3600, args.block,
                                  stop=done.is_set,
                                  on_op=lambda a, b: spans.append((a, b))))

    thread = threading.Thread(target=run_checker, daemon=True)
    thread.start()
    while not spans and thread.is_alive():  # the checker is connected and served
        time.sleep(0.01)
    results = []
    conn = RapConn(args.host, args.port, timeout=args.timeout)
    try:
        for text in args.cmd:
            started = time.monotonic()
            reply = conn.cmd(text)
            ended = time.monotonic()
            counted = nonzero(conn, args.nonzero) if args.nonzero else None
            probe_started = time.monotonic()
            probe = conn.cmd(args.probe)
            probed = time.monotonic()
            recounted = nonzero(conn, args.nonzero) if args.nonzero else None
            inside = sum(1 for a, b in list(spans) if a > started and b < ended)
            results.append({
                "cmd": text,
                "bytes": len(reply.encode()),
                "head": reply[:200],
                "tail": reply[-200:],
                "ms": round((ended - started) * 1000, 1),
                "ops_inside": inside,
                "probe": probe,
                "probe_ms": round((probed - probe_started) * 1000, 1),
                "nonzero": counted,
                "nonzero_after_probe": recounted,
            })
    finally:
        conn.close()
        done.set()
        thread.join()
    gaps = [b - a for a, b in spans]
    checker["max_ms"] = round(max(gaps, default=0) * 1000, 1)
    print(json.dumps({"results": results, "checker": checker}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cmds")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("path")
    c.add_argument("--cmd", action="append", required=True)
    c.add_argument("--probe", default="?e probe")
    c.add_argument("--block", type=int, default=4096)
    c.add_argument("--nonzero", type=int, default=0)
    c.add_argument("--timeout", type=float, default=120)
    c.set_defaults(run=cmds)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
