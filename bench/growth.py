#!/usr/bin/env python3
"""Costs that grow with input (issue 9): measures two requests against a real onsen process.

    growth.py manifest-put [--onsen BIN] [--layers N] [--rounds R] [--cold]
    growth.py referrers    [--onsen BIN] [--manifests N ...] [--requests R]

manifest-put: the time of one PUT of an OCI manifest that references N (10,000) distinct tiny
layers, all present in the repository (R rounds, a different manifest each round: its annotation
changes), and of one PUT whose last layer is missing (must answer 400 MANIFEST_BLOB_UNKNOWN).
With --cold (root, util-linux, e2fsprogs and loop devices needed) the storage root is a fresh ext4
image attached with direct I/O and remounted before each PUT, so every link and blob lookup of the
PUT starts from a cold dentry, inode and page cache and reads the disk, as on a server whose
metadata does not fit in memory.

referrers: GET /v2/<repo>/referrers/<digest> in repositories holding N other manifests (10 and
10,000 by default) plus the subject and 3 referrers pushed through the API; prints the median and
p90 milliseconds per request over R sequential requests on one keep-alive connection.

Setup speed: the layers (blob data + the repository's _layers link) and the N filler manifests
(blob data + _manifests/revisions link, no subject) are written straight into the storage root in
Distribution's layout, before onsen starts; uploading 10,000 blobs through the API costs several
fsyncs each and takes minutes. Everything the measured requests touch is what onsen would have
written itself. Needs only python3; onsen is started on a free loopback port with a temp root and
stopped at the end. Prints one JSON line per figure on stdout.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Client, Fail  # noqa: E402

ROOT_PREFIX = "docker/registry/v2"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def store_blob(root, data):
    """Blob data in the content-addressed store; returns its digest."""
    digest = sha256(data)
    hexpart = digest.split(":")[1]
    write_file(os.path.join(root, ROOT_PREFIX, "blobs/sha256", hexpart[:2], hexpart, "data"), data)
    return digest


def link(root, repo, kind, digest):
    """A link file (kind: "_layers" or "_manifests/revisions") naming digest in repo."""
    hexpart = digest.split(":")[1]
    write_file(os.path.join(root, ROOT_PREFIX, "repositories", repo, kind, "sha256", hexpart, "link"),
               digest.encode())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """onsen serve on a temp root; the root is filled before start()."""

    def __init__(self, binary, cold=False):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="onsen-growth.")
        self.root = os.path.join(self.dir, "root")
        self.proc = None
        self.url = None
        self.loop = None
        if cold:
            image = os.path.join(self.dir, "fs.img")
            with open(image, "wb") as f:
                f.truncate(2 << 30)
            subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
            self.loop = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", image], check=True,
                                       capture_output=True, text=True).stdout.strip()
            os.makedirs(self.root)
            subprocess.run(["mount", self.loop, self.root], check=True)

    def drop_caches(self):
        """Remounts the storage root: its cached dentries, inodes and pages go with the unmount."""
        subprocess.run(["umount", self.root], check=True)
        subprocess.run(["mount", self.loop, self.root], check=True)

    def start(self):
        port = free_port()
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n"
                    % (self.root, port))
        self.proc = subprocess.Popen([self.binary, "serve", config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"),
                                     env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        self.url = "http://127.0.0.1:%d" % port
        client = Client(self.url, None, None, timeout=120)
        for _ in range(200):
            try:
                client.req("GET", "/v2/", expect=(200,))
                return client
            except Fail:
                if self.proc.poll() is not None:
                    raise Fail("onsen exited with status %d" % self.proc.returncode)
                time.sleep(0.05)
        raise Fail("onsen did not answer within 10 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.loop:
            subprocess.run(["umount", self.root])
            subprocess.run(["losetup", "-d", self.loop])
        shutil.rmtree(self.dir, ignore_errors=True)


def manifest_body(config_digest, config_size, layers, note):
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
        "annotations": {"note": note},
    }).encode()


def timed_put(client, repo, ref, body, expect):
    t0 = time.monotonic()
    r, data = client.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
                         headers={"Content-Type": OCI_MANIFEST}, expect=expect)
    return (time.monotonic() - t0) * 1000, data


def manifest_put(a):
    server = Server(a.onsen, a.cold)
    try:
        repo = "growth/layers"
        config = b'{"architecture":"amd64","os":"linux"}'
        config_digest = store_blob(server.root, config)
        link(server.root, repo, "_layers", config_digest)
        layers = []
        for i in range(a.layers):
            data = b"layer %d" % i
            digest = store_blob(server.root, data)
            link(server.root, repo, "_layers", digest)
            layers.append((digest, len(data)))
        client = server.start()
        client.req("HEAD", "/v2/%s/blobs/%s" % (repo, layers[-1][0]), expect=(200,))  # the layout is sound

        times = []
        for round_ in range(a.rounds):
            body = manifest_body(config_digest, len(config), layers, "round %d" % round_)
            if a.cold:
                server.drop_caches()
            ms, _ = timed_put(client, repo, "r%d" % round_, body, (201,))
            times.append(ms)
        missing = layers[:-1] + [(sha256(b"never uploaded"), 14)]
        if a.cold:
            server.drop_caches()
        miss_ms, data = timed_put(client, repo, "missing", manifest_body(config_digest, len(config), missing, "m"),
                                  (400,))
        if b"MANIFEST_BLOB_UNKNOWN" not in data:
            raise Fail("a manifest with a missing layer answered: %s" % data[:300])
        print(json.dumps({"figure": "manifest PUT", "cold": a.cold, "layers": a.layers, "manifest_bytes": len(body),
                          "ms": [round(t, 1) for t in times], "median_ms": round(statistics.median(times), 1),
                          "missing_layer_400_ms": round(miss_ms, 1)}))
    finally:
        server.stop()


def referrers(a):
    for count in a.manifests:
        server = Server(a.onsen)
        try:
            repo = "growth/referrers"
            config = b"{}"
            config_digest = store_blob(server.root, config)
            link(server.root, repo, "_layers", config_digest)
            for i in range(count):  # filler manifests without a subject
                body = manifest_body(config_digest, len(config), [], "filler %d" % i)
                link(server.root, repo, "_manifests/revisions", store_blob(server.root, body))
            client = server.start()
            subject = manifest_body(config_digest, len(config), [], "subject")
            subject_digest = sha256(subject)
            client.req("PUT", "/v2/%s/manifests/subject" % repo, body=subject,
                       headers={"Content-Type": OCI_MANIFEST}, expect=(201,))
            for i in range(3):
                ref = json.loads(manifest_body(config_digest, len(config), [], "referrer %d" % i))
                ref["artifactType"] = "application/vnd.example.growth"
                ref["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject)}
                body = json.dumps(ref).encode()
                client.req("PUT", "/v2/%s/manifests/%s" % (repo, sha256(body)), body=body,
                           headers={"Content-Type": OCI_MANIFEST}, expect=(201,))
            path = "/v2/%s/referrers/%s" % (repo, subject_digest)
            _, data = client.req("GET", path, expect=(200,))
            found = len(json.loads(data)["manifests"])
            if found != 3:
                raise Fail("referrers lists %d manifests, expected 3" % found)
            times = []
            for _ in range(a.requests):
                t0 = time.monotonic()
                client.req("GET", path, expect=(200,))
                times.append((time.monotonic() - t0) * 1000)
            times.sort()
            print(json.dumps({"figure": "GET referrers", "other_manifests": count, "requests": a.requests,
                              "median_ms": round(statistics.median(times), 3),
                              "p90_ms": round(times[int(len(times) * 0.9)], 3),
                              "requests_per_s": round(1000 * len(times) / sum(times), 1)}))
        finally:
            server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("figure", choices=["manifest-put", "referrers"])
    ap.add_argument("--onsen", default=os.path.join(REPO_ROOT, "build", "onsen"))
    ap.add_argument("--layers", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--manifests", type=int, nargs="+", default=[10, 10000])
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    if not os.access(a.onsen, os.X_OK):
        raise Fail("%s is not an executable onsen (build it, or pass --onsen)" % a.onsen)
    manifest_put(a) if a.figure == "manifest-put" else referrers(a)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print("growth: " + str(e), file=sys.stderr)
        sys.exit(1)
