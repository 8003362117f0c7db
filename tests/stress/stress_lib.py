"""Shared pieces of the stress tests: tests/lib's Server (with the stress settings) and Client,
the push/pull steps of the Distribution protocol, and what the suites measure (RSS, descriptors).

Python 3 standard library only. Every network operation has a timeout."""

import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import onsen_proc  # noqa: E402
from onsen_proc import (  # noqa: E402
    OCI_MANIFEST,
    Client,
    free_port,
    image_manifest,
    location_path,
    sha256,
    with_query,
)


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def rss_kib(pid):
    """Resident set size of a process in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


_workdirs = []  # servers' temporary directories: removed when the test passes, kept otherwise


class Server(onsen_proc.Server):
    """The shared Server with the stress suites' settings (no access log: thousands of requests)
    and a stop that fails the test when SIGTERM does not stop onsen."""

    def __init__(self, binary, root=None, http_extra="", env=None, log_level="warn",
                 preexec=None):
        super().__init__(binary, tempfile.mkdtemp(prefix="onsen-stress-"), root=root,
                         log_level=log_level, log_extra="  accesslog:\n    disabled: true\n",
                         http_extra=http_extra, env=env, preexec=preexec)
        _workdirs.append(self.workdir)

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def stop(self, timeout=15):
        running = self.alive()
        status = super().stop(timeout)
        if running and status is None:
            raise RuntimeError("onsen did not stop within %ss of SIGTERM" % timeout)
        return status

    def has_check(self):
        p = subprocess.run([self.binary, "--help"], capture_output=True, timeout=10)
        return b"check" in p.stdout + p.stderr


class ProtocolError(AssertionError):
    pass


def expect(res, status, what):
    if res.status != status:
        raise ProtocolError(f"{what}: expected {status}, got {res.status} {res.body[:300]!r}")
    return res


def push_blob_monolithic(c, repo, data):
    d = sha256(data)
    res = c.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/?digest={d}",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    return res


def push_blob_chunked(c, repo, data, chunks=3):
    """POST, PATCH chunks with Content-Range, PUT ?digest= (the last chunk in the PUT when
    chunks > 1). Returns the final response (or the first failing one)."""
    d = sha256(data)
    res = c.request("POST", f"/v2/{repo}/blobs/uploads/")
    if res.status != 202:
        return res
    loc = location_path(res)
    size = max(1, -(-len(data) // chunks))
    offset = 0
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    for piece in pieces[:-1]:
        res = c.request(
            "PATCH",
            loc,
            body=piece,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(piece) - 1}",
            },
        )
        if res.status != 202:
            return res
        loc = location_path(res)
        offset += len(piece)
    last = pieces[-1]
    headers = {"Content-Type": "application/octet-stream"}
    if last:
        headers["Content-Range"] = f"{offset}-{offset + len(last) - 1}"
    return c.request("PUT", with_query(loc, f"digest={d}"), body=last, headers=headers)


def mount_blob(c, repo, source, digest):
    """Cross-repository mount. Returns the response; a 202 fallback session is cancelled."""
    res = c.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}")
    if res.status == 202:
        c.request("DELETE", location_path(res))
    return res


def put_manifest(c, repo, ref, body):
    return c.request("PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                     headers={"Content-Type": OCI_MANIFEST})


def run_weighted(rng, ops, deadline, client, fail):
    """Until deadline (time.monotonic()), runs operations drawn by weight from ops, [(fn,
    weight)]. An exception is a failure: fail(f"{fn name}: {type}: {message}"), and the client's
    connection is dropped (its state is unknown); the client is closed at the end."""
    fns, weights = zip(*ops)
    while time.monotonic() < deadline:
        op = rng.choices(fns, weights)[0]
        try:
            op()
        except Exception as e:  # noqa: BLE001 - every transport error is a failure
            fail(f"{op.__name__}: {type(e).__name__}: {e}")
            client.close()
    client.close()


def random_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def main_wrapper(fn):
    """Runs fn(binary) and exits 0 on success, 1 with the failure printed otherwise."""
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} <onsen binary>", file=sys.stderr)
        sys.exit(2)
    started = time.monotonic()
    try:
        fn(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - the test's verdict
        import traceback

        traceback.print_exc()
        log(f"FAILED after {time.monotonic() - started:.1f}s: {e}")
        sys.exit(1)
    log(f"PASSED in {time.monotonic() - started:.1f}s")
    if _workdirs:
        # Thousands of small files: removed in the background, not on the test's clock.
        subprocess.Popen(["rm", "-rf", "--", *_workdirs], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sys.exit(0)


def skip(reason):
    """ctest SKIP_RETURN_CODE 77."""
    log("SKIPPED:", reason)
    sys.exit(77)


__all__ = [name for name in dir() if not name.startswith("_")] + ["random"]
