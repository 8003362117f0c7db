"""What the garbage-collection tests (tests/gc/torture_test.py, kill_test.py) share: a server on
filesystem or S3 storage with the online collector configured (storage.gc), `onsen
garbage-collect` and `onsen check` on its configuration, the blobs present in its store (files on
disk, the bucket's keys on S3), and a whole pull of an image with every digest checked. Python 3
standard library only; import it after `sys.path.insert(0, <tests/lib>)` and this directory."""

import hashlib
import json
import os
import subprocess

import make_store
import onsen_proc
import s3_gateway
from onsen_proc import HOST

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join([onsen_proc.OCI_MANIFEST, OCI_INDEX])
V2 = "docker/registry/v2"


class Store:
    """Where the servers of one test keep their data: a directory, or a rootdirectory in the
    fixture's bucket (s3=True: the gateway ONSEN_TEST_S3_ENV names)."""

    def __init__(self, workdir, s3=False, name="gc"):
        self.s3 = s3_gateway.gateway_env() if s3 else None
        self.root = f"{name}-{os.getpid()}" if s3 else os.path.join(workdir, "storage")
        self.bucket = s3_gateway.Bucket(self.s3) if s3 else None

    def storage_yaml(self):
        if self.s3:
            return s3_gateway.storage_yaml(self.s3, "/" + self.root) + "  redirect:\n    disable: true\n"
        return f"  filesystem:\n    rootdirectory: {self.root}\n"

    def blobs(self):
        """The digests whose blob data is in the store."""
        if self.s3:
            prefix = f"{self.root}/{V2}/blobs/sha256/"
            keys = self.bucket.keys(prefix)
            return {"sha256:" + k[len(prefix):].split("/")[1] for k in keys if k.endswith("/data")}
        return make_store.blobs_in(self.root)


class GcServer(onsen_proc.Server):
    """onsen on `store`; gc: the storage.gc block's lines (indented under gc:), None for none."""

    def __init__(self, binary, workdir, store, gc=None, log_level="warn"):
        super().__init__(binary, workdir=workdir, log_level=log_level)
        self.store, self.gc = store, gc

    def write_config(self):
        gc = "  gc:\n" + "".join(f"    {line}\n" for line in self.gc) if self.gc else ""
        with open(self.config_path, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: {self.log_level}\n  accesslog:\n    disabled: true\n"
                    f"storage:\n{self.store.storage_yaml()}"
                    "  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"{gc}http:\n  addr: {HOST}:{self.port}\n")

    def collect(self, *flags, timeout=600):
        """`onsen garbage-collect FLAGS CONFIG`; (exit status, output)."""
        self.write_config()
        p = subprocess.run([self.binary, "garbage-collect", *flags, self.config_path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")

    def gc_state(self, client):
        """GET /admin/gc decoded, None when the server has no such endpoint."""
        r = client.request("GET", "/admin/gc")
        return json.loads(r.body) if r.status == 200 else None


def pull(client, repo, ref, want=None):
    """Pulls repo:ref whole: the manifest (its digest checked against want), and for an index its
    children, for an image its config and layers, each blob's bytes hashed. Returns None when all
    is well, else what went wrong (a string)."""
    r = client.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
    if r.status != 200:
        return f"GET {repo}:{ref}: {r.status} {r.code()}"
    got = "sha256:" + hashlib.sha256(r.body).hexdigest()
    if want and got != want:
        return f"GET {repo}:{ref}: digest {got}, expected {want}"
    m = json.loads(r.body)
    if m.get("mediaType") == OCI_INDEX:
        for child in m["manifests"]:
            err = pull(client, repo, child["digest"], child["digest"])
            if err:
                return f"{repo}:{ref} child: {err}"
        return None
    for desc in [m["config"]] + m["layers"]:
        b = client.request("GET", f"/v2/{repo}/blobs/{desc['digest']}")
        if b.status != 200:
            return f"GET blob {desc['digest']} of {repo}:{ref}: {b.status} {b.code()}"
        if "sha256:" + hashlib.sha256(b.body).hexdigest() != desc["digest"]:
            return f"GET blob {desc['digest']} of {repo}:{ref}: wrong bytes"
    return None
