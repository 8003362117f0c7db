#!/usr/bin/env python3
"""Retention policies (storage.retention) applied by `onsen garbage-collect`, as processes:

A server stores three repositories: ci/app with tags b1..b4 (pushed in that order) and `stable`,
ci/tool with t1, t2, and other with o1. The policy for `ci/*` keeps `stable` and the 2 most
recently pushed `b*` tags (so b1, b2 go; t1, t2 match no kept pattern and go too); `other`
matches no policy. `storage.retention.dryrun: true` lists the tags and deletes nothing; then
without it the collection deletes them, their manifests and the blobs only they named, what is
kept pulls whole, `other` is untouched, and `onsen check` is clean.

usage: retention_process_test.py ONSEN_BINARY
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
from onsen_proc import Client, Server, clean_env  # noqa: E402
from push import pulls_whole, push_image_blobs, put_manifest  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)
ENV = clean_env()

POLICY = """  retention:
    dryrun: {dry}
    policies:
      - repositories: ["ci/*"]
        keeptags:
          - patterns: ["stable"]
          - patterns: ["b[0-9]+"]
            mostrecentlypushedcount: 2
"""


def run(*args):
    p = subprocess.run([BINARY, *args], env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def with_policy(config_path, dry, out_path):
    with open(config_path) as f:
        text = f.read()
    text = text.replace("storage:\n", "storage:\n" + POLICY.format(dry=dry), 1)
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


def main():
    tmp = tempfile.mkdtemp(prefix="onsen-retention-")
    srv = None
    try:
        srv = Server(BINARY, workdir=os.path.join(tmp, "srv"))
        srv.start()
        c = Client(srv.port)
        images = {}
        for repo, tags in (("ci/app", ["b1", "b2", "b3", "b4", "stable"]),
                           ("ci/tool", ["t1", "t2"]), ("other", ["o1"])):
            for tag in tags:
                body, blobs = push_image_blobs(c, repo, f"{repo}:{tag}", [f"{repo}{tag}".encode() * 50])
                images[(repo, tag)] = (put_manifest(c, repo, tag, body), blobs)
                time.sleep(0.02)  # distinct push times, in order
        doomed = {("ci/app", "b1"), ("ci/app", "b2"), ("ci/tool", "t1"), ("ci/tool", "t2")}

        dry = with_policy(srv.config_path, "true", os.path.join(tmp, "dry.yml"))
        rc, out, err = run("garbage-collect", dry)
        listed = set(re.findall(r"^(\S+): deleting tag (\S+) \(retention\)$", out, re.M))
        check("dryrun: exits 0 and lists the tags no rule keeps", rc == 0 and listed == doomed,
              f"{rc} {sorted(listed)}\n{err}")
        r = c.request("GET", "/v2/ci/app/manifests/b1")
        check("dryrun: nothing deleted", r.status == 200, r)

        real = with_policy(srv.config_path, "false", os.path.join(tmp, "real.yml"))
        rc, out, err = run("garbage-collect", real)
        check("the collection exits 0", rc == 0, err)
        for key, (digest, blobs) in images.items():
            repo, tag = key
            r = c.request("GET", f"/v2/{repo}/manifests/{tag}")
            if key in doomed:
                check(f"{repo}:{tag} deleted", r.status == 404, r)
                r = c.request("GET", f"/v2/{repo}/manifests/{digest}")
                check(f"{repo}:{tag}'s manifest collected", r.status == 404, r)
            else:
                check(f"{repo}:{tag} pulls whole", pulls_whole(c, repo, tag, digest, blobs))
        c.close()
        srv.stop()
        rc, out = srv.check()
        check("onsen check is clean", rc == 0, out)
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
