#!/usr/bin/env python3
"""Storage usage and quotas across two `onsen serve` on one S3 bucket (the Ceph RGW of the ctest
fixture) sharing changes through a Redis started here, usage.refresh 1h (no walk but the first):
  1. an image pushed through replica A (a layer shared with an image already there, chunked) is in
     replica B's GET /admin/usage within 1 s: bytes, shared bytes, tags the same as A's;
  2. a tag deleted and a blob unlinked through A show on B the same way;
  3. a byte quota holds across them: after A stored most of q/*'s quota, a declared upload
     through B that would exceed it is refused with DENIED; a tag quota likewise.
What docs/ARCHITECTURE.md ("Storage usage and quotas") says holds across replicas.
Usage: usage_replicas_test.py ONSEN_BINARY, with ONSEN_TEST_S3_ENV naming the gateway's
variables."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from onsen_proc import HOST, OCI_MANIFEST, Client, free_port, image_manifest, sha256  # noqa: E402
from replicas_test import (S3Replica, chunked_upload, check, put_manifest,  # noqa: E402
                           wait_for)
from s3_gateway import gateway_env  # noqa: E402

BOUND = 1.0  # seconds: another replica's change in this one's figures (the Redis delay)
QUOTAS = """quotas:
  - {repository: "q/*", bytes: 200000, tags: 2}
usage:
  refresh: 1h
"""


class UsageReplica(S3Replica):
    def write_config(self):
        super().write_config()
        with open(self.config_path, "a") as f:
            f.write(QUOTAS)


def usage(port, repo):
    res = Client(port).request("GET", f"/admin/usage/{repo}")
    return json.loads(res.body) if res.status == 200 else None


def same_within(a, b, repo, what):
    """Waits until B's figures of repo are A's; prints and checks the delay."""
    start = time.monotonic()
    want = usage(a.port, repo)
    while usage(b.port, repo) != want:
        if time.monotonic() - start > 10:
            raise AssertionError(f"{what}: B has {usage(b.port, repo)}, A {want}")
        time.sleep(0.005)
    delay = time.monotonic() - start
    print(f"  {what}: in the other replica's usage after {delay * 1000:.0f} ms: {want}")
    check(delay <= BOUND, f"{what}: took {delay:.3f} s, more than {BOUND} s")
    return want


def push(client, repo, tag, layers, seed):
    config = json.dumps({"seed": seed}).encode()
    for data in layers + [config]:
        chunked_upload(client, repo, data, 2)
    return put_manifest(client, repo, tag, image_manifest(config, layers))


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="onsen-usage-replicas-")
    s3 = gateway_env()
    root = f"/usage-replicas-{os.getpid()}-{int(time.time())}"
    redis_port = free_port()
    with open(os.path.join(tmp, "redis.log"), "ab") as log:
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", HOST,
                                  "--save", "", "--appendonly", "no", "--dir", tmp],
                                 stdout=log, stderr=subprocess.STDOUT)
    a, b = (UsageReplica(binary, s3, root, f"{HOST}:{redis_port}", os.path.join(tmp, n))
            for n in ("a", "b"))
    ok = False
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                        capture_output=True).stdout.strip() == b"PONG",
                 10, "redis-server")
        for r in (a, b):
            r.start(timeout=30)
        for r in (a, b):
            wait_for(lambda: "subscribed to" in r.log(), 10, f"replica {r.port} subscribing")
            wait_for(lambda: json.loads(Client(r.port).request("GET", "/admin/usage").body)
                     ["ready"], 10, f"replica {r.port}'s first walk")
        ca = Client(a.port)
        base = os.urandom(40000)

        print("usage kept across replicas:")
        push(ca, "u/app", "v1", [base], 1)
        same_within(a, b, "u/app", "first image")
        push(ca, "u/app", "v2", [base, os.urandom(30000)], 2)
        push(ca, "u/other", "v1", [base], 3)
        app = same_within(a, b, "u/app", "second image, sharing the base layer")
        check(app["tags"] == 2 and app["shared_bytes"] == len(base), f"u/app: {app}")
        check(ca.request("DELETE", f"/v2/u/other/blobs/{sha256(base)}").status in (202,),
              "blob DELETE")
        same_within(a, b, "u/app", "the base layer unlinked from u/other (no longer shared)")
        check(usage(b.port, "u/app")["shared_bytes"] == 0, "u/app shares nothing now")

        print("quotas across replicas:")
        push(ca, "q/x", "one", [os.urandom(150000)], 4)
        same_within(a, b, "q/x", "150,000 of q/*'s 200,000 bytes stored through A")
        big = os.urandom(60000)
        res = Client(b.port).request(
            "POST", f"/v2/q/x/blobs/uploads/?digest={sha256(big)}", big,
            {"Content-Type": "application/octet-stream"})
        check(res.status == 403 and res.code() == "DENIED", f"B let it in: {res}")
        print(f"  B refuses 60,000 more: {json.loads(res.body)['errors'][0]['message']}")
        push(ca, "q/x", "two", [], 5)
        same_within(a, b, "q/x", "a second tag through A")
        res = Client(b.port).request("PUT", "/v2/q/x/manifests/three",
                                     Client(b.port).request(
                                         "GET", "/v2/q/x/manifests/two",
                                         headers={"Accept": OCI_MANIFEST}).body,
                                     {"Content-Type": OCI_MANIFEST})
        check(res.status == 403 and res.code() == "DENIED", f"B made a third tag: {res}")
        ok = True
    finally:
        if not ok:
            for r in (a, b):
                print(f"--- replica {r.port} log tail:\n{r.log_tail(3000)}")
        for r in (a, b):
            r.stop()
        redis.terminate()
        redis.wait(10)
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
    print("usage replicas: all passed")


if __name__ == "__main__":
    main()
