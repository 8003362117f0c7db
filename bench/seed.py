#!/usr/bin/env python3
"""Seeds one registry through its HTTP API (python3 stdlib only) for the request benchmarks.

    seed.py URL [--user U --password P] [--cacert FILE] [--tags N] [--repos N] [--workers W]

Pushes one small OCI image (config + one 4 KiB layer) as bench/app:latest (plus the empty
blob, which the HEAD benchmark uses), tags the same
manifest N times in bench/tags (t0000, t0001, ...: N manifest PUTs) and creates N repositories
bench/r0000... (two cross-repository blob mounts + one manifest PUT each). Then checks what it
wrote (tags/list count, catalog size) and prints one JSON line:
    {"manifest": "sha256:...", "layer": "sha256:...", "tags": N, "repos": N, "seconds": S, ...}
Exits non-zero (with the failing request on stderr) when any request fails.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import random
import ssl
import sys
import threading
import time
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Fail(Exception):
    pass


class Client:
    """One keep-alive connection per thread; reconnects when the server closed it."""

    def __init__(self, url, auth, cafile, timeout=60):
        u = urllib.parse.urlsplit(url)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.base = url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.ctx = None
        if self.scheme == "https":
            self.ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
        self.local = threading.local()

    def _conn(self, fresh=False):
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            if self.scheme == "https":
                c = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.ctx)
            else:
                c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def req(self, method, path, body=None, headers=None, expect=(200,)):
        h = dict(headers or {})
        if self.auth:
            h["Authorization"] = self.auth
        if path.startswith("http://") or path.startswith("https://"):
            u = urllib.parse.urlsplit(path)
            path = u.path + ("?" + u.query if u.query else "")
        for attempt in range(3):
            c = self._conn(fresh=attempt > 0)
            try:
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                if attempt == 2:
                    raise Fail("%s %s: %s" % (method, path, e))
        if r.status not in expect:
            raise Fail("%s %s: HTTP %d (expected %s): %s" % (method, path, r.status, expect, data[:300]))
        return r, data


def upload(cl, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r, _ = cl.req("POST", "/v2/%s/blobs/uploads/" % repo, body=b"", expect=(202,))
    loc = r.getheader("Location")
    sep = "&" if "?" in loc else "?"
    cl.req("PUT", loc + sep + "digest=" + digest, body=data,
           headers={"Content-Type": "application/octet-stream"}, expect=(201,))
    return digest


def mount(cl, repo, digest, src, data):
    r, _ = cl.req("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repo, digest, src), body=b"",
                  expect=(201, 202))
    if r.status == 202:  # mount refused: a plain upload instead
        loc = r.getheader("Location")
        sep = "&" if "?" in loc else "?"
        cl.req("PUT", loc + sep + "digest=" + digest, body=data,
               headers={"Content-Type": "application/octet-stream"}, expect=(201,))


def put_manifest(cl, repo, ref, body):
    cl.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
           headers={"Content-Type": OCI_MANIFEST}, expect=(201,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cacert")
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--no-empty", action="store_true", help="do not upload the zero-length blob")
    a = ap.parse_args()
    auth = None
    if a.user:
        auth = "Basic " + base64.b64encode(("%s:%s" % (a.user, a.password)).encode()).decode()
    cl = Client(a.url, auth, a.cacert)
    t0 = time.monotonic()

    rng = random.Random("onsen-bench-seed")
    layer = rng.randbytes(4096)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}},
                        sort_keys=True, separators=(",", ":")).encode()
    cl.req("GET", "/v2/", expect=(200,))
    cdig = upload(cl, "bench/app", config)
    ldig = upload(cl, "bench/app", layer)
    # The zero-length blob, for the HEAD benchmark: wrk 4.1 waits for Content-Length bytes of
    # body after a HEAD, so the only HEAD it can measure is one that announces 0 bytes.
    # --no-empty: docker-registry 2.8's s3 driver cannot store a zero-length upload (500
    # RequestFailure: a multipart upload without parts); the caller writes it into the store itself.
    edig = "sha256:" + hashlib.sha256(b"").hexdigest() if a.no_empty else upload(cl, "bench/app", b"")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cdig, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": ldig, "size": len(layer)}],
    }, indent=3).encode()
    mdig = "sha256:" + hashlib.sha256(manifest).hexdigest()
    put_manifest(cl, "bench/app", "latest", manifest)

    def blobs_into(repo):
        mount(cl, repo, cdig, "bench/app", config)
        mount(cl, repo, ldig, "bench/app", layer)

    blobs_into("bench/tags")
    tags = ["t%04d" % i for i in range(a.tags)]
    repos = ["bench/r%04d" % i for i in range(a.repos)]

    def one_repo(repo):
        blobs_into(repo)
        put_manifest(cl, repo, "latest", manifest)

    with concurrent.futures.ThreadPoolExecutor(a.workers) as ex:
        list(ex.map(lambda t: put_manifest(cl, "bench/tags", t, manifest), tags))
        list(ex.map(one_repo, repos))
    seeded = time.monotonic() - t0

    # Check what the benchmarks will read.
    _, body = cl.req("GET", "/v2/bench/tags/tags/list", expect=(200,))
    ntags = len(json.loads(body).get("tags") or [])
    if ntags != a.tags:
        raise Fail("tags/list of bench/tags lists %d tags, expected %d" % (ntags, a.tags))
    seen, path = 0, "/v2/_catalog?n=1000"
    for _ in range(100):
        r, body = cl.req("GET", path, expect=(200,))
        seen += sum(1 for n in json.loads(body).get("repositories") or [] if n.startswith("bench/r"))
        link = r.getheader("Link")
        if not link:
            break
        path = link.split(";")[0].strip().strip("<>")
    if seen != a.repos:
        raise Fail("_catalog lists %d bench/r* repositories, expected %d" % (seen, a.repos))
    print(json.dumps({"manifest": mdig, "layer": ldig, "config": cdig, "empty": edig, "tags": ntags, "repos": seen,
                      "seconds": round(seeded, 2)}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print("seed: " + str(e), file=sys.stderr)
        sys.exit(1)
