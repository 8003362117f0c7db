"""Shared pieces of the stress tests: a real `onsen serve` child process on a free loopback port,
a keep-alive HTTP client, and the push/pull steps of the Distribution protocol.

Python 3 standard library only. Every network operation has a timeout."""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from onsen_proc import (  # noqa: E402
    OCI_MANIFEST,
    NotReady,
    file_tail,
    filesystem_config,
    free_port,
    image_manifest,
    sha256,
    wait_ready,
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


class Server:
    """`onsen serve` on 127.0.0.1:<free port>, filesystem storage, deletes enabled.

    root: storage root directory (a fresh temporary one when None). http_extra: extra YAML lines
    indented under `http:`. env: extra environment variables (REGISTRY_* overrides)."""

    def __init__(self, binary, root=None, http_extra="", env=None, log_level="warn",
                 preexec=None):
        self.binary = binary
        self.workdir = tempfile.mkdtemp(prefix="onsen-stress-")
        self.root = root or os.path.join(self.workdir, "data")
        self.port = free_port()
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.log_path = os.path.join(self.workdir, "onsen.log")
        with open(self.config_path, "w") as f:
            f.write(filesystem_config(self.root, f"127.0.0.1:{self.port}", log_level,
                                      "  accesslog:\n    disabled: true\n", http_extra))
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.preexec = preexec
        self.proc = None
        _workdirs.append(self.workdir)

    def start(self, timeout=20):
        self.logfile = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", self.config_path],
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            env=self.env,
            preexec_fn=self.preexec,
        )
        try:
            wait_ready(self.proc, self.port, timeout)
        except NotReady as e:
            raise RuntimeError(f"onsen {e}:\n{self.log_tail()}") from None
        return self

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("onsen did not stop within %ss of SIGTERM" % timeout)
        finally:
            self.logfile.close()

    def log_tail(self, n=4000):
        return file_tail(self.log_path, n)

    def check_storage(self):
        """Runs `onsen check` on the storage; returns (exit status, output)."""
        p = subprocess.run(
            [self.binary, "check", self.config_path],
            capture_output=True,
            timeout=120,
            env=self.env,
        )
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def has_check(self):
        p = subprocess.run([self.binary, "--help"], capture_output=True, timeout=10)
        return b"check" in p.stdout + p.stderr


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def error_codes(self):
        try:
            return [e.get("code") for e in json.loads(self.body)["errors"]]
        except (ValueError, KeyError, TypeError):
            return []

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class Client:
    """One keep-alive connection. A request that fails because the server closed an idle
    keep-alive connection before reading it is retried once on a new connection (what every HTTP
    client does); `reconnects` counts those."""

    def __init__(self, port, timeout=30):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.reconnects = 0
        self.requests = 0

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                self.requests += 1
                res = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
                if r.will_close:
                    self.close()
                return res
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                if fresh or attempt == 1:
                    raise
                self.reconnects += 1
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")


class ProtocolError(AssertionError):
    pass


def expect(res, status, what):
    if res.status != status:
        raise ProtocolError(f"{what}: expected {status}, got {res.status} {res.body[:300]!r}")
    return res


def location_path(res):
    loc = res.header("location")
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    return loc


def with_query(path, query):
    return path + ("&" if "?" in path else "?") + query


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
