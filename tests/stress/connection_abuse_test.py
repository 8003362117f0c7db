#!/usr/bin/env python3
"""Connection abuse: with short timeouts (http.idletimeout 2s, http.readtimeout 3s), at once:
  - 3,000 idle connections (nothing sent),
  - 300 slowloris connections (a request header dribbled one byte every 0.5 s, never finished),
  - 100 stalled body senders (a monolithic upload announcing 1 MiB, 1,000 bytes sent, then silence),
  - 40 slow body senders that keep dribbling (a byte every 0.5 s: progress, so no read ever times
    out, but far below the minimum body rate, http.minbodyrate, 1 KiB/s by default: closed within
    readtimeout),
  - 40 clients that never read their response: GET of a 32 MiB blob with a 4 KiB receive buffer,
  - 20 clients that pipeline 2,000 requests and never read a response.
Meanwhile a well-behaved client keeps pulling (GET /v2/, a manifest, a blob): every request must
succeed with bounded latency. Every abusive connection must be closed by the server within its
timeout (plus slack for a loaded machine); the server's descriptors return to their baseline
afterwards; its RSS stays bounded.

The server is started with a soft RLIMIT_NOFILE of 1024 (the usual default): it must raise it
itself to serve thousands of connections. This test raises its own limit to the hard limit."""

import os
import resource
import selectors
import socket
import statistics
import threading
import time

from stress_lib import (Client, Server, expect, image_manifest, log, main_wrapper, open_fds,
    push_blob_chunked, push_blob_monolithic, put_manifest, random_bytes, sha256)
import random

IDLE_TIMEOUT = 2
READ_TIMEOUT = 3
SLACK = 8  # seconds a loaded 2-core CI machine may add to a timeout
IDLE = 3000
SLOWLORIS = 300
STALLED = 100
DRIBBLERS = 40
NON_READERS = 40
PIPELINERS = 20
ABUSE_SECONDS = 20
MiB = 1 << 20


def default_fd_limit():
    """Runs in the server's child process before exec: a soft limit of 1024, as on most hosts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


class Monitor(threading.Thread):
    """The well-behaved client: one request every 20 ms, each timed."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port = port
        self.paths = paths
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        c = Client(self.port, timeout=30)
        i = 0
        while not self.stop.is_set():
            path, digest = self.paths[i % len(self.paths)]
            i += 1
            t = time.monotonic()
            try:
                res = c.request("GET", path)
                if res.status != 200 or (digest and sha256(res.body) != digest):
                    self.failures.append(f"{path}: {res.status}")
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"{path}: {type(e).__name__}: {e}")
                c.close()
            self.latencies.append(time.monotonic() - t)
            time.sleep(0.02)
        c.close()


