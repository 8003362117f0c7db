#!/usr/bin/env python3
"""`onsen garbage-collect` and `onsen repository delete` as processes, beside a running `onsen
serve` that shares their filesystem store and a Redis server:

- repository delete: exit 0, and the running server's catalog (cached for a minute while Redis
  carries the replicas' changes) drops the repository at once, because the command published the
  change; the same command with a configuration without `redis:` leaves the server's cached
  catalog stale (the control: the first check is not vacuous). Unknown name: exit 1; invalid
  name: exit 2.
- garbage-collect: --grace 1h -m keeps everything (all of it is young); -q prints nothing on
  standard output; -m collects the untagged manifest and the deleted repository's blobs, and what
  remains pulls; --grace bogus: exit 2. `onsen check` is clean at the end.

usage: gc_process_test.py ONSEN_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import Client, Server, clean_env, sha256  # noqa: E402
from push import pulls_whole, push_blob, push_image_blobs, put_manifest  # noqa: E402
from redis_proc import RedisServer, wait_until  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)
ENV = clean_env()


def run(*args):
    p = subprocess.run([BINARY, *args], env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def catalog(client):
    r = client.request("GET", "/v2/_catalog")
    assert r.status == 200, r
    return re.findall(r'"([^"]+)"', r.body.decode().split("[", 1)[1])


def main():
    tmp = tempfile.mkdtemp(prefix="onsen-gc-cli-")
    redis = RedisServer(tmp)
    srv = None
    try:
        redis.start()
        redis_yaml = redis.yaml()
        srv = Server(BINARY, workdir=os.path.join(tmp, "srv"), log_level="info",
                     config_extra=redis_yaml)
        srv.start()
        check("the server subscribed to Redis", wait_until(lambda: "subscribed to" in srv.log(), 10),
              srv.log_tail())
        c = Client(srv.port)
        images = {}
        for repo in ("gc/a", "gc/b", "gc/c"):
            body, blobs = push_image_blobs(c, repo, repo, [repo.encode() * 100])
            images[repo] = (put_manifest(c, repo, "v1", body), blobs)
        body, loose_blobs = push_image_blobs(c, "gc/a", "loose", [b"loose" * 100])
        loose = put_manifest(c, "gc/a", sha256(body), body)
        orphan = push_blob(c, "gc/a", b"orphan" * 100)
        check("the catalog lists the three repositories",
              catalog(c) == ["gc/a", "gc/b", "gc/c"], catalog(c))

        # A copy of the configuration without redis: for the control.
        no_redis = os.path.join(tmp, "no-redis.yml")
        with open(srv.config_path) as f:
            text = f.read()
        with open(no_redis, "w") as f:
            f.write(text.replace(redis_yaml, ""))

        rc, out, err = run("repository", "delete", "gc/b", srv.config_path)
        check("repository delete exits 0", rc == 0, err)
        check("the running server's catalog drops it at once (the change came over Redis)",
              wait_until(lambda: catalog(c) == ["gc/a", "gc/c"], 5), catalog(c))
        r = c.request("GET", f"/v2/gc/b/manifests/v1")
        check("its tag is gone", r.status == 404, r)
        rc, out, err = run("repository", "delete", "gc/c", no_redis)
        check("repository delete without redis exits 0", rc == 0, err)
        time.sleep(2)
        check("control: without Redis the server's cached catalog still lists it",
              "gc/c" in catalog(c), catalog(c))
        rc, out, err = run("repository", "delete", "gc/none", srv.config_path)
        check("repository delete of an unknown name exits 1", rc == 1 and "gc/none" in err,
              f"{rc} {err}")
        rc, out, err = run("repository", "delete", "Not/Valid", srv.config_path)
        check("repository delete of an invalid name exits 2", rc == 2, f"{rc} {err}")

        rc, out, err = run("garbage-collect", "--grace", "bogus", srv.config_path)
        check("--grace bogus exits 2", rc == 2 and "--grace" in err, f"{rc} {err}")
        rc, out, err = run("garbage-collect", "-m", "--grace", "1h", srv.config_path)
        check("--grace 1h -m keeps everything (all of it is young)",
              rc == 0 and "0 blobs and 0 manifests eligible for deletion" in out, f"{rc}\n{out}")
        rc, out, err = run("garbage-collect", "-q", "-m", "--dry-run", srv.config_path)
        check("-q prints nothing on standard output", rc == 0 and out == "", f"{rc} {out!r}")

        rc, out, err = run("garbage-collect", "-m", srv.config_path)
        eligible = set(re.findall(r"^blob eligible for deletion: (\S+)$", out, re.M))
        gone_repos = images["gc/b"][1] | images["gc/c"][1] | {images["gc/b"][0],
                                                              images["gc/c"][0]}
        check("-m exits 0", rc == 0, err)
        check("-m collects the untagged manifest, the orphan and the deleted repositories' blobs",
              eligible == (loose_blobs | gone_repos | {loose, orphan}) - images["gc/a"][1],
              sorted(eligible))
        check("Distribution's lines on standard output, log lines on standard error",
              "gc/a: marking manifest " + images["gc/a"][0] + " \n" in out
              and f"manifest eligible for deletion: {loose}" in out
              and "Deleting blob: /docker/registry/v2/blobs/sha256/" in err, f"{out}\n{err}")
        digest, blobs = images["gc/a"]
        check("the tagged image pulls whole", pulls_whole(c, "gc/a", "v1", digest, blobs))
        r = c.request("GET", f"/v2/gc/a/manifests/{loose}")
        check("the untagged manifest is gone", r.status == 404, r)
        c.close()
        srv.stop()
        rc, out = srv.check()
        check("onsen check is clean", rc == 0, out)
    finally:
        if srv:
            srv.stop()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
