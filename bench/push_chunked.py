#!/usr/bin/env python3
"""Chunked blob push over one keep-alive connection (python3 stdlib only).

    push_chunked.py URL REPO FILE DIGEST --chunk BYTES [--user U --password P] [--cacert FILE]

POST /v2/REPO/blobs/uploads/, then one PATCH per chunk (Content-Range start-end, Content-Length),
each to the Location the previous response gave, then PUT ?digest=DIGEST with no body.
Prints one JSON line {"seconds": S, "bytes": N, "chunks": K} (the time covers POST to the
final 201); exits non-zero naming the request that failed.
"""
import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("repo")
    ap.add_argument("file")
    ap.add_argument("digest")
    ap.add_argument("--chunk", type=int, default=16 << 20)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cacert")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=a.cacert) if a.cacert else ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=a.timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
    base_h = {}
    if a.user:
        base_h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (a.user, a.password)).encode()).decode()

    def req(method, target, body=None, extra=None, expect=(202,)):
        if target.startswith("http"):
            t = urllib.parse.urlsplit(target)
            target = t.path + ("?" + t.query if t.query else "")
        h = dict(base_h)
        h.update(extra or {})
        conn.request(method, target, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        if r.status not in expect:
            sys.exit("push_chunked: %s %s -> HTTP %d: %s" % (method, target.split("?")[0], r.status, data[:300]))
        return r

    size = os.path.getsize(a.file)
    buf = bytearray(a.chunk)
    t0 = time.monotonic()
    r = req("POST", "/v2/%s/blobs/uploads/" % a.repo, body=b"")
    loc = r.getheader("Location")
    off = chunks = 0
    with open(a.file, "rb", buffering=0) as f:
        while off < size:
            n = f.readinto(buf)
            if not n:
                break
            r = req("PATCH", loc, body=memoryview(buf)[:n],
                    extra={"Content-Type": "application/octet-stream",
                           "Content-Range": "%d-%d" % (off, off + n - 1)})
            loc = r.getheader("Location") or loc
            off += n
            chunks += 1
    sep = "&" if "?" in loc else "?"
    req("PUT", loc + sep + "digest=" + a.digest, body=b"", expect=(201,))
    dt = time.monotonic() - t0
    print(json.dumps({"seconds": round(dt, 4), "bytes": off, "chunks": chunks}))


if __name__ == "__main__":
    main()
