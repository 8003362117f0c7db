#!/usr/bin/env python3
"""Opens N keep-alive connections to a plain-HTTP registry and holds them (python3 stdlib).

    idle_conns.py HOST PORT N [--hold SECONDS] [--ready FILE]

Each connection sends one "GET /v2/" (HTTP/1.1, keep-alive) and reads the whole response, so
the server ends up with N idle keep-alive connections. Then writes "<open> <answered>" to
--ready (and stdout) and holds every socket until killed or --hold seconds pass. Needs a
high `ulimit -n`.
"""
import argparse
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--hold", type=float, default=120)
    ap.add_argument("--ready")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    req = ("GET /v2/ HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: onsen-bench-idle\r\n"
           "Connection: keep-alive\r\n\r\n" % (a.host, a.port)).encode()
    deadline = time.monotonic() + a.timeout
    socks, bufs = [], {}
    sel = selectors.DefaultSelector()
    for _ in range(a.n):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect((a.host, a.port))
            s.sendall(req)
        except OSError as e:
            print("idle_conns: connect/send failed after %d: %s" % (len(socks), e), file=sys.stderr)
            s.close()
            break
        s.setblocking(False)
        socks.append(s)
        bufs[s] = b""
        sel.register(s, selectors.EVENT_READ)
    answered, closed = 0, 0
    pending = set(socks)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                closed += 1
                pending.discard(s)
                sel.unregister(s)
                continue
            bufs[s] += chunk
            head, sep, body = bufs[s].partition(b"\r\n\r\n")
            if not sep:
                continue
            clen = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v.strip())
            if len(body) >= clen:
                answered += 1
                pending.discard(s)
                sel.unregister(s)
                bufs[s] = b""
    line = "%d %d" % (len(socks) - closed, answered)
    print(line, flush=True)
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write(line + "\n")
        import os
        os.replace(a.ready + ".tmp", a.ready)
    end = time.monotonic() + a.hold
    while time.monotonic() < end:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
