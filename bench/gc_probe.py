#!/usr/bin/env python3
"""Manifest GET latency while Onsen collects online (stdlib only).

    gc_probe.py URL --made MADE.json [--seconds 10] [--interval 0.005] [--query grace=0s&deleteuntagged=true]

MADE.json is tests/gc/make_store.py's description of the store the server serves. One keep-alive
client GETs a tagged manifest (a different one each time, round robin over the store's tags, so
that neither a cache of one entry nor one directory answers all) every --interval seconds:
  idle: for --seconds with nothing else running;
  gc:   collections started with POST /admin/gc?QUERY one after the other (a new one as soon as
        GET /admin/gc says idle) for at least --seconds and until one has finished; only the
        samples taken while a collection was running count.
Prints one JSON line: {"idle": {"n", "p50_ms", "p99_ms", "max_ms", "errors"}, "gc": {...},
"p99_ratio": gc p99 / idle p99, "runs": collections started, "last": GET /admin/gc's "last"}.
Exits non-zero when the server has no /admin/gc or a collection cannot be started.
"""
import argparse
import http.client
import json
import sys
import threading
import time

from hol import ACCEPT, connect, percentile  # the head-of-line probe's


def call(conn, method, path, headers=None):
    conn.request(method, path, headers=headers or ({"Content-Length": "0"} if method == "POST" else {}))
    r = conn.getresponse()
    return r.status, r.read()


def summary(samples, errors):
    vals = sorted(samples)
    r3 = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {"n": len(vals), "p50_ms": r3(percentile(vals, 0.5)), "p99_ms": r3(percentile(vals, 0.99)),
            "max_ms": r3(vals[-1] if vals else None), "errors": errors}


class Collections(threading.Thread):
    """Keeps a collection running: POST when idle, until stop is set and one has finished.
    running() tells whether one is running now (a sample is counted only then)."""

    def __init__(self, url, query):
        super().__init__(daemon=True)
        self.conn, self.query = connect(url, 60), query
        self.stop = threading.Event()
        self.busy = threading.Event()
        self.started = self.finished = 0
        self.error = None
        self.last = None

    def state(self):
        st, body = call(self.conn, "GET", "/admin/gc")
        if st != 200:
            raise RuntimeError("GET /admin/gc answered %d: %r" % (st, body[:200]))
        return json.loads(body)

    def run(self):
        try:
            while not (self.stop.is_set() and self.finished > 0):
                s = self.state()
                if s.get("state") == "running":
                    self.busy.set()
                    time.sleep(0.02)
                    continue
                if self.busy.is_set():
                    self.busy.clear()
                    self.finished += 1
                    self.last = s.get("last")
                    continue
                if self.stop.is_set() and self.finished > 0:
                    break
                st, body = call(self.conn, "POST", "/admin/gc?" + self.query)
                if st == 409:  # the schedule's own run: wait for it like ours
                    time.sleep(0.02)
                    continue
                if st != 202:
                    raise RuntimeError("POST /admin/gc answered %d: %r" % (st, body[:200]))
                self.busy.set()
                self.started += 1
        except Exception as e:  # reported by the main thread
            self.error = e
            self.busy.clear()
            self.stop.set()


def probe(url, paths, interval, until, counted=lambda: True):
    conn = connect(url, 30)
    lat, errors, i = [], 0, 0
    nxt = time.monotonic()
    while not until():
        path = paths[i % len(paths)]
        i += 1
        during = counted()
        t0 = time.monotonic()
        try:
            st, _ = call(conn, "GET", path, {"Accept": ACCEPT})
            ms = (time.monotonic() - t0) * 1000
            if st != 200:
                errors += 1
            elif during and counted():  # running at both ends of the request
                lat.append(ms)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = connect(url, 30)
        nxt += interval
        now = time.monotonic()
        if nxt > now:
            time.sleep(nxt - now)
        else:
            nxt = now
    conn.close()
    return lat, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--made", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--interval", type=float, default=0.005)
    ap.add_argument("--query", default="grace=0s&deleteuntagged=true")
    a = ap.parse_args()
    url = a.url.rstrip("/")
    with open(a.made) as f:
        tagged = json.load(f)["tagged"]
    paths = ["/v2/%s/manifests/%s" % (repo, tag) for repo, tag, _, _ in tagged[::max(1, len(tagged) // 500)]]

    st, body = call(connect(url, 30), "GET", "/admin/gc")
    if st != 200:
        sys.exit("GET /admin/gc answered %d: no online collection in this build (%r)" % (st, body[:200]))

    t_end = time.monotonic() + a.seconds
    idle, idle_err = probe(url, paths, a.interval, lambda: time.monotonic() >= t_end)

    gc = Collections(url, a.query)
    gc.start()
    t_end = time.monotonic() + a.seconds
    # Stop once the time is up and the collector thread has seen a collection end (or failed).
    busy, busy_err = probe(url, paths, a.interval,
                           lambda: (time.monotonic() >= t_end and gc.finished > 0) or gc.error is not None
                           or time.monotonic() > t_end + 600,
                           counted=gc.busy.is_set)
    gc.stop.set()
    gc.join(timeout=120)
    if gc.error is not None:
        sys.exit("collections: %s" % gc.error)
    i, g = summary(idle, idle_err), summary(busy, busy_err)
    ratio = round(g["p99_ms"] / i["p99_ms"], 3) if i["p99_ms"] and g["p99_ms"] else None
    print(json.dumps({"idle": i, "gc": g, "p99_ratio": ratio, "runs": gc.started, "last": gc.last}))


if __name__ == "__main__":
    main()
