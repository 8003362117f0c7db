#!/usr/bin/env python3
"""`onsen garbage-collect` on S3, beside a running onsen with the read cache and Redis (the stale
cache of distribution#3743: a blob collected and pushed again must pull at once):

    gc_s3_test.py ONSEN_BINARY

An onsen serves a rootdirectory of its own in the fixture's bucket with
storage.cache.blobdescriptor (the read cache) and a Redis the test starts. Two tagged images are
pushed and pulled (the cache holds their blobs); one is deleted by digest through the API. Then,
with that server running:
- `onsen garbage-collect -m --dry-run` lists exactly the deleted image's blobs and deletes nothing;
- `onsen garbage-collect --grace 1h -m` deletes nothing (it is all young);
- `onsen garbage-collect -m` deletes them: the bucket no longer holds their data nor the layer
  links, the other image's keys are all there, and the running server answers 404 for the deleted
  blob at once (its cache heard of the deletion over Redis); pushed again, the image pulls whole;
- `onsen check` on the bucket is clean.
Exit status 0 when everything passed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import s3_gateway  # noqa: E402
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, Client, Server, clean_env, pseudo_random  # noqa: E402
from push import pulls_whole, push_image_blobs, put_manifest  # noqa: E402
from redis_proc import RedisServer, wait_until  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)
ENV = clean_env()


class S3Server(Server):
    def __init__(self, workdir, gateway, root, redis):
        super().__init__(BINARY, workdir=workdir)
        self.gateway, self.s3_root, self.redis = gateway, root, redis

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write("version: 0.1\nlog:\n  level: info\nstorage:\n"
                    + s3_gateway.storage_yaml(self.gateway, self.s3_root)
                    + "  delete:\n    enabled: true\n  redirect:\n    disable: true\n"
                    "  cache:\n    blobdescriptor: inmemory\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: {HOST}:{self.port}\n" + self.redis.yaml())


def run(*args):
    p = subprocess.run([BINARY, *args], env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=300)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    gateway = s3_gateway.gateway_env()
    bucket = s3_gateway.Bucket(gateway)
    root = f"/gc-{os.getpid()}-{int(time.time())}"
    tmp = tempfile.mkdtemp(prefix="onsen-gc-s3-")
    redis = RedisServer(tmp)
    srv = None
    try:
        redis.start()
        srv = S3Server(os.path.join(tmp, "srv"), gateway, root, redis).start()
        check("the server subscribed to Redis", wait_until(lambda: "subscribed to" in srv.log(), 10),
              srv.log_tail())
        c = Client(srv.port)
        images = {}
        for name in ("kept", "doomed"):
            body, blobs = push_image_blobs(c, "gc/s3", name, [pseudo_random(70_000, name.encode())])
            images[name] = (put_manifest(c, "gc/s3", name, body), blobs)
        for name, (digest, blobs) in images.items():
            check(f"{name} pulls (and is in the read cache)",
                  pulls_whole(c, "gc/s3", name, digest, blobs))
        doomed, doomed_blobs = images["doomed"]
        r = c.request("DELETE", f"/v2/gc/s3/manifests/{doomed}")
        check("the doomed image is deleted through the API", r.status == 202, r)
        kept_blobs = images["kept"][1]
        expected = (doomed_blobs - kept_blobs) | {doomed}

        rc, out, err = run("garbage-collect", "-m", "--dry-run", srv.config_path)
        listed = set(re.findall(r"^blob eligible for deletion: (\S+)$", out, re.M))
        check("dry run lists exactly the deleted image's blobs", rc == 0 and listed == expected,
              f"{rc}\n{sorted(listed)}\n{sorted(expected)}\n{err[-2000:]}")
        rc, out, err = run("garbage-collect", "-m", "--grace", "1h", srv.config_path)
        check("--grace 1h deletes nothing (all of it is young)",
              rc == 0 and "0 blobs and 0 manifests eligible for deletion" in out, f"{rc}\n{out}")
        prefix = root.lstrip("/") + "/docker/registry/v2/"
        before = set(bucket.keys(prefix))
        rc, out, err = run("garbage-collect", "-m", srv.config_path)
        check("garbage-collect -m exits 0", rc == 0, err[-3000:])
        after = set(bucket.keys(prefix))
        gone = before - after

        def data_key(d):
            h = d.split(":")[1]
            return f"{prefix}blobs/sha256/{h[:2]}/{h}/data"

        def link_key(d):
            return f"{prefix}repositories/gc/s3/_layers/sha256/{d.split(':')[1]}/link"

        check("the deleted image's data and layer links are gone from the bucket",
              all(data_key(d) in gone for d in expected)
              and all(link_key(d) in gone for d in doomed_blobs - kept_blobs),
              sorted(gone))
        check("the kept image's keys are all there",
              all(data_key(d) in after for d in kept_blobs | {images["kept"][0]}), sorted(gone))
        layer = next(iter(doomed_blobs - kept_blobs))
        r = c.request("HEAD", f"/v2/gc/s3/blobs/{layer}")
        check("the running server answers 404 for a collected blob at once (cache told over Redis)",
              r.status == 404, r)
        body, _ = push_image_blobs(c, "gc/s3", "doomed", [pseudo_random(70_000, b"doomed")])
        put_manifest(c, "gc/s3", "again", body)
        check("pushed again, the collected image pulls whole",
              pulls_whole(c, "gc/s3", "again", doomed, doomed_blobs))
        c.close()
        srv.stop()
        rc, out = srv.check(timeout=300)
        check("onsen check on the bucket is clean", rc == 0, out[-3000:])
    finally:
        if srv:
            srv.stop()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
