#!/usr/bin/env python3
"""Full TLS handshakes per second with parallel clients (python3 stdlib only).

    handshakes.py HOST PORT --cacert FILE [--clients 16] [--seconds 5]

--clients processes each connect, complete a TLS handshake (verifying the certificate) and
close, over and over, for --seconds. No session is ever offered for resumption (each
connection gets a fresh SSLSocket and no `session=`), so every handshake is a full one: the
server signs once per connection (with an RSA certificate, that signature is the cost).
Processes, not threads: the handshakes of one client never wait for another's GIL.
Prints one JSON line {"handshakes", "seconds", "rate", "p50_ms", "p99_ms", "errors", "first_error"}:
the handshakes that completed inside the window, divided by its length.
"""
import argparse
import json
import math
import multiprocessing
import socket
import ssl
import time


def client(a, start, deadline, out):
    ctx = ssl.create_default_context(cafile=a.cacert)
    n, errors, first_error, lat = 0, 0, "", []
    time.sleep(max(0.0, start - time.monotonic()))
    while True:
        t0 = time.monotonic()
        if t0 >= deadline:
            break
        try:
            with socket.create_connection((a.host, a.port), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname=a.host):
                    t1 = time.monotonic()
            if t1 <= deadline:
                n += 1
                lat.append((t1 - t0) * 1000)
        except (OSError, ssl.SSLError) as e:
            errors += 1
            first_error = first_error or repr(e)
            time.sleep(0.01)
    out.put((n, errors, first_error, lat))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    mp = multiprocessing.get_context("fork")
    out = mp.Queue()
    start = time.monotonic() + 0.5  # every process forked and ready before the window opens
    deadline = start + a.seconds
    procs = [mp.Process(target=client, args=(a, start, deadline, out)) for _ in range(a.clients)]
    for p in procs:
        p.start()
    res = [out.get(timeout=a.seconds + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    lat = sorted(x for r in res for x in r[3])
    total = sum(r[0] for r in res)

    def pct(q):
        return round(lat[min(len(lat) - 1, max(0, math.ceil(q * len(lat)) - 1))], 3) if lat else None

    print(json.dumps({"handshakes": total, "seconds": a.seconds, "rate": round(total / a.seconds, 1),
                      "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": sum(r[1] for r in res),
                      "first_error": next((r[2] for r in res if r[2]), "")}))


if __name__ == "__main__":
    main()