class Abuser:
    """One abusive socket: its kind, when it was opened, when the server closed it."""

    def __init__(self, kind, sock):
        self.kind = kind
        self.sock = sock
        self.opened = time.monotonic()
        self.closed = None
        self.pending = b""  # bytes still to dribble


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def abuse(server, big_digest):
    port = server.port
    abusers = []
    for _ in range(IDLE):
        abusers.append(Abuser("idle", connect(port)))
    log(f"{IDLE} idle connections open")
    for i in range(SLOWLORIS):
        a = Abuser("slowloris", connect(port))
        a.pending = (f"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                     "".join(f"X-Slow-{j}: {'a' * 20}\r\n" for j in range(100))).encode()
        abusers.append(a)
    upload = "/v2/abuse/target/blobs/uploads/?digest=sha256:" + "0" * 64
    for kind, count in (("stalled", STALLED), ("dribbler", DRIBBLERS)):
        for _ in range(count):
            a = Abuser(kind, connect(port))
            a.sock.send((f"POST {upload} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Content-Length: {MiB}\r\n\r\n").encode() + b"x" * 1000)
            a.pending = b"x" * (MiB - 1000) if kind == "dribbler" else b""
            abusers.append(a)
    for _ in range(NON_READERS):
        a = Abuser("non-reader", connect(port, rcvbuf=4096))
        a.sock.send(f"GET /v2/abuse/big/blobs/{big_digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        abusers.append(a)
    for _ in range(PIPELINERS):
        a = Abuser("pipeliner", connect(port, rcvbuf=4096))
        a.pending = b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
        abusers.append(a)
    log(f"{len(abusers)} abusive connections open, server has {open_fds(server.pid)} descriptors")

    sel = selectors.DefaultSelector()
    for a in abusers:
        if a.kind not in ("non-reader", "pipeliner"):  # those never read
            sel.register(a.sock, selectors.EVENT_READ, a)
    start = time.monotonic()
    next_dribble = start
    peak_rss = server.rss_kib()
    peak_fds = open_fds(server.pid)
    while time.monotonic() - start < ABUSE_SECONDS:
        for key, _ in sel.select(timeout=0.1):
            a = key.data
            try:
                data = a.sock.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b"" if a.kind else None
            if data == b"":
                a.closed = time.monotonic()
                sel.unregister(a.sock)
            elif a.kind == "dribbler" or a.kind == "slowloris":
                # An answer before the request is complete: record it as a close.
                a.closed = time.monotonic()
                sel.unregister(a.sock)
        now = time.monotonic()
        if now >= next_dribble:
            next_dribble = now + 0.5
            for a in abusers:
                if a.closed is None and a.pending and a.kind in ("slowloris", "dribbler",
                                                                   "pipeliner"):
                    n = {"slowloris": 1, "dribbler": 1}.get(a.kind, 65536)
                    try:
                        sent = a.sock.send(a.pending[:n])
                        a.pending = a.pending[sent:]
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        a.closed = now
            peak_rss = max(peak_rss, server.rss_kib())
            peak_fds = max(peak_fds, open_fds(server.pid))
    return abusers, peak_rss, peak_fds


def run(binary):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < IDLE + 1000:
        raise AssertionError(f"RLIMIT_NOFILE hard limit {hard} too low for the test")
    server = Server(binary, preexec=default_fd_limit,
                    http_extra=f"  idletimeout: {IDLE_TIMEOUT}s\n  readtimeout: {READ_TIMEOUT}s\n")
    server.start()
    try:
        exercise(server)
    finally:
        code = server.stop()
        log(f"onsen stopped with status {code}")


def exercise(server):
    rng = random.Random(5)
    c = Client(server.port)
    config = b'{"os":"linux"}'
    layer = random_bytes(rng, 200_000)
    big = random_bytes(rng, 32 * MiB)
    for repo, data in (("abuse/app", config), ("abuse/app", layer), ("abuse/big", big)):
        expect(push_blob_monolithic(c, repo, data) if len(data) < MiB
               else push_blob_chunked(c, repo, data, 4), 201, "push")
    manifest = image_manifest(config, [layer])
    expect(put_manifest(c, "abuse/app", "latest", manifest), 201, "push manifest")
    c.close()
    time.sleep(0.5)
    base_fds = open_fds(server.pid)
    base_rss = server.rss_kib()
    log(f"baseline: {base_fds} descriptors, RSS {base_rss} KiB")

    monitor = Monitor(server.port, [("/v2/", None),
                                    ("/v2/abuse/app/manifests/latest", sha256(manifest)),
                                    (f"/v2/abuse/app/blobs/{sha256(layer)}", sha256(layer))])
    monitor.start()
    time.sleep(1)
    warm = len(monitor.latencies)
    abusers, peak_rss, peak_fds = abuse(server, sha256(big))
    monitor.stop.set()
    monitor.join(60)
    lat = sorted(monitor.latencies[warm:])

    # Outcome per kind: lifetime until the server closed it.
    problems = []
    limits = {"idle": IDLE_TIMEOUT + SLACK, "slowloris": READ_TIMEOUT + SLACK,
              "stalled": READ_TIMEOUT + SLACK, "dribbler": READ_TIMEOUT + SLACK}
    for kind in ("idle", "slowloris", "stalled", "dribbler"):
        group = [a for a in abusers if a.kind == kind]
        closed = [a.closed - a.opened for a in group if a.closed is not None]
        open_left = len(group) - len(closed)
        log(f"{kind}: {len(group)} connections, {len(closed)} closed by the server"
            + (f" (lifetime median {statistics.median(closed):.1f}s, max {max(closed):.1f}s)"
               if closed else ""))
        if kind in limits:
            if open_left:
                problems.append(f"{open_left} {kind} connections never closed by the server")
            if closed:
                late = [t for t in closed if t > limits[kind]]
                if late:
                    problems.append(f"{len(late)} {kind} connections lived longer than "
                                    f"{limits[kind]}s (max {max(closed):.1f}s)")
    # The never-reading clients and the pipeliners: the server must have given up on them by now
    # (its write made no progress for readtimeout): draining their sockets ends with EOF/reset
    # before the whole response, and the server holds none of the abusers' connections.
    fds = open_fds(server.pid)
    deadline = time.monotonic() + SLACK
    while time.monotonic() < deadline and fds > base_fds + 5:
        time.sleep(0.2)
        fds = open_fds(server.pid)
    log(f"server descriptors at the end of the abuse: {fds} (baseline {base_fds})")
    if fds > base_fds + 5:
        problems.append(f"server holds {fds} descriptors at the end of the abuse "
                        f"(baseline {base_fds})")
    for kind in ("non-reader", "pipeliner"):
        given_up, received = 0, []
        for a in (a for a in abusers if a.kind == kind):
            a.sock.settimeout(2)
            total = 0
            try:
                while chunk := a.sock.recv(1 << 20):
                    total += len(chunk)
                given_up += 1
            except ConnectionResetError:
                given_up += 1
            except socket.timeout:
                pass
            received.append(total)
        log(f"{kind}: {given_up} of {len(received)} closed by the server, "
            f"max {max(received) / MiB:.1f} MiB received")
        if given_up < len(received):
            problems.append(f"{len(received) - given_up} {kind} connections still open")
    for a in abusers:
        a.sock.close()
    deadline = time.monotonic() + READ_TIMEOUT + SLACK
    fds = open_fds(server.pid)
    while time.monotonic() < deadline and fds > base_fds + 5:
        time.sleep(0.2)
        fds = open_fds(server.pid)
    end_rss = server.rss_kib()
    log(f"server: descriptors baseline {base_fds}, peak {peak_fds}, after {fds}; RSS baseline "
        f"{base_rss} KiB, peak {peak_rss} KiB, after {end_rss} KiB")
    if fds > base_fds + 5:
        problems.append(f"server still holds {fds} descriptors (baseline {base_fds})")
    if peak_rss > base_rss + 256 * 1024:
        problems.append(f"RSS grew by {(peak_rss - base_rss) // 1024} MiB under abuse")

    if lat:
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        log(f"well-behaved client: {len(lat)} requests during the abuse, {len(monitor.failures)} "
            f"failed; latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms")
        if p99 > 2.0 or lat[-1] > 5.0:
            problems.append(f"well-behaved client starved: p99 {p99:.2f}s max {lat[-1]:.2f}s")
        if len(lat) < ABUSE_SECONDS * 5:
            problems.append(f"well-behaved client made only {len(lat)} requests")
    else:
        problems.append("well-behaved client made no request during the abuse")
    problems += [f"well-behaved request failed: {f}" for f in monitor.failures[:10]]

    # Still serving normally afterwards.
    c = Client(server.port)
    expect(c.request("GET", "/v2/abuse/app/manifests/latest"), 200, "pull after the abuse")
    c.close()
    if not server.alive():
        problems.append("onsen died")
    if problems:
        log("server log tail:\n" + server.log_tail())
        raise AssertionError("; ".join(problems))


if __name__ == "__main__":
    main_wrapper(run)
