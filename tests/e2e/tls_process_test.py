#!/usr/bin/env python3
"""TLS of a real onsen process, checked with `openssl s_client`: session resumption and key types.

    tls_process_test.py BINARY

- Session tickets: a session saved by `s_client -sess_out` is "Reused" by `-sess_in` on a new
  connection (TLS 1.3 and 1.2), by the same server with its in-memory keys, and by a second
  server when both read the same http.tls.ticketkeys file (replicas); a server with its own
  in-memory keys does not take the other's tickets. Rotating the file (a new key first, the old
  one after it) keeps old sessions resumable; a file without the old key ends them. The server
  counts resumed handshakes (the line it logs at stop, and /debug/vars on http.debug.addr while
  it runs). A malformed key file stops the start with
  a message naming it.
- An ECDSA (P-256) certificate and key given by REGISTRY_HTTP_TLS_CERTIFICATE/KEY serve
  (ECDSA-signed handshake, TLS 1.3 and 1.2); with an RSA pair and an ECDSA one
  (http.tls.secondcertificate/secondkey), a client gets ECDSA when it takes it, else RSA.
Exit status 0 when everything passed.
"""
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, clean_env, filesystem_config, free_port  # noqa: E402


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True,
                          timeout=30)


def make_cert(tmp, name, newkey):
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
    r = openssl("req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return cert, key


class Onsen:
    def __init__(self, binary, tmp, name, cert, key, ticket_keys=None, second=None, debug=False):
        self.binary = binary
        self.port = free_port()
        self.debug_port = free_port() if debug else None
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        tls = "  tls:\n"
        if ticket_keys:
            tls += "    ticketkeys: %s\n" % ticket_keys
        if second:
            tls += "    secondcertificate: %s\n    secondkey: %s\n" % second
        if debug:
            tls += f"  debug:\n    addr: {HOST}:{self.debug_port}\n"
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write(filesystem_config(os.path.join(self.dir, "storage"), f"{HOST}:{self.port}",
                                      "info", http_extra=tls))
        # The certificate through the seed's variables, as the classic deployment sets it.
        self.env = clean_env(REGISTRY_HTTP_TLS_CERTIFICATE=cert, REGISTRY_HTTP_TLS_KEY=key)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([self.binary, "serve", self.config], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "listening on" in self.log():
                return True
            time.sleep(0.05)
        return False

    def debug_vars(self):
        """/debug/vars of the debug listener, decoded."""
        c = http.client.HTTPConnection(HOST, self.debug_port, timeout=5)
        try:
            c.request("GET", "/debug/vars")
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), json.loads(r.read())
        finally:
            c.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        m = re.search(r"TLS: (\d+) handshakes started, (\d+) private-key signatures, (\d+) resumed",
                      self.log())
        return tuple(int(x) for x in m.groups()) if m else None


def connect(port, version, sess_out=None, sess_in=None, extra=()):
    """One s_client connection; returns (first line of "New"/"Reused", full output)."""
    args = ["s_client", version, "-connect", f"{HOST}:{port}", "-servername", "localhost", *extra]
    if sess_out:
        args += ["-sess_out", sess_out]
    if sess_in:
        args += ["-sess_in", sess_in]
    # A request, so that the TLS 1.3 tickets (sent after the handshake) are read before quitting.
    r = openssl(*args, "-ign_eof", stdin="GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    m = re.search(r"^(New|Reused), (TLSv[\d.]+)", r.stdout, re.M)
    return (m.group(1) if m else "no session line"), r.stdout + r.stderr


def check_signed(name, out, kind):
    """The s_client output shows a handshake signed with `kind` (RSA: PKCS#1 or PSS) and the
    request's 200."""
    check(name, f"Peer signature type: {kind}" in out and "HTTP/1.1 200" in out, out[-1500:])


def resumes(port_out, port_in, version, tmp):
    sess = os.path.join(tmp, "sess.pem")
    if os.path.exists(sess):
        os.remove(sess)
    first, out = connect(port_out, version, sess_out=sess)
    if first != "New" or not os.path.exists(sess):
        return "first connection: " + first + "\n" + out[-1500:]
    again, out = connect(port_in, version, sess_in=sess)
    return again


def resumes_in_a_row(port, version, tmp, n):
    """A full handshake, then n reconnects, each offering the session the previous one saved (as
    a client does that keeps the newest ticket: a TLS 1.3 ticket serves once)."""
    sess = os.path.join(tmp, "chain0.pem")
    if os.path.exists(sess):
        os.remove(sess)
    connect(port, version, sess_out=sess)
    seen = []
    for i in range(1, n + 1):
        nxt = os.path.join(tmp, f"chain{i}.pem")
        if os.path.exists(nxt):
            os.remove(nxt)
        seen.append(connect(port, version, sess_in=sess, sess_out=nxt)[0])
        sess = nxt
    return seen


def wait_reload(server, count):
    """Waits until the server logged its count-th certificate reload."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.log().count("TLS: reloaded certificate") >= count:
            return True
        time.sleep(0.1)
    return False


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="onsen-tls-") as tmp:
        rsa = make_cert(tmp, "rsa", ["-newkey", "rsa:2048"])
        keys = os.path.join(tmp, "ticket.keys")
        old_key, new_key = os.urandom(80), os.urandom(80)
        with open(keys, "wb") as f:
            f.write(old_key)

        a = Onsen(binary, tmp, "a", *rsa, ticket_keys=keys)
        b = Onsen(binary, tmp, "b", *rsa, ticket_keys=keys, debug=True)
        c = Onsen(binary, tmp, "c", *rsa)  # in-memory keys
        started = [s.start() for s in (a, b, c)]
        check("three servers started", all(started), "\n".join(s.log()[-800:] for s in (a, b, c)))
        if not all(started):
            return finish()
        try:
            for v in ("-tls1_3", "-tls1_2"):
                check(f"{v}: a session is resumed on a new connection (in-memory keys)",
                      resumes(c.port, c.port, v, tmp) == "Reused")
                check(f"{v}: a session is resumed on a new connection (key file)",
                      resumes(a.port, a.port, v, tmp) == "Reused")
                check(f"{v}: a replica sharing the key file resumes the other's session",
                      resumes(a.port, b.port, v, tmp) == "Reused")
                check(f"{v}: a server with its own keys does not",
                      resumes(a.port, c.port, v, tmp) == "New")

            # TLS 1.3 only: a 1.2 client may offer the same ticket again, a 1.3 client may not.
            check("-tls1_3: a resumed session brings a new ticket, so reconnects keep resuming",
                  resumes_in_a_row(c.port, "-tls1_3", tmp, 4) == ["Reused"] * 4)

            # Rotation: the new key first, the old one still accepted.
            sess = os.path.join(tmp, "old.pem")
            first, _ = connect(a.port, "-tls1_3", sess_out=sess)
            with open(keys + ".tmp", "w") as f:  # base64 this time, one key per line
                f.write(base64.b64encode(new_key).decode() + "\n" +
                        base64.b64encode(old_key).decode() + "\n")
            os.replace(keys + ".tmp", keys)
            check("the rotated key file is re-read", wait_reload(a, 1), a.log()[-800:])
            check("a session under the old key still resumes after rotation",
                  connect(a.port, "-tls1_3", sess_in=sess)[0] == "Reused")
            sess_new = os.path.join(tmp, "new.pem")
            connect(a.port, "-tls1_3", sess_out=sess_new)
            with open(keys + ".tmp", "wb") as f:
                f.write(new_key)
            os.replace(keys + ".tmp", keys)
            check("the key file without the old key is re-read", wait_reload(a, 2), a.log()[-800:])
            check("a session under the dropped key is not resumed",
                  connect(a.port, "-tls1_3", sess_in=sess)[0] == "New")
            check("a session made after the rotation (under the new key) still resumes",
                  connect(a.port, "-tls1_3", sess_in=sess_new)[0] == "Reused")
            status, ctype, dv = b.debug_vars()
            tls = dv.get("tls", {})
            check("/debug/vars on http.debug.addr reports the replica's TLS counts while it runs",
                  status == 200 and ctype.startswith("application/json") and
                  tls.get("resumed", 0) >= 2 and tls.get("signatures") == 0 and
                  tls.get("handshakes", 0) >= tls["resumed"], dv)
        finally:
            counts = [s.stop() for s in (a, b, c)]
        check("the servers counted resumed handshakes",
              all(n is not None and n[2] > 0 for n in counts), counts)
        check("a replica that only resumed signed nothing",
              counts[1] is not None and counts[1][1] == 0, counts[1])

        # A malformed key file: no start, and the message names the file.
        with open(keys, "w") as f:
            f.write("not a key\n")
        bad = Onsen(binary, tmp, "bad", *rsa, ticket_keys=keys)
        bad.start()
        code = bad.proc.wait(20)
        check("a malformed ticket key file stops the start, naming the file",
              code != 0 and keys in bad.log() and "80-byte keys" in bad.log(), bad.log()[-800:])

        # ECDSA.
        ec = make_cert(tmp, "ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        e = Onsen(binary, tmp, "ec", *ec)
        check("a server with an ECDSA key starts", e.start(), e.log()[-800:])
        try:
            for v in ("-tls1_3", "-tls1_2"):
                check_signed(f"{v}: the handshake is signed with ECDSA and the request answered",
                             connect(e.port, v)[1], "ECDSA")
        finally:
            e.stop()

        # RSA and ECDSA side by side: ECDSA for a client that takes both, RSA for one that
        # takes only RSA.
        pair = Onsen(binary, tmp, "pair", *rsa, second=ec)
        check("a server with an RSA and an ECDSA pair starts", pair.start(), pair.log()[-800:])
        try:
            for v, rsa_only in (("-tls1_3", ["-sigalgs", "rsa_pss_rsae_sha256"]),
                                ("-tls1_2", ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])):
                check_signed(f"{v}: a client that takes both gets ECDSA",
                             connect(pair.port, v)[1], "ECDSA")
                check_signed(f"{v}: a client that takes only RSA gets RSA",
                             connect(pair.port, v, extra=rsa_only)[1], "RSA")
        finally:
            pair.stop()
        same = Onsen(binary, tmp, "same", *rsa, second=rsa)
        same.start()
        check("a second pair of the same key type stops the start",
              same.proc.wait(20) != 0 and "same key type" in same.log(), same.log()[-800:])
    return finish()


if __name__ == "__main__":
    sys.exit(main())
