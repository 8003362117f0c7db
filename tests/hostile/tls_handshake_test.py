#!/usr/bin/env python3
"""Dead TLS handshakes cost no signature, and do not starve established connections.

    tls_handshake_test.py BINARY [-v]

Runs onsen as the classic deployment does (TLS with an RSA-4096 certificate made here by
`openssl req`, htpasswd; the REGISTRY_* variables), then:
  - 200 clients each send a real ClientHello (built by Python's ssl module) and close at once,
    hello and FIN in one segment. None of them may cost a private-key signature: the counts are
    read from the line the server logs when it stops ("TLS: N handshakes started, M private-key
    signatures, ..."), and only the live handshakes of this test may be there.
  - 16 clients that send the first bytes of their hello and stall do not keep a fresh client
    from being served.
  - while 200 more dead handshakes are thrown at the server, one keep-alive TLS client that
    connected before keeps getting answers to GET /v2/ (each within a generous 5 s: the check is
    that it is answered, not how fast).
Before the fix each dead hello cost one RSA signature on an I/O thread (issue 11: a Go client's
abandoned dials left thousands of them queued, and the server stopped answering anyone).
Exit status 0 when everything passed.
"""
import argparse
import base64
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, clean_env, filesystem_config, free_port, wait_ready  # noqa: E402

USER, PASSWORD = "tls-user", "tls-Pa55word-7731"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
DEAD = 200
SLOW = 16  # more than the server's handshake slots (one per I/O thread)


def client_context(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    return ctx


def client_hello(cert):
    """The bytes of a real ClientHello, as Python's TLS client would send them first."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context(cert).wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def dead_handshake(port, hello):
    """Connects, sends the hello with the FIN in the same segment (MSG_MORE holds the bytes
    until the shutdown flushes them), then closes."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.send(hello, socket.MSG_MORE)
        s.shutdown(socket.SHUT_WR)


def close_wait_count(port):
    """Server-side sockets of `port` in CLOSE-WAIT (peer closed, server not yet), from
    /proc/net/tcp: the dead handshakes the server has not dealt with yet."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "08":
                        n += 1
        except OSError:
            pass
    return n


def wait_close_wait_gone(port, timeout=30):
    deadline = time.monotonic() + timeout
    while close_wait_count(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    return close_wait_count(port)


def fresh_get(port, cert):
    """GET /v2/ on a new TLS connection (one full handshake); the status."""
    c = http.client.HTTPSConnection(HOST, port, timeout=10, context=client_context(cert))
    try:
        c.request("GET", "/v2/", headers={"Authorization": AUTH})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="onsen-tls-hs-") as tmp:
        cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        htpasswd = os.path.join(tmp, "htpasswd")
        with open(htpasswd, "w") as f:
            f.write(subprocess.run([args.binary, "htpasswd", "-b", USER, PASSWORD], check=True,
                                   capture_output=True, text=True).stdout)
        port = free_port()
        config = os.path.join(tmp, "config.yml")
        with open(config, "w") as f:
            f.write(filesystem_config(os.path.join(tmp, "storage"), f"{HOST}:{port}", "info"))
        env = clean_env(REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_REALM="Onsen Registry",
                        REGISTRY_AUTH_HTPASSWD_PATH=htpasswd, REGISTRY_HTTP_ADDR=f"{HOST}:{port}",
                        REGISTRY_HTTP_TLS_CERTIFICATE=cert, REGISTRY_HTTP_TLS_KEY=key)
        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([args.binary, "serve", config], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
        live = 0
        try:
            wait_ready(proc, port, 20, ready=(200,), probe=lambda p: fresh_get(p, cert))
            live += 1  # the probe's last, successful handshake (failed probes never connected)
            hello = client_hello(cert)
            check("a ClientHello was built", len(hello) > 100 and hello[0] == 0x16, hello[:8])

            # Clients that send their hello slowly (a piece, then nothing) must hold no handshake
            # slot: a fresh client is served at once while they stall (before, it waited behind
            # them for read_timeout, 60 s).
            stalled = [socket.create_connection((HOST, port), timeout=5) for _ in range(SLOW)]
            for s in stalled:
                s.sendall(hello[:10])
            time.sleep(0.5)
            try:
                status = fresh_get(port, cert)
            except OSError as e:
                status = repr(e)
            check(f"a fresh client is served while {SLOW} hellos stall half-sent", status == 200,
                  status)
            live += 1
            for s in stalled:
                s.close()

            for _ in range(DEAD):
                dead_handshake(port, hello)
            left = wait_close_wait_gone(port)
            check(f"the server dropped all {DEAD} dead handshakes", left == 0,
                  f"{left} still in CLOSE-WAIT")
            check("a fresh client is served after them", fresh_get(port, cert) == 200)
            live += 1

            # An established keep-alive client, asking while dead handshakes keep coming.
            kept = http.client.HTTPSConnection(HOST, port, timeout=5,
                                               context=client_context(cert))
            kept.request("GET", "/v2/", headers={"Authorization": AUTH})
            kept.getresponse().read()
            live += 1
            thrower = threading.Thread(
                target=lambda: [dead_handshake(port, hello) for _ in range(DEAD)])
            thrower.start()
            answered, failure = 0, ""
            try:
                while thrower.is_alive() or answered < 5:
                    kept.request("GET", "/v2/", headers={"Authorization": AUTH})
                    r = kept.getresponse()
                    r.read()
                    if r.status != 200:
                        failure = f"status {r.status}"
                        break
                    answered += 1
            except OSError as e:
                failure = repr(e)
            thrower.join()
            check("the established client was answered throughout the burst", not failure,
                  f"after {answered} answers: {failure}")
            kept.close()
            left = wait_close_wait_gone(port)
            check(f"the server dropped the other {DEAD} dead handshakes", left == 0,
                  f"{left} still in CLOSE-WAIT")
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with open(log_path, errors="replace") as f:
            log = f.read()
        if args.v:
            print(log)
        m = re.search(r"TLS: (\d+) handshakes started, (\d+) private-key signatures, (\d+) resumed;"
                      r" dropped unsigned: (\d+) \(client gone\), (\d+)", log)
        check("the server logged its TLS counts at stop", m is not None, log[-2000:])
        if m:
            started, signatures, _, gone, _ = (int(x) for x in m.groups())
            check(f"only the {live} live handshakes were signed (not the {2 * DEAD} dead ones)",
                  signatures == live and started == live,
                  f"{started} started, {signatures} signatures")
            check(f"all {2 * DEAD} dead handshakes were dropped as gone", gone == 2 * DEAD,
                  f"{gone} dropped")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
