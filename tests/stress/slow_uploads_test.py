#!/usr/bin/env python3
"""Slow request bodies: what they may cost and how slow they may be.

  - Memory: 140 uploads (PATCH, Content-Length 64 MiB) each sending 8 KiB every 0.1 s (80 KiB/s,
    well above the minimum rate) for 16 s, 1.25 MiB each. An upload's body buffer starts at 64 KiB
    and grows only while data outpaces the disk, so the server's RSS must grow by less than
    SLOW_RSS_LIMIT_MIB (with a 1 MiB buffer per upload it grew by ~150 MiB).
  - Minimum rate (http.readtimeout 2s, http.minbodyrate 1000: 2,000 bytes per 2 s of waiting):
    a PATCH trickling 50 bytes every 0.5 s (a read never times out) is closed within the window
    plus slack, and the upload stays resumable at the bytes the server received; a PATCH sending
    2,000 bytes every 0.5 s (4,000 B/s) for 12 s completes with 202 and the right Range.

The figures are printed (`RSS baseline ..., peak ...`) so before/after runs can be compared."""

import random
import socket
import time

from stress_lib import (Client, Server, expect, location_path, log, main_wrapper, sha256,
                         with_query)

SLOW_UPLOADERS = 140
SLOW_PIECE = 8 * 1024
SLOW_SECONDS = 16
SLOW_RSS_LIMIT_MIB = 48
READ_TIMEOUT = 2
MIN_RATE = 1000
SLACK = 6  # seconds a loaded 2-core machine may add


def start_upload(c, repo):
    return location_path(expect(c.request("POST", f"/v2/{repo}/blobs/uploads/"), 202, "POST"))


def open_patch(port, path, length):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n")
              .encode())
    return s


def closed_by_server(s):
    """True when the server has closed (or reset) the connection; never blocks."""
    s.setblocking(False)
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.setblocking(True)


def memory(binary):
    server = Server(binary).start()
    try:
        c = Client(server.port)
        paths = [start_upload(c, f"slow/mem{i % 7}") for i in range(SLOW_UPLOADERS)]
        time.sleep(0.5)
        base = server.rss_kib()
        socks = [open_patch(server.port, p, 64 << 20) for p in paths]
        piece = random.Random(1).randbytes(SLOW_PIECE)
        peak = base
        end = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < end:
            for s in socks:
                s.sendall(piece)
            peak = max(peak, server.rss_kib())
            time.sleep(0.1)
        for s in socks:
            s.close()
        log(f"{SLOW_UPLOADERS} slow uploaders: RSS baseline {base} KiB, peak {peak} KiB, "
            f"growth {(peak - base) / 1024:.1f} MiB")
        if peak - base > SLOW_RSS_LIMIT_MIB * 1024:
            raise AssertionError(f"RSS grew by {(peak - base) // 1024} MiB with "
                                 f"{SLOW_UPLOADERS} slow uploaders (limit {SLOW_RSS_LIMIT_MIB})")
    finally:
        server.stop()


def minimum_rate(binary):
    server = Server(binary, http_extra=f"  readtimeout: {READ_TIMEOUT}s\n"
                                       f"  minbodyrate: {MIN_RATE}\n").start()
    try:
        c = Client(server.port)
        # The trickler: 100 B/s, a read every 0.5 s, so the per-read timeout never fires.
        path = start_upload(c, "slow/trickle")
        s = open_patch(server.port, path, 1 << 20)
        started = time.monotonic()
        sent = 0
        while not closed_by_server(s) and time.monotonic() - started < READ_TIMEOUT + SLACK:
            try:
                s.sendall(b"t" * 50)
                sent += 50
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.5)
        lifetime = time.monotonic() - started
        s.close()
        if lifetime >= READ_TIMEOUT + SLACK:
            raise AssertionError(f"a body at 100 B/s (minimum {MIN_RATE}) was not cut off "
                                 f"within {READ_TIMEOUT + SLACK}s")
        log(f"trickler: closed after {lifetime:.1f}s, {sent} bytes sent")
        status = expect(c.request("GET", path), 204, "status of the cut-off upload")
        got = int(status.header("range").split("-")[1]) + 1
        if not 0 < got <= sent:
            raise AssertionError(f"cut-off upload holds {got} bytes of the {sent} sent")
        log(f"trickler: the upload resumes at {got} bytes")

        # Slow but above the minimum: 4,000 B/s for 6 s.
        data = random.Random(2).randbytes(48_000)
        path = start_upload(c, "slow/legit")
        s = open_patch(server.port, path, len(data))
        for i in range(0, len(data), 2000):
            s.sendall(data[i:i + 2000])
            time.sleep(0.5)
        s.settimeout(10)
        head = s.recv(4096).decode(errors="replace")
        s.close()
        if not head.startswith("HTTP/1.1 202") or "\r\nrange: 0-47999\r\n" not in head.lower():
            raise AssertionError(f"a 4,000 B/s upload was refused: {head[:300]!r}")
        log("slow but legitimate upload: 202, Range 0-47999")
        expect(c.request("PUT", with_query(path, f"digest={sha256(data)}")), 201, "finish")
    finally:
        server.stop()


def run(binary):
    minimum_rate(binary)
    memory(binary)


if __name__ == "__main__":
    main_wrapper(run)
