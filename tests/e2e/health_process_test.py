#!/usr/bin/env python3
"""Health checks as real processes show them: Onsen and Distribution's docker-registry (2.8.2,
Debian's) on the same configurations, the same statuses and bodies.

    health_process_test.py BINARY

- The storage check (health.storagedriver, threshold 3): a filesystem root whose parent directory
  becomes unreadable (the servers run as nobody when the test is root: chmod does not stop root)
  turns /debug/health to 503 {"storagedriver_filesystem": ...} and every API request to 503
  UNAVAILABLE, and back to 200 {} once it is readable again; a root that is missing (renamed away)
  is healthy in both (the backend answered: registry:2's rule, a fresh store has no root yet).
- health.file, health.http (HEAD with the configured headers, the expected status) and health.tcp
  fail and recover as their target does, with registry:2's error texts, byte for byte.
- Onsen's readiness: 503 while the storage check has not passed once (even below the threshold,
  when /debug/health still says 200), and while a graceful stop drains; liveness 200 meanwhile.
- `onsen probe`: 0 on 2xx, 1 on another status, a refused connection or a server that never
  answers (--timeout), 2 on a bad URL or duration; https verified (or not, with --insecure).
Exit status 0 when everything passed.
"""
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, Server, free_port, wait_status  # noqa: E402
from onsen_proc import get_json as get  # noqa: E402

