#!/usr/bin/env python3
"""Hostile Authorization headers and secret hygiene, against a real server with htpasswd auth.

    auth_hostile_test.py BINARY [--kind onsen|distribution] [-v]

Runs the server with an htpasswd file (bcrypt, made by the real `htpasswd -B`) at DEBUG log
level. Every case sends one request with a malformed, hostile or wrong Authorization header and
states what must come back (401 UNAUTHORIZED with the Basic challenge and nothing of the
registry's content, never 429: the cases stay below the failed-login throttle; 400/431 where the
transport refuses); after each one the right credentials must still work. Then the secrets check: neither the server's log
(debug level) nor any byte of any response may contain a password used (right or wrong), the
base64 of any credentials sent, or the bcrypt hash (or its salt+checksum part), and no client-
supplied text may start a forged log line. Exit status 0 when everything passed.
"""
import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
import time

from hostile_lib import Server, b, exchange, request, sha256

USER = "alice"
PASSWORD = "R1ght-Pa55word-hostile-4417"
WRONG = "Wr0ng-Gu3ss-hostile-9923"
NOCOLON = "N0Colon-Secret-hostile-5521"
REPO = "hostile/private"
BLOB = b"private blob content " * 40


def b64(raw):
    return base64.b64encode(b(raw)).decode()


GOOD = "Basic " + b64("%s:%s" % (USER, PASSWORD))
WRONG_HEADER = "Basic " + b64("%s:%s" % (USER, WRONG))


class Case:
    def __init__(self, name, headers, status, code="UNAUTHORIZED", method="GET", target="/v2/"):
        self.name, self.headers, self.status, self.code = name, headers, status, code
        self.method, self.target = method, target


# Well-formed wrong credentials are 401 too: the table holds far fewer distinct wrong passwords
# per user than the throttle's 30 (and a repeated one is not counted again), so no 429 is expected.
REFUSED = (401,)


def cases():
    out = [
        Case("no Authorization", [], REFUSED),
        Case("empty value", [("Authorization", "")], REFUSED),
        Case("scheme only", [("Authorization", "Basic")], REFUSED),
        Case("scheme and space", [("Authorization", "Basic ")], REFUSED),
        Case("not base64", [("Authorization", "Basic !!!!****")], REFUSED),
        Case("base64 with a space inside", [("Authorization", "Basic " + b64("alice:x")[:4] + " " +
                                              b64("alice:x")[4:])], REFUSED),
        Case("bad padding", [("Authorization", "Basic " + b64("alice:x").rstrip("=") + "===")],
             REFUSED),
        Case("no colon", [("Authorization", "Basic " + b64(NOCOLON))], REFUSED),
        Case("empty user", [("Authorization", "Basic " + b64(":" + WRONG))], REFUSED),
        Case("empty password", [("Authorization", "Basic " + b64(USER + ":"))], REFUSED),
        Case("NUL after the password", [("Authorization", "Basic " + b64(
            "%s:%s\x00" % (USER, PASSWORD)))], REFUSED),
        Case("NUL in the user", [("Authorization", "Basic " + b64(
            "ali\x00ce:%s" % PASSWORD))], REFUSED),
        Case("CRLF in the user (log forging)", [("Authorization", "Basic " + b64(
            "x\r\nFORGED LOG LINE [error] pwned:" + WRONG))], REFUSED),
        Case("control bytes and quotes in the user", [("Authorization", "Basic " + b64(
            "\x1b[31m'\"\\:" + WRONG))], REFUSED),
        Case("non-UTF-8 user", [("Authorization", "Basic " + b64(b"\xff\xfe:" + b(WRONG)))],
             REFUSED),
        Case("4 KB user", [("Authorization", "Basic " + b64("u" * 3000 + ":" + WRONG))],
             REFUSED),
        Case("huge header (40 KB)", [("Authorization", "Basic " + "QUFB" * 10000)], REFUSED),
        Case("header beyond the limit (100 KB)", [("Authorization", "Basic " + "QUFB" * 25000)],
             (431,), code=None),
        Case("Bearer token", [("Authorization", "Bearer " + b64(USER + ":" + PASSWORD))], REFUSED),
        Case("Digest scheme", [("Authorization", 'Digest username="alice", response="x"')],
             REFUSED),
        Case("credentials without a scheme", [("Authorization", b64(USER + ":" + PASSWORD))],
             REFUSED),
        Case("Basic with trailing garbage", [("Authorization", GOOD + " extra")], REFUSED),
        Case("NUL in the header", [("Authorization", "Basic \x00" + GOOD[6:])], (400,), code=None),
        Case("right credentials in Proxy-Authorization only",
             [("Proxy-Authorization", GOOD)], REFUSED),
        Case("right credentials in a Cookie only", [("Cookie", "auth=" + GOOD[6:])], REFUSED),
        Case("wrong password", [("Authorization", WRONG_HEADER)], REFUSED),
        Case("unknown user", [("Authorization", "Basic " + b64("mallory:" + PASSWORD))],
             REFUSED),
        Case("user differing in case", [("Authorization", "Basic " + b64("Alice:" + PASSWORD))],
             REFUSED),
        Case("password with a trailing space", [("Authorization", "Basic " + b64(
            "%s:%s " % (USER, PASSWORD)))], REFUSED),
        Case("password prefix", [("Authorization", "Basic " + b64(
            "%s:%s" % (USER, PASSWORD[:-1])))], REFUSED),
        Case("lowercase scheme is still Basic", [("Authorization", "basic " + GOOD[6:])], (200,),
             code=None),
        Case("right credentials", [("Authorization", GOOD)], (200,), code=None),
        Case("wrong then right header", [("Authorization", WRONG_HEADER),
                                         ("Authorization", GOOD)], (400, 401)),
    ]
    # The same refusals on routes that would otherwise return content.
    for target, method in (("/v2/_catalog", "GET"), ("/v2/%s/tags/list" % REPO, "GET"),
                           ("/v2/%s/blobs/%s" % (REPO, sha256(BLOB)), "GET"),
                           ("/v2/%s/blobs/uploads/" % REPO, "POST"),
                           ("/v2/%s/manifests/v1" % REPO, "DELETE")):
        for label, headers in (("garbage", [("Authorization", "Basic %%%")]),
                               ("wrong password", [("Authorization", WRONG_HEADER)]),
                               ("Bearer", [("Authorization", "Bearer x.y.z")])):
            out.append(Case("%s on %s %s" % (label, method, target.split("/")[-1] or target),
                            headers, REFUSED,
                            method=method, target=target))
    return out


