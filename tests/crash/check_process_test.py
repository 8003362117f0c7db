#!/usr/bin/env python3
"""`onsen check` as a process: exit status 0 on a storage onsen wrote, 1 with one line naming
each damaged object, 2 for a configuration error; the configuration is found as `onsen serve`
finds it (argument, REGISTRY_CONFIGURATION_PATH, REGISTRY_* overrides).

usage: check_process_test.py ONSEN_BINARY
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import OCI_MANIFEST, Client, Server, clean_env, image_manifest, sha256  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)


def run_check(*args, env_extra=None):
    env = clean_env(**(env_extra or {}))
    r = subprocess.run([BINARY, "check", *args], capture_output=True, timeout=60, env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def populate(server):
    """Runs the server and pushes one tagged image; returns the digests."""
    server.start(interval=0.02)
    try:
        c = Client(server.port, timeout=10)
        config_blob, layer = b"{}", b"layer bytes"
        for blob in (config_blob, layer):
            r = c.request("POST", f"/v2/app/blobs/uploads/?digest={sha256(blob)}", blob)
            assert r.status == 201, r
        manifest = image_manifest(config_blob, [layer])
        r = c.request("PUT", "/v2/app/manifests/v1", manifest, {"Content-Type": OCI_MANIFEST})
        assert r.status == 201, r
        c.close()
        return sha256(layer), sha256(manifest)
    finally:
        server.stop(timeout=20)


def main():
    work = tempfile.mkdtemp(prefix="onsen-check-")
    try:
        # The configuration serve and check share (the storage root does not exist yet).
        server = Server(BINARY, work)
        server.write_config()
        root, config = server.root, server.config_path

        rc, out, err = run_check(config)
        check("empty storage: exit 0", rc == 0, out + err)
        check("empty storage: summary says 0 problems", "; 0 problems" in out, out)

        layer, manifest = populate(server)
        rc, out, err = run_check(config)
        check("storage written by onsen serve: exit 0", rc == 0, out + err)
        check("summary counts 3 blobs, 1 repository, 1 tag",
              "3 blobs" in out and "1 repositories" in out and "1 tags" in out, out)

        # The configuration as serve finds it: REGISTRY_CONFIGURATION_PATH, then an override.
        rc, out, err = run_check(env_extra={"REGISTRY_CONFIGURATION_PATH": config})
        check("REGISTRY_CONFIGURATION_PATH is honoured", rc == 0 and "3 blobs" in out, out + err)
        empty = os.path.join(work, "empty")
        rc, out, err = run_check(config,
                                 env_extra={"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": empty})
        check("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY overrides the file",
              rc == 0 and "0 blobs" in out and empty in out, out + err)
        check("check creates nothing", not os.path.exists(empty))

        v2 = os.path.join(root, "docker/registry/v2")
        hexd = layer.split(":")[1]
        data = os.path.join(v2, "blobs/sha256", hexd[:2], hexd, "data")
        with open(data, "wb") as f:
            f.write(b"tampered")
        rc, out, err = run_check(config)
        key = f"/docker/registry/v2/blobs/sha256/{hexd[:2]}/{hexd}/data"
        lines = [l for l in out.splitlines() if l.startswith("problem: ")]
        check("a tampered blob: exit 1", rc == 1, out + err)
        check("one problem line names the blob and its actual digest",
              len(lines) == 1 and key in lines[0] and sha256(b"tampered") in lines[0], out)
        check("summary says 1 problems", "; 1 problems" in out, out)

        link = os.path.join(v2, "repositories/app/_manifests/tags/v1/current/link")
        with open(link, "w") as f:
            f.write("not a digest")
        rc, out, err = run_check(config)
        lines = [l for l in out.splitlines() if l.startswith("problem: ")]
        check("a garbage tag link as well: exit 1, two problem lines",
              rc == 1 and len(lines) == 2 and any("tags/v1/current/link" in l for l in lines),
              out + err)

        bad = os.path.join(work, "bad.yml")
        with open(bad, "w") as f:
            f.write("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: [1, 2]\n")
        rc, out, err = run_check(bad)
        check("a configuration error: exit 2, naming the key",
              rc == 2 and "configuration error" in err and "rootdirectory" in err, out + err)
        rc, out, err = run_check(os.path.join(work, "missing.yml"))
        check("a missing configuration file: exit 2", rc == 2, out + err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