ONSEN = sys.argv[1]
DISTRIBUTION = shutil.which("docker-registry")
NOBODY = 65534
AS_ROOT = os.geteuid() == 0


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def wait_for(what, timeout=10):
    """Polls what() until it is truthy; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def server(binary, name, workdir, health, root=None, as_user=None, http_extra=""):
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    return Server(binary, workdir=workdir, root=root, name=name, debug=True,
                  config_extra="health:\n" + health, preexec=as_user, http_extra=http_extra)


def implementations():
    impls = [("onsen", ONSEN)]
    if DISTRIBUTION:
        impls.append(("distribution", DISTRIBUTION))
    else:
        print("note: docker-registry not installed: Onsen alone")
    return impls


def storage_root(work):
    """(vol, root): work/vol/registry, both the server's user's; chmod vol 0 makes root unreadable."""
    vol = os.path.join(work, "vol")
    root = os.path.join(vol, "registry")
    os.makedirs(root)
    if AS_ROOT:
        os.chown(vol, NOBODY, NOBODY)
        os.chown(root, NOBODY, NOBODY)
    return vol, root


# --- The storage check -------------------------------------------------------------------------

def storage_check(name, binary, base):
    """What /debug/health, /v2/ (and Onsen's /debug/ready and /debug/live) answer through an
    unreadable root and back, and with the root renamed away; a list of observations."""
    work = os.path.join(base, name + "-storage")
    vol, root = storage_root(work)
    s = server(binary, name, work,
               "  storagedriver:\n    enabled: true\n    interval: 100ms\n    threshold: 3\n",
               root=root, as_user=as_nobody if AS_ROOT else None)
    seen = []
    try:
        s.start()
        seen.append(("healthy", wait_status(s.debug_port, "/debug/health", 200)))
        os.chmod(vol, 0)
        status, body = wait_status(s.debug_port, "/debug/health", 503)
        seen.append(("unreadable", status, sorted(body) if isinstance(body, dict) else body))
        v2 = get(s.port, "/v2/")
        seen.append(("unreadable /v2/", v2))
        if name == "onsen":
            ready = get(s.debug_port, "/debug/ready")
            check("onsen: unreadable root: /debug/ready 503 naming the check",
                  ready == (503, body), repr(ready))
            check("onsen: unreadable root: /debug/live 200 (the process is fine)",
                  get(s.debug_port, "/debug/live") == (200, {}))
            check("onsen: unreadable root: the error says why",
                  isinstance(body, dict)
                  and "ermission denied" in body.get("storagedriver_filesystem", ""), repr(body))
        os.chmod(vol, 0o755)
        seen.append(("readable again", wait_status(s.debug_port, "/debug/health", 200)))
        seen.append(("readable again /v2/", get(s.port, "/v2/")[0]))
        if name == "onsen":
            check("onsen: readable again: /debug/ready 200",
                  wait_status(s.debug_port, "/debug/ready", 200) == (200, {}))
        os.rename(root, root + ".away")
        time.sleep(1)  # ten probes
        seen.append(("root renamed away", get(s.debug_port, "/debug/health")))
        os.rename(root + ".away", root)
    finally:
        os.chmod(vol, 0o755)
        s.stop()
    return seen


def readiness_at_start(base):
    """Onsen started on an unreadable root with a threshold it will not reach soon: healthy, not
    ready; ready at the first successful probe."""
    work = os.path.join(base, "onsen-ready")
    vol, root = storage_root(work)
    os.chmod(vol, 0)
    s = server(ONSEN, "onsen", work,
               "  storagedriver:\n    enabled: true\n    interval: 100ms\n    threshold: 1000\n",
               root=root, as_user=as_nobody if AS_ROOT else None)
    try:
        s.start()
        time.sleep(0.5)
        check("ready at start: /debug/health 200 below the threshold",
              get(s.debug_port, "/debug/health") == (200, {}))
        ready = get(s.debug_port, "/debug/ready")
        check("ready at start: /debug/ready 503 until the storage check passed once",
              ready == (503, {"storagedriver_filesystem": "no successful probe yet"}), repr(ready))
        os.chmod(vol, 0o755)
        check("ready at start: 200 after the first successful probe",
              wait_status(s.debug_port, "/debug/ready", 200) == (200, {}))
    finally:
        os.chmod(vol, 0o755)
        s.stop()


# --- file, http and tcp checks -----------------------------------------------------------------

class Downstream:
    """An HTTP server answering HEAD /ping with `status`, recording the X-Check header it got;
    stop() and start() on the same port."""

    def __init__(self):
        self.port = free_port()
        self.status = 200
        self.headers_seen = []
        self.httpd = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):  # noqa: N802
                owner.headers_seen.append(self.headers.get("X-Check"))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Listener:
    """A TCP socket that accepts (by the kernel's backlog) and never answers; closed and
    reopened on the same port."""

    def __init__(self):
        self.port = free_port()
        self.sock = None

    def open(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, self.port))
        self.sock.listen(64)

    def close(self):
        self.sock.close()


def target_checks(name, binary, base, downstream, listener):
    """/debug/health through each target failing and recovering; a list of observations."""
    work = os.path.join(base, name + "-targets")
    drain = os.path.join(work, "drain")
    uri = f"http://{HOST}:{downstream.port}/ping"
    addr = f"{HOST}:{listener.port}"
    s = server(binary, name, work,
               f"  file:\n    - file: {drain}\n      interval: 100ms\n"
               f"  http:\n    - uri: {uri}\n      headers:\n        X-Check: [yes]\n"
               "      statuscode: 200\n      timeout: 1s\n      interval: 100ms\n"
               f"  tcp:\n    - addr: {addr}\n      timeout: 1s\n      interval: 100ms\n")
    seen = []
    dbg = None
    try:
        s.start()
        dbg = s.debug_port
        seen.append(("all up", wait_status(dbg, "/debug/health", 200)))
        open(drain, "w").close()
        seen.append(("drain file", wait_status(dbg, "/debug/health", 503)))
        seen.append(("drain file /v2/", get(s.port, "/v2/")))
        os.remove(drain)
        seen.append(("drain file removed", wait_status(dbg, "/debug/health", 200)))
        downstream.status = 500
        seen.append(("http 500", wait_status(dbg, "/debug/health", 503)))
        downstream.status = 200
        seen.append(("http 200", wait_status(dbg, "/debug/health", 200)))
        downstream.stop()
        seen.append(("http down", wait_status(dbg, "/debug/health", 503)))
        downstream.start()
        seen.append(("http back", wait_status(dbg, "/debug/health", 200)))
        listener.close()
        seen.append(("tcp closed", wait_status(dbg, "/debug/health", 503)))
        listener.open()
        seen.append(("tcp open", wait_status(dbg, "/debug/health", 200)))
        check(f"{name}: the http check sent HEAD with its headers",
              downstream.headers_seen and set(downstream.headers_seen) == {"yes"},
              repr(downstream.headers_seen[:5]))
        if name == "onsen":
            probes(dbg, listener)
    finally:
        if os.path.exists(drain):
            os.remove(drain)
        s.stop()
    return seen


def probe(*args):
    p = subprocess.run([ONSEN, "probe", *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    return p.returncode, p.stderr.decode(errors="replace")


def probes(debug_port, listener):
    """`onsen probe` against the debug listener (healthy now) and what is not one."""
    url = f"http://{HOST}:{debug_port}"
    rc, err = probe(url + "/debug/health")
    check("probe: 200 -> exit 0, one line on stderr", rc == 0 and err.count("\n") == 1,
          f"{rc} {err!r}")
    rc, err = probe(url + "/debug/nothing")
    check("probe: 404 -> exit 1", rc == 1 and ": 404" in err, f"{rc} {err!r}")
    rc, err = probe(f"http://{HOST}:{free_port()}/")
    check("probe: connection refused -> exit 1", rc == 1 and err.count("\n") == 1, f"{rc} {err!r}")
    start = time.monotonic()
    rc, err = probe("--timeout", "300ms", f"http://{HOST}:{listener.port}/")
    check("probe: a server that never answers -> exit 1 after --timeout",
          rc == 1 and time.monotonic() - start < 10, f"{rc} {err!r}")
    rc, err = probe("ftp://example/")
    check("probe: not an http URL -> exit 2", rc == 2, f"{rc} {err!r}")
    rc, err = probe("--timeout", "soon", url + "/debug/health")
    check("probe: a bad --timeout -> exit 2", rc == 2, f"{rc} {err!r}")


def probes_tls(base):
    """`onsen probe https://...` against a TLS Onsen with a self-signed certificate for
    localhost: refused unverified, accepted with --insecure or with the certificate trusted
    (SSL_CERT_FILE), refused for a host name the certificate does not name."""
    work = os.path.join(base, "onsen-tls")
    os.makedirs(work)
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-x509", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    s = server(ONSEN, "onsen", work, "  storagedriver:\n    enabled: false\n",
               http_extra=f"  tls:\n    certificate: {cert}\n    key: {key}\n")
    s.write_config()
    with open(s.log_path, "ab") as log:
        s.proc = subprocess.Popen([ONSEN, "serve", s.config_path], stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=subprocess.STDOUT, env=s.env)
    try:
        url = f"https://localhost:{s.port}/v2/"
        up = wait_for(lambda: probe("--insecure", url)[0] == 0, 20)
        check("probe https --insecure: a self-signed certificate -> exit 0", up, s.log_tail())
        rc, err = probe(url)
        check("probe https: an unverified certificate -> exit 1",
              rc == 1 and "certificate verify failed" in err, f"{rc} {err!r}")
        trusted = dict(os.environ, SSL_CERT_FILE=cert)
        p = subprocess.run([ONSEN, "probe", url], capture_output=True, env=trusted, timeout=30)
        check("probe https: the certificate trusted -> exit 0", p.returncode == 0, p.stderr)
        p = subprocess.run([ONSEN, "probe", f"https://127.0.0.1:{s.port}/v2/"],
                           capture_output=True, env=trusted, timeout=30)
        check("probe https: a host name the certificate does not name -> exit 1",
              p.returncode == 1, p.stderr)
    finally:
        s.stop()


# --- Readiness during a graceful stop ----------------------------------------------------------

def graceful_stop(base):
    """A request in flight holds the drain open: /debug/ready 503 {"server": "stopping"},
    /debug/live 200 meanwhile; the request then finishes and the process exits 0."""
    work = os.path.join(base, "onsen-stop")
    s = server(ONSEN, "onsen", work, "  storagedriver:\n    enabled: true\n    interval: 100ms\n",
               http_extra="  draintimeout: 20s\n")
    try:
        s.start()
        check("stop: /debug/ready 200 while serving",
              wait_status(s.debug_port, "/debug/ready", 200) == (200, {}))
        c = socket.create_connection((HOST, s.port), timeout=10)
        c.sendall(b"POST /v2/ready/test/blobs/uploads/ HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 0\r\n\r\n")
        head = c.recv(65536).decode(errors="replace")
        location = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
                    if line.lower().startswith("location:")][0]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        c.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n12345".encode())
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        ready = wait_status(s.debug_port, "/debug/ready", 503)
        check("stop: /debug/ready 503 {server: stopping} while draining",
              ready == (503, {"server": "stopping"}), repr(ready))
        check("stop: /debug/live 200 while draining", get(s.debug_port, "/debug/live") == (200, {}))
        check("stop: /debug/health 200 while draining (the checks still pass)",
              get(s.debug_port, "/debug/health") == (200, {}))
        c.sendall(b"67890")
        reply = c.recv(65536).decode(errors="replace")
        check("stop: the request in flight finished", reply.startswith("HTTP/1.1 202"),
              reply[:200])
        c.close()
        check("stop: exit status 0", s.proc.wait(30) == 0, s.log_tail())
    finally:
        s.stop()


def main():
    base = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"onsen-health-{os.getpid()}")
    os.makedirs(base)
    os.chmod(base, 0o755)
    try:
        results = {}
        for name, binary in implementations():
            results[name] = storage_check(name, binary, base)
        on = results["onsen"]
        check("onsen: healthy at start", on[0] == ("healthy", (200, {})), repr(on[0]))
        check("onsen: unreadable root -> 503 naming storagedriver_filesystem",
              on[1] == ("unreadable", 503, ["storagedriver_filesystem"]), repr(on[1]))
        check("onsen: unreadable root -> /v2/ 503 UNAVAILABLE",
              on[2][1][0] == 503 and on[2][1][1]["errors"][0]["code"] == "UNAVAILABLE", repr(on[2]))
        check("onsen: readable again -> 200 {}", on[3] == ("readable again", (200, {})), repr(on[3]))
        check("onsen: readable again -> /v2/ 200", on[4] == ("readable again /v2/", 200), repr(on[4]))
        check("onsen: root renamed away -> healthy (registry:2's rule)",
              on[5] == ("root renamed away", (200, {})), repr(on[5]))
        if "distribution" in results:
            check("storage check: Onsen and docker-registry answer alike",
                  results["distribution"] == on,
                  f"onsen {on}\ndistribution {results['distribution']}")
        readiness_at_start(base)

        downstream, listener = Downstream(), Listener()
        downstream.start()
        listener.open()
        targets = {}
        for name, binary in implementations():
            targets[name] = target_checks(name, binary, base, downstream, listener)
        on = dict(targets["onsen"])
        uri = f"http://{HOST}:{downstream.port}/ping"
        addr = f"{HOST}:{listener.port}"
        drain = os.path.join(base, "onsen-targets", "drain")
        check("file check: 503 {file: file exists} while it exists",
              on["drain file"] == (503, {drain: "file exists"}), repr(on["drain file"]))
        check("file check: the API answers 503 UNAVAILABLE meanwhile",
              on["drain file /v2/"][0] == 503, repr(on["drain file /v2/"]))
        check("http check: an unexpected status",
              on["http 500"] == (503, {uri: "downstream service returned unexpected status: 500"}),
              repr(on["http 500"]))
        check("http check: no answer", on["http down"] == (503, {uri: f"error while checking: {uri}"}),
              repr(on["http down"]))
        check("tcp check: refused", on["tcp closed"] == (503, {addr: f"connection to {addr} failed"}),
              repr(on["tcp closed"]))
        check("file/http/tcp: each recovers to 200 {}",
              all(on[k] == (200, {}) for k in ("all up", "drain file removed", "http 200",
                                                "http back", "tcp open")), repr(on))
        if "distribution" in targets:
            dist = dict(targets["distribution"])
            # The file check's name is its path, which differs by working directory.
            ddrain = os.path.join(base, "distribution-targets", "drain")
            dist["drain file"] = (dist["drain file"][0],
                                  {drain if k == ddrain else k: v
                                   for k, v in dist["drain file"][1].items()})
            check("file/http/tcp: Onsen and docker-registry answer alike, byte for byte",
                  dist == on, f"onsen {on}\ndistribution {dist}")
        downstream.stop()
        listener.close()

        probes_tls(base)
        graceful_stop(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