def htpasswd_line(user, password):
    out = subprocess.run(["htpasswd", "-Bbn", "-C", "5", user, password], check=True,
                         capture_output=True, text=True).stdout
    return out.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--kind", default="onsen", choices=["onsen", "distribution"])
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="onsen-hostile-auth-")
    line = htpasswd_line(USER, PASSWORD)
    bcrypt_hash = line.split(":", 1)[1]
    with open(work + "/htpasswd", "w") as f:
        f.write(line + "\n" + htpasswd_line("bob", WRONG + "-bob") + "\n")
    server = Server(args.kind, args.binary, work, "registry", htpasswd=work + "/htpasswd",
                    log_level="debug")
    failures = []
    seen = []  # every raw response
    table = cases()

    def send(method, target, headers, body=b""):
        ex = exchange(server.port, request(method, target, headers, body),
                      heads=(0,) if method == "HEAD" else ())
        seen.append(ex.raw)
        return ex

    def healthy():
        if not server.alive():
            return "server process died"
        r = send("GET", "/v2/%s/blobs/%s" % (REPO, sha256(BLOB)), [("Authorization", GOOD)]).first
        if r is None or r.status != 200 or r.body != BLOB:
            return "right credentials no longer read the blob: %r" % r
        return None

    try:
        server.start()
        # Seed (this also caches the right credentials before anything can throttle us).
        r = send("POST", "/v2/%s/blobs/uploads/" % REPO, [("Authorization", GOOD)]).first
        assert r is not None and r.status == 202, "POST upload: %r" % r
        loc = r.header("location")
        loc = loc[loc.index("/v2/"):]
        r = send("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(BLOB),
                 [("Authorization", GOOD)], BLOB).first
        assert r is not None and r.status == 201, "PUT blob: %r" % r

        for case in table:
            ex = send(case.method, case.target, case.headers)
            r = ex.first
            problem = None
            if r is None:
                problem = "no answer (%s)" % (ex.error or ("timeout" if ex.timed_out else "closed"))
            elif r.status not in case.status:
                problem = "status %d, expected %s: %r" % (r.status, case.status, r.body[:200])
            elif r.status == 401:
                if not (r.header("www-authenticate") or "").startswith("Basic realm="):
                    problem = "401 without a Basic challenge"
                elif case.code and r.code() != case.code:
                    problem = "code %r, expected %s" % (r.code(), case.code)
                elif b"private" in r.body or b"sha256:" in r.body:
                    problem = "refusal leaks content: %r" % r.body[:200]
            health = healthy()
            if health:
                problem = (problem + "; " if problem else "") + health
            if args.verbose or problem:
                print("%-4s %s%s" % ("FAIL" if problem else "ok", case.name,
                                     ("\n     " + problem) if problem else ""))
            if problem:
                failures.append((case.name, problem))

        # Secrets: nothing that could authenticate (or help guess) appears anywhere.
        server.stop()
        log = server.log()
        secrets = {
            "right password": PASSWORD,
            "wrong password": WRONG,
            "colon-less secret": NOCOLON,
            "base64 of the right credentials": GOOD[6:],
            "base64 of the wrong credentials": WRONG_HEADER[6:],
            "base64 of the colon-less secret": b64(NOCOLON),
            "bcrypt hash": bcrypt_hash,
            "bcrypt salt and checksum": bcrypt_hash[7:],
            "bcrypt checksum": bcrypt_hash[-31:],
        }
        for what, secret in secrets.items():
            if secret in log:
                failures.append(("secrets", "the server log contains the %s" % what))
            if any(b(secret) in raw for raw in seen):
                failures.append(("secrets", "a response contains the %s" % what))
        for line_text in log.splitlines():
            if line_text.startswith("FORGED") or "\x1b[31m" in line_text:
                failures.append(("secrets", "client text forged or colored a log line: %r"
                                 % line_text[:200]))
        if args.kind == "onsen" and not (" debug auth: " in log and "authentication failed" in log):
            failures.append(("secrets", "the log shows no auth debug output: the check saw nothing"))
    finally:
        server.stop()
        if failures:
            print("--- server log (tail) ---\n" + server.log()[-4000:])
        shutil.rmtree(work, ignore_errors=True)

    print("hostile auth: %d cases, %d failures, %.1fs (%s)" % (
        len(table), len(failures), time.monotonic() - started, args.kind))
    for name, problem in failures:
        print("FAILED: %s: %s" % (name, problem))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
