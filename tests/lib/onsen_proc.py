"""What every process-level Python suite (tests/stress, tests/hostile, tests/crash, tests/cli)
needs to run a real `onsen` child and talk to it: a free loopback port, a clean environment, the
filesystem configuration they share, the wait until /v2/ answers, one Server (start, stop, kill,
`onsen check`), one keep-alive Client and its Response, and the content helpers (digests, an OCI
image manifest). Suites keep what only they need as small subclasses (stress: RSS and strict
stops; hostile: Distribution for comparison and htpasswd; crash: a new port per restart and
interruptions) and their own raw-socket code for malformed input. Python 3 standard library only.

Import it after `sys.path.insert(0, <tests/lib>)`: ctest runs each script by its path, so the
scripts find this directory from their own location."""

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pseudo_random(n, seed):
    """n bytes that look random (SHA-256 in counter mode over seed, bytes), the same for the same
    seed: content whose every 64-byte block differs, so a hash resumed from a wrong state shows."""
    out, block, i = bytearray(), b"", 0
    while len(out) < n:
        block = hashlib.sha256(block + seed + i.to_bytes(4, "big")).digest()
        out += block
        i += 1
    return bytes(out[:n])


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


def get_json(port, path, method="GET", timeout=5):
    """(status, body) of one request on a fresh connection; the body decoded as JSON when it is
    JSON, else as text."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, body
    finally:
        c.close()


def wait_status(port, path, status, timeout=10, interval=0.05):
    """Polls get_json(port, path) until it answers `status` or timeout seconds pass; the last
    (status, body)."""
    deadline = time.monotonic() + timeout
    while True:
        last = get_json(port, path)
        if last[0] == status or time.monotonic() > deadline:
            return last
        time.sleep(interval)


def file_tail(path, n):
    """The last n bytes of a (log) file as text (n=0: all of it); "" when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")
    except OSError:
        return ""


class NotReady(RuntimeError):
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


def with_query(path, query):
    """path with one more query parameter ("k=v")."""
    return path + ("&" if "?" in path else "?") + query


def location_path(res):
    """The path of a response's Location (an absolute URL or a path)."""
    loc = res.header("location")
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    return loc


class Server:
    """`BINARY serve CONFIG` (onsen, or Distribution's docker-registry for comparison) on
    127.0.0.1:<free port>, filesystem storage under root (workdir/storage by default), its output
    in workdir/server.log. The port is chosen once; start() writes the configuration with it.

    workdir: a fresh temporary directory when None. log_extra / http_extra: more YAML lines,
    indented, under `log:` / `http:`; config_extra: top-level sections appended. env: variables
    added to clean_env() (REGISTRY_* overrides). ready: the statuses of GET /v2/ that mean up
    (401 with htpasswd). preexec: passed to Popen (e.g. resource limits). debug: also an
    http.debug.addr listener on debug_port (debug_vars() reads it)."""

    def __init__(self, binary, workdir=None, root=None, log_level="warn", log_extra="",
                 http_extra="", config_extra="", env=None, ready=(200,), preexec=None,
                 name="onsen", debug=False):
        self.binary = binary
        self.name = name
        self.workdir = workdir or tempfile.mkdtemp(prefix="onsen-test-")
        os.makedirs(self.workdir, exist_ok=True)
        self.root = root or os.path.join(self.workdir, "storage")
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.log_level, self.log_extra = log_level, log_extra
        self.http_extra, self.config_extra = http_extra, config_extra
        self.env = clean_env(**(env or {}))
        self.ready = ready
        self.preexec = preexec
        self.port = free_port()
        self.debug_port = free_port() if debug else None
        if debug:
            self.http_extra += f"  debug:\n    addr: {HOST}:{self.debug_port}\n"
        self.proc = None

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(filesystem_config(self.root, f"{HOST}:{self.port}", self.log_level,
                                      self.log_extra, self.http_extra) + self.config_extra)

    def start(self, timeout=20, interval=0.05):
        """Starts the process and waits until /v2/ answers; NotReady (with the log's tail) when it
        exits or does not answer in time. Returns self."""
        self.write_config()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "serve", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         preexec_fn=self.preexec)
        try:
            wait_ready(self.proc, self.port, timeout, interval, ready=self.ready)
        except NotReady as e:
            raise NotReady(f"{self.name} {e}:\n{self.log_tail()}") from None
        return self

    def debug_vars(self, timeout=5):
        """/debug/vars of the debug listener (debug=True), decoded."""
        c = http.client.HTTPConnection(HOST, self.debug_port, timeout=timeout)
        try:
            c.request("GET", "/debug/vars")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout seconds; the exit status (None if it had to be
        killed or never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self):
        """SIGKILL now (no wait): a crash at an arbitrary moment."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)

    def log(self):
        """Everything the server wrote so far."""
        return file_tail(self.log_path, 0)

    def log_tail(self, n=4000):
        return file_tail(self.log_path, n)

    def start_check(self):
        """`onsen check` on the storage, started now; the Popen (output on its stdout)."""
        return subprocess.Popen([self.binary, "check", self.config_path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env)

    def check(self, timeout=120):
        """Runs `onsen check` on the storage; returns (exit status, output)."""
        p = self.start_check()
        try:
            out = p.communicate(timeout=timeout)[0]
        finally:
            p.kill()
            p.wait()
        return p.returncode, out.decode(errors="replace")


class Response:
    """status, headers (lowercase name -> value; the last of repeated ones), body (bytes);
    header_list keeps every (lowercase name, value) in order. Unpacks as (status, headers, body).
    """

    def __init__(self, status, header_list, body, reason=""):
        self.status = status
        self.reason = reason
        self.header_list = [(k.lower(), v) for k, v in header_list]
        self.headers = dict(self.header_list)
        self.body = body

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name):
        """The first value of a header, None when absent."""
        name = name.lower()
        return next((v for k, v in self.header_list if k == name), None)

    def error_codes(self):
        """The codes of a spec error body, [] when it is not one."""
        try:
            return [e.get("code") for e in json.loads(self.body)["errors"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []

    def code(self):
        """The first error code of a spec error body, else None."""
        codes = self.error_codes()
        return codes[0] if codes else None

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.code() or "", self.body[:200])


class Client:
    """One keep-alive HTTP/1.1 connection (http.client) to 127.0.0.1:port. With retry_idle, a
    request that fails because the server closed an idle keep-alive connection before reading it
    is retried once on a new connection (what every HTTP client does); `reconnects` counts those.
    """

    def __init__(self, port, timeout=30, retry_idle=True):
        self.port = port
        self.timeout = timeout
        self.retry_idle = retry_idle
        self.conn = None
        self.reconnects = 0
        self.requests = 0

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def connection(self):
        """The open connection, a new one when there is none."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        return self.conn

    def response(self):
        """Reads the response to what was sent on the connection."""
        r = self.conn.getresponse()
        res = Response(r.status, r.getheaders(), r.read(), r.reason)
        self.requests += 1
        if r.will_close:
            self.close()
        return res

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            fresh = self.conn is None
            try:
                self.connection().request(method, path, body=body, headers=headers or {})
                return self.response()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 1 or not self.retry_idle:
                    raise
                self.reconnects += 1
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")
