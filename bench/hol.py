#!/usr/bin/env python3
"""Head-of-line probe: small-request latency, idle and while big monolithic pushes run (stdlib only).

    hol.py URL --blob FILE --bytes N [--pushers 8] [--interval 0.005] [--idle 3] [--repo R]

Pushes one small image (config + 4 KiB layer) as R:latest, then one keep-alive client sends
`GET /v2/` and a manifest GET (both timed, each a sample) every --interval seconds:
  idle: for --idle seconds with nothing else running;
  load: while --pushers processes each push the first N bytes of FILE, stamped with a unique
        first 64 bytes, as one monolithic upload (POST uploads/, PUT ?digest= with the body);
        the probe runs from the moment they start until the last has its answer.
The pushers are processes, not threads, so that the probe never waits for Python's GIL. A tick
late because of a slow answer starts at once, and the schedule restarts from there (no catch-up
burst). Prints one JSON line:
    {"idle": {"n", "p50_ms", "p99_ms", "max_ms", "errors", "paths": {"v2": {"n", "p50_ms", ...},
              "manifest": {...}}}, "load": {...},
     "push": {"seconds", "ok", "statuses", "digests"}}
Exits non-zero when the setup fails; failed probes and pushes are counted, not fatal.
"""
import argparse
import hashlib
import http.client
import json
import math
import multiprocessing
import os
import sys
import time
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = OCI_MANIFEST + ", application/vnd.docker.distribution.manifest.v2+json"


def connect(url, timeout):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, blocksize=1 << 20)


def upload(conn, repo, body, digest, headers=None):
    """Monolithic upload: POST uploads/ then PUT <location>?digest= with the body; returns the PUT status."""
    conn.request("POST", "/v2/%s/blobs/uploads/" % repo, headers={"Content-Length": "0"})
    r = conn.getresponse()
    r.read()
    if r.status != 202:
        return r.status
    loc = urllib.parse.urlsplit(r.getheader("Location"))
    path = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
    h = {"Content-Type": "application/octet-stream"}
    h.update(headers or {})
    conn.request("PUT", path, body=body, headers=h)
    r = conn.getresponse()
    r.read()
    return r.status


def push_image(url, repo):
    conn = connect(url, 60)
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = os.urandom(4096)
    blobs = []
    for data in (config, layer):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        st = upload(conn, repo, data, d)
        if st != 201:
            sys.exit("upload of %s answered %d" % (d, st))
        blobs.append((d, len(data)))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blobs[0][0], "size": blobs[0][1]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blobs[1][0], "size": blobs[1][1]}],
    }).encode()
    conn.request("PUT", "/v2/%s/manifests/latest" % repo, body=manifest, headers={"Content-Type": OCI_MANIFEST})
    r = conn.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("manifest PUT answered %d" % r.status)
    conn.close()


class Stamped:
    """The first `size` bytes of a file with its first 64 bytes replaced: a unique blob, read lazily."""

    def __init__(self, path, size, stamp):
        self.f = open(path, "rb")
        self.size = size
        self.stamp = stamp
        self.pos = 0

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        if n <= 0:
            return b""
        self.f.seek(self.pos)
        data = self.f.read(n)
        if self.pos < len(self.stamp):
            k = min(len(self.stamp) - self.pos, len(data))
            data = self.stamp[self.pos:self.pos + k] + data[k:]
        self.pos += len(data)
        return data

    def digest(self):
        h = hashlib.sha256()
        while True:
            b = self.read(1 << 20)
            if not b:
                break
            h.update(b)
        self.pos = 0
        return "sha256:" + h.hexdigest()


def pusher(i, a, barrier, results, done):
    status, seconds, digest, body, conn = 0, None, "", None, None
    try:
        stamp = ("%-64s" % ("onsen-bench hol %d %d %f" % (i, os.getpid(), time.time()))).encode()[:64]
        body = Stamped(a.blob, a.bytes, stamp)
        digest = body.digest()
        conn = connect(a.url, a.timeout)
    except Exception as e:  # reported below; this pusher still joins the start
        print("pusher %d: %s" % (i, e), file=sys.stderr)
    barrier.wait()
    if conn is not None:
        try:
            t0 = time.monotonic()
            status = upload(conn, a.repo, body, digest, {"Content-Length": str(a.bytes)})
            seconds = time.monotonic() - t0
        except Exception as e:  # a failed push is counted, the probe goes on
            print("pusher %d: %s" % (i, e), file=sys.stderr)
    results.put((digest, status, seconds))
    with done.get_lock():
        done.value += 1


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))]


def probe(a, until):
    """Samples until until() is true; returns the summary of the latencies (ms) and errors."""
    conn = connect(a.url, a.timeout)
    lat, errors = [], 0
    paths = (("v2", "/v2/", {}), ("manifest", "/v2/%s/manifests/latest" % a.repo, {"Accept": ACCEPT}))
    by_path = {name: [] for name, _, _ in paths}
    nxt = time.monotonic()
    while not until():
        for name, path, headers in paths:
            t0 = time.monotonic()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors += 1
                else:
                    lat.append((time.monotonic() - t0) * 1000)
                    by_path[name].append(lat[-1])
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = connect(a.url, a.timeout)
        nxt += a.interval
        now = time.monotonic()
        if nxt > now:
            time.sleep(nxt - now)
        else:
            nxt = now
    conn.close()
    r3 = lambda v: None if v is None else round(v, 3)

    def summary(vals):
        vals = sorted(vals)
        return {"n": len(vals), "p50_ms": r3(percentile(vals, 0.50)), "p99_ms": r3(percentile(vals, 0.99)),
                "max_ms": r3(vals[-1] if vals else None)}

    return dict(summary(lat), errors=errors, paths={name: summary(v) for name, v in by_path.items()})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--blob", required=True)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--pushers", type=int, default=8)
    ap.add_argument("--interval", type=float, default=0.005)
    ap.add_argument("--idle", type=float, default=3)
    ap.add_argument("--repo", default="bench/hol")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    a.url = a.url.rstrip("/")

    push_image(a.url, a.repo)
    t_end = time.monotonic() + a.idle
    idle = probe(a, lambda: time.monotonic() >= t_end)

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(a.pushers + 1)
    results = ctx.Queue()
    done = ctx.Value("i", 0)
    procs = [ctx.Process(target=pusher, args=(i, a, barrier, results, done)) for i in range(a.pushers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=a.timeout)  # every pusher has its digest and connection: start together
    t0 = time.monotonic()
    load = probe(a, lambda: done.value >= a.pushers or time.monotonic() - t0 > a.timeout)
    wall = time.monotonic() - t0
    pushes = [results.get(timeout=10) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    print(json.dumps({
        "idle": idle, "load": load,
        "push": {"seconds": round(wall, 3), "ok": sum(1 for _, st, _ in pushes if st == 201),
                 "statuses": [st for _, st, _ in pushes], "digests": [d for d, st, _ in pushes if st == 201]},
    }))


if __name__ == "__main__":
    main()
