"""What every process-level Python suite (tests/stress, tests/hostile, tests/crash, tests/cli)
needs to run a real `onsen` child: a free loopback port, a clean environment, the filesystem
configuration they share, the wait until /v2/ answers, and the content helpers (digests, an OCI
image manifest). Python 3 standard library only.

Import it after `sys.path.insert(0, <tests/lib>)`: ctest runs each script by its path, so the
scripts find this directory from their own location."""

import hashlib
import http.client
import json
import os
import socket
import time

HOST = "127.0.0.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port():
    """A loopback port nothing listens on now (the server binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """os.environ without REGISTRY_* (servers read them as configuration overrides, so none may
    leak in from the caller), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(extra)
    return env


def filesystem_config(root, addr, log_level="warn", log_extra="", http_extra=""):
    """The YAML the suites start onsen with: filesystem storage under root, deletes enabled, no
    upload purging (it would race the tests), listening on addr. log_extra / http_extra: more
    lines, already indented, under `log:` / `http:`."""
    return ("version: 0.1\n"
            f"log:\n  level: {log_level}\n{log_extra}"
            f"storage:\n  filesystem:\n    rootdirectory: {root}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: {addr}\n{http_extra}")


def v2_status(port, timeout=2):
    """The status of GET /v2/ on a fresh connection; OSError while nothing listens."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request("GET", "/v2/")
        return c.getresponse().status
    finally:
        c.close()


def file_tail(path, n):
    """The last n bytes of a (log) file as text; "" when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")
    except OSError:
        return ""


class NotReady(Exception):
    """The server exited or did not answer in time; the message says which."""


def wait_ready(proc, port, timeout, interval=0.05, ready=(200,), probe=v2_status):
    """Polls probe(port) until it returns a status in ready. Raises NotReady when proc exits
    first or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotReady(f"exited with {proc.returncode} during start-up")
        try:
            if probe(port) in ready:
                return
        except OSError:
            pass
        time.sleep(interval)
    raise NotReady(f"not ready on port {port} within {timeout} s")


def image_manifest(config, layers):
    """OCI image manifest bytes for a config blob and layer blobs (bytes each)."""
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(l), "size": len(l)} for l in layers],
    }
    return json.dumps(m, sort_keys=True).encode()
