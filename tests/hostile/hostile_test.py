#!/usr/bin/env python3
"""Hostile input suite: malformed and malicious requests against a real server, table-driven.

    hostile_test.py BINARY [--kind onsen|distribution] [--only SUBSTRING] [--list] [-v]

Starts BINARY (`onsen serve`, or with --kind distribution `docker-registry serve`, to see what
registry:2 answers) on a loopback port, seeds one repository with a known blob and manifest, then
plays every case of CASES: each sends raw bytes on a fresh connection and states the status (and
the spec error code, where the spec has a body) it must get back. After each case the server must
still be healthy: GET /v2/ answers 200 and the known blob reads back byte for byte. At the end the
process must still be running, its log must show no crash or internal error, and it must stop
cleanly on SIGTERM. Prints one line per failure and a summary; exit status 0 when all passed.

The auth cases (garbage Authorization headers and the no-secret-in-logs check) live in
auth_hostile_test.py.
"""
import argparse
import json
import shutil
import socket
import sys
import tempfile
import time

from hostile_lib import HOST, Server, call, chunked, exchange, request, sha256, sha512

REPO = "hostile/base"
OTHER = "hostile/other"
BLOB = b"hostile known blob\n" * 200
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MiB = 1 << 20


def manifest_doc(layer_digest=None, **override):
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest or sha256(BLOB), "size": len(BLOB)}],
    }
    doc.update(override)
    return doc


def dumps(doc):
    return json.dumps(doc, separators=(",", ":")).encode()


MANIFEST = dumps(manifest_doc())


class UploadPath(str):
    """An upload URL path; appending "?k=v" to one that already has a query appends "&k=v"."""

    def __add__(self, other):
        if other.startswith("?") and "?" in self:
            other = "&" + other[1:]
        return UploadPath(str(self) + other)


class Ctx:
    """The server under test and the helpers cases use to build state."""

    def __init__(self, server):
        self.server = server
        self.port = server.port
        self.counter = 0

    def call(self, method, target, headers=(), body=b""):
        return call(self.port, method, target, headers, body)

    def fresh_repo(self):
        self.counter += 1
        return "hostile/case%d" % self.counter

    def new_upload(self, repo=REPO):
        r = self.call("POST", "/v2/%s/blobs/uploads/" % repo)
        assert r is not None and r.status == 202, "POST upload: %r" % r
        return r.header("docker-upload-uuid") or r.header("location").rsplit("/", 1)[-1].split("?")[0]

    def upload_path(self, repo=REPO):
        """A new upload's Location path (with Distribution's _state query, when comparing)."""
        r = self.call("POST", "/v2/%s/blobs/uploads/" % repo)
        assert r is not None and r.status == 202, "POST upload: %r" % r
        loc = r.header("location")
        return UploadPath(loc[loc.index("/v2/"):])

    def blob_status(self, repo, digest):
        r = self.call("HEAD", "/v2/%s/blobs/%s" % (repo, digest))
        return r.status if r else None

    def seed(self):
        for data in (BLOB, CONFIG):
            r = self.call("PUT", self.upload_path() + "?digest=" + sha256(data),
                          [("Content-Type", "application/octet-stream")], data)
            assert r is not None and r.status == 201, "seeding blob: %r" % r
        r = self.call("PUT", "/v2/%s/manifests/v1" % REPO, [("Content-Type", OCI_MANIFEST)],
                      MANIFEST)
        assert r is not None and r.status == 201, "seeding manifest: %r" % r
        self.other_upload = self.new_upload(OTHER)

    def healthy(self):
        """None when healthy, else what is wrong."""
        if not self.server.alive():
            return "server process died (exit status %s)" % self.server.proc.poll()
        r = self.call("GET", "/v2/")
        if r is None or r.status != 200:
            return "GET /v2/ -> %r" % r
        r = self.call("GET", "/v2/%s/blobs/%s" % (REPO, sha256(BLOB)))
        if r is None or r.status != 200 or r.body != BLOB:
            return "known blob unreadable: %r" % r
        return None


class Case:
    """name; send: bytes or ctx -> bytes (or a dict of exchange() arguments with "data");
    status: the expected status, a tuple of acceptable ones, None for "no answer, connection
    closed"; code: expected error code (a tuple of acceptable ones, or None not to check);
    check: ctx, Exchange -> None or a failure message, run after the answer."""

    def __init__(self, name, send, status, code=None, check=None, expect=1, heads=(),
                 timeout=10.0):
        self.name, self.send, self.status, self.code = name, send, status, code
        self.check, self.expect, self.heads, self.timeout = check, expect, heads, timeout


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def run_case(ctx, case):
    """None on success, else the failure message. The case's check runs whatever the answer
    (it may also release what the case holds, such as a stalled connection)."""
    problem = answer_problem(ctx, case)
    if case.check:
        checked = case.check(ctx, ctx.last_exchange)
        if checked:
            problem = (problem + "; " if problem else "") + checked
    return problem


def answer_problem(ctx, case):
    spec = case.send(ctx) if callable(case.send) else case.send
    args = spec if isinstance(spec, dict) else {"data": spec}
    args = dict(args)
    data = args.pop("data", b"")
    heads = args.pop("heads", case.heads)
    ex = exchange(ctx.port, data, expect=case.expect, heads=heads, timeout=case.timeout, **args)
    ctx.last_exchange = ex
    statuses = as_tuple(case.status)
    r = ex.first
    if ex.timed_out and r is None and None not in statuses:
        return "no answer within %.0fs (hang)" % case.timeout
    if args.get("abort"):
        pass  # nothing to read: the client went away
    elif r is None:
        if None not in statuses:
            return "connection closed without an answer (%s)" % (ex.error or "EOF")
    else:
        if r.status not in statuses:
            return "status %d, expected %s; body %r" % (r.status, statuses, r.body[:200])
        if case.code is not None and r.status >= 400 and not r.body == b"":
            if r.code() not in as_tuple(case.code):
                return "code %r, expected %s; body %r" % (r.code(), as_tuple(case.code),
                                                         r.body[:200])
        if r.status >= 500:
            return "server error %d: %r" % (r.status, r.body[:200])
    return None


# ---------------------------------------------------------------------------------------------
# Checks used by several cases


def blob_absent(repo, digest):
    def check(ctx, ex):
        time.sleep(0.2)  # let the server notice the disconnect and finish the request
        s = ctx.blob_status(repo, digest)
        return None if s == 404 else "blob %s is visible after a broken upload (HEAD -> %s)" % (
            digest[:20], s)
    return check


def body_is(expected):
    def check(ctx, ex):
        if ex.first is None or ex.first.body == expected:
            return None  # no answer at all is reported by the status check
        return "body differs: %d bytes, %r..." % (len(ex.first.body), ex.first.body[:60])
    return check


def all_statuses(*expected):
    """Pipelined answers: exactly these statuses, in order."""
    def check(ctx, ex):
        got = [r.status for r in ex.responses]
        return None if got == list(expected) else "pipelined statuses %s, expected %s" % (
            got, list(expected))
    return check


def closed_after(ctx, ex):
    return None if ex.closed else "connection left open after an unrecoverable request"


# ---------------------------------------------------------------------------------------------
# The cases

GET, HEAD, PUT, POST, PATCH, DELETE = "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"
D = sha256(BLOB)
MD = sha256(MANIFEST)
HEX = D.split(":")[1]


def simple(method, target, headers=(), body=b"", **kw):
    return request(method, target, headers, body, **kw)


def chunked_patch(body):
    """A case's request: PATCH of the context's upload with a chunked body sent as given."""
    return lambda c: simple(PATCH, c.upload_path(), [("Transfer-Encoding", "chunked")], body)


def names_and_paths():
    cases = []
    traversal_names = [
        ("dotdot name", "/v2/../../etc/passwd/manifests/latest", (400, 404), ("NAME_INVALID", "NAME_UNKNOWN")),
        ("dotdot component", "/v2/hostile/../base/manifests/v1", 400, "NAME_INVALID"),
        ("dot component", "/v2/hostile/./base/manifests/v1", 400, "NAME_INVALID"),
        ("encoded dotdot name", "/v2/%2e%2e/%2e%2e/etc/manifests/latest", (400, 404), ("NAME_INVALID", "NAME_UNKNOWN")),
        ("encoded slash name", "/v2/hostile%2fbase/manifests/v1", (400, 404), ("NAME_INVALID", "NAME_UNKNOWN")),
        ("absolute name", "/v2//etc/passwd/manifests/latest", (400, 404), ("NAME_INVALID", "NAME_UNKNOWN")),
        ("backslash name", "/v2/hostile\\..\\base/manifests/v1", 400, "NAME_INVALID"),
        ("uppercase name", "/v2/Hostile/Base/manifests/v1", 400, "NAME_INVALID"),
        ("trailing separator name", "/v2/hostile-/manifests/v1", 400, "NAME_INVALID"),
        ("overlong name", "/v2/%s/manifests/v1" % "/".join(["a" * 60] * 5), 400, "NAME_INVALID"),
        ("overlong name on tags", "/v2/%s/tags/list" % ("a" * 300), 400, "NAME_INVALID"),
        ("dotdot name on blob", "/v2/../blobs/" + D, (400, 404), ("NAME_INVALID", "NAME_UNKNOWN")),
        ("dotdot name on upload start", "/v2/hostile/../../x/blobs/uploads/", 400, "NAME_INVALID"),
        ("underscore name component", "/v2/_uploads/blobs/" + D, 400, "NAME_INVALID"),
        ("name with _layers", "/v2/hostile/_layers/blobs/" + D, 400, "NAME_INVALID"),
    ]
    for label, target, status, code in traversal_names:
        method = POST if target.endswith("/uploads/") else GET
        cases.append(Case("name: " + label, simple(method, target), status, code))
    shapes = [
        ("empty digest", GET, "/v2/%s/blobs/" % REPO, 400, "DIGEST_INVALID"),
        ("empty reference on GET", GET, "/v2/%s/manifests/" % REPO, (400, 404),
         ("TAG_INVALID", "MANIFEST_UNKNOWN")),
        ("empty reference on PUT", PUT, "/v2/%s/manifests/" % REPO, 400,
         ("TAG_INVALID", "MANIFEST_INVALID")),
        ("catalog with a trailing slash", GET, "/v2/_catalog/", 404, "NAME_UNKNOWN"),
        ("tags list with a trailing slash", GET, "/v2/%s/tags/list/" % REPO, 404, None),
        ("double slash before v2", GET, "//v2/", 404, None),
        ("v2 after a dotdot", GET, "/v2/../v2/", 404, None),
        ("no name before blobs", GET, "/v2/blobs/" + D, 404, None),
        ("only slashes as the name", GET, "/v2////blobs/" + D, 400, "NAME_INVALID"),
    ]
    for label, method, target, status, code in shapes:
        cases.append(Case("path: " + label, simple(method, target), status, code))
    cases.append(Case("name: NUL byte", simple(GET, b"/v2/hostile\x00/manifests/v1"), 400,
                      check=closed_after))
    cases.append(Case("name: 255 characters is valid (unknown)",
                      simple(GET, "/v2/%s/manifests/v1" % ("a" * 255)), 404,
                      ("NAME_UNKNOWN", "MANIFEST_UNKNOWN")))
    cases.append(Case("name: invalid on manifest PUT",
                      simple(PUT, "/v2/a..b/manifests/v1", [("Content-Type", OCI_MANIFEST)],
                             MANIFEST), 400, "NAME_INVALID"))

    # Tags.
    cases += [
        Case("tag: dotdot on GET", simple(GET, "/v2/%s/manifests/.." % REPO), (400, 404),
             ("TAG_INVALID", "MANIFEST_UNKNOWN")),
        Case("tag: dotdot on PUT", simple(PUT, "/v2/%s/manifests/.." % REPO,
                                          [("Content-Type", OCI_MANIFEST)], MANIFEST), 400,
             "TAG_INVALID"),
        Case("tag: leading dot on PUT", simple(PUT, "/v2/%s/manifests/.hidden" % REPO,
                                               [("Content-Type", OCI_MANIFEST)], MANIFEST), 400,
             "TAG_INVALID"),
        Case("tag: encoded dotdot on PUT", simple(PUT, "/v2/%s/manifests/%%2e%%2e" % REPO,
                                                  [("Content-Type", OCI_MANIFEST)], MANIFEST),
             (400, 404), ("TAG_INVALID", "NAME_UNKNOWN", "MANIFEST_INVALID")),
        Case("tag: backslash on PUT", simple(PUT, "/v2/%s/manifests/a\\b" % REPO,
                                             [("Content-Type", OCI_MANIFEST)], MANIFEST), 400,
             "TAG_INVALID"),
        Case("tag: 129 characters on PUT", simple(PUT, "/v2/%s/manifests/%s" % (REPO, "t" * 129),
                                                  [("Content-Type", OCI_MANIFEST)], MANIFEST),
             400, "TAG_INVALID"),
        Case("tag: 128 characters on PUT is valid",
             simple(PUT, "/v2/%s/manifests/%s" % (REPO, "t" * 128),
                    [("Content-Type", OCI_MANIFEST)], MANIFEST), 201),
        Case("tag: NUL byte", simple(GET, b"/v2/hostile/base/manifests/v1\x00"), 400),
        Case("tag: unicode on PUT", simple(PUT, b"/v2/hostile/base/manifests/t\xc3\xa9",
                                           [("Content-Type", OCI_MANIFEST)], MANIFEST), 400,
             "TAG_INVALID"),
        Case("tag: DELETE dotdot", simple(DELETE, "/v2/%s/manifests/.." % REPO), (400, 404),
             ("TAG_INVALID", "MANIFEST_UNKNOWN")),
    ]

    # Digests.
    bad_digests = [
        ("traversal", "sha256:../../../../etc/passwd"),
        ("short hex", "sha256:abc"),
        ("uppercase hex", "sha256:" + HEX.upper()),
        ("unknown algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e"),
        ("sha512 with 64 hex", "sha512:" + HEX),
        ("empty hex", "sha256:"),
        ("no algorithm", ":" + HEX),
        ("no colon", HEX),
        ("long hex", "sha256:" + HEX + "00"),
        ("backslash", "sha256:..\\..\\" + HEX[:58]),
    ]
    for label, dg in bad_digests:
        cases.append(Case("digest: %s on blob GET" % label,
                          simple(GET, "/v2/%s/blobs/%s" % (REPO, dg)), (400, 404),
                          ("DIGEST_INVALID", "BLOB_UNKNOWN", "NAME_UNKNOWN")))
    cases += [
        # A digest with '/' changes the route's shape: no route, or an invalid name.
        Case("digest: traversal on manifest GET",
             simple(GET, "/v2/%s/manifests/sha256:../../x" % REPO), (400, 404),
             ("DIGEST_INVALID", "NAME_UNKNOWN", "NAME_INVALID")),
        Case("digest: unknown algorithm on manifest PUT",
             simple(PUT, "/v2/%s/manifests/md5:d41d8cd98f00b204e9800998ecf8427e" % REPO,
                    [("Content-Type", OCI_MANIFEST)], MANIFEST), 400, "DIGEST_INVALID"),
        Case("digest: wrong digest reference on manifest PUT",
             simple(PUT, "/v2/%s/manifests/%s" % (REPO, sha256(b"other")),
                    [("Content-Type", OCI_MANIFEST)], MANIFEST), 400, "DIGEST_INVALID"),
        Case("digest: encoded on blob GET", simple(GET, "/v2/%s/blobs/sha256%%3a%s" % (REPO, HEX)),
             (400, 404), ("DIGEST_INVALID", "BLOB_UNKNOWN", "NAME_UNKNOWN")),
        Case("digest: traversal on blob DELETE",
             simple(DELETE, "/v2/%s/blobs/sha256:../../%s" % (REPO, HEX[:10])), (400, 404),
             ("DIGEST_INVALID", "NAME_UNKNOWN", "NAME_INVALID")),
        Case("digest: traversal on referrers",
             simple(GET, "/v2/%s/referrers/sha256:..%%2f.." % REPO), (400, 404),
             ("DIGEST_INVALID", "NAME_UNKNOWN")),
        Case("digest: bad on referrers", simple(GET, "/v2/%s/referrers/sha256:zz" % REPO), 400,
             "DIGEST_INVALID"),
        Case("digest: traversal in upload PUT query",
             lambda c: simple(PUT, c.upload_path() + "?digest=sha256:../../../etc/passwd"), 400,
             "DIGEST_INVALID"),
        Case("digest: unknown algorithm in upload PUT query",
             lambda c: simple(PUT, c.upload_path() + "?digest=md5:d41d8cd98f00b204e9800998ecf8427e",
                              body=b"x"), 400, "DIGEST_INVALID"),
        Case("digest: missing in upload PUT",
             lambda c: simple(PUT, c.upload_path(), body=b"x"), 400, "DIGEST_INVALID"),
        Case("digest: empty in upload PUT", lambda c: simple(PUT, c.upload_path() + "?digest="),
             400, "DIGEST_INVALID"),
        Case("digest: garbage in monolithic POST",
             simple(POST, "/v2/%s/blobs/uploads/?digest=garbage" % REPO, body=b"x"), 400,
             "DIGEST_INVALID"),
        Case("digest: mismatch in monolithic POST (no blob appears)",
             simple(POST, "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(b"not this")),
                    body=b"this"), 400, "DIGEST_INVALID",
             check=blob_absent(REPO, sha256(b"not this"))),
        Case("digest: mismatch on upload PUT removes the upload",
             lambda c: simple(PUT, c.upload_path() + "?digest=" + sha256(b"y"), body=b"x"), 400,
             "DIGEST_INVALID", check=blob_absent(REPO, sha256(b"y"))),
        Case("digest: sha512 upload is accepted",
             lambda c: simple(PUT, c.upload_path() + "?digest=" + sha512(b"sha512 blob"),
                              body=b"sha512 blob"), 201),
        Case("digest: repeated parameter, first one wrong",
             lambda c: simple(PUT, c.upload_path() + "?digest=%s&digest=%s" % (
                 sha256(b"wrong"), sha256(b"rep")), body=b"rep"), 400, "DIGEST_INVALID",
             check=blob_absent(REPO, sha256(b"rep"))),
        Case("digest: percent-encoded colon in the query is decoded",
             lambda c: simple(PUT, c.upload_path() + "?digest=" + sha256(b"enc").replace(
                 ":", "%3A"), body=b"enc"), 201),
        Case("digest: NUL in the query", lambda c: simple(PUT, c.upload_path() + "?digest=sha256"
                                                          "%00" + HEX, body=b"x"), 400,
             "DIGEST_INVALID"),
        Case("digest: empty blob with a Range", lambda c: empty_blob_range(c), 416),
        Case("mount: traversal in from falls back to an upload",
             simple(POST, "/v2/%s/blobs/uploads/?mount=%s&from=../../hostile/base" % (OTHER, D)),
             202),
        Case("mount: garbage digest falls back to an upload",
             simple(POST, "/v2/%s/blobs/uploads/?mount=sha256:../../x&from=%s" % (OTHER, REPO)),
             202),
    ]

    # Upload ids.
    cases += [
        Case("upload id: dotdot", simple(GET, "/v2/%s/blobs/uploads/.." % REPO), (400, 404),
             ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID")),
        Case("upload id: encoded traversal",
             simple(PATCH, "/v2/%s/blobs/uploads/..%%2f..%%2fdata" % REPO, body=b"x"), (400, 404),
             ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "NAME_UNKNOWN")),
        Case("upload id: not a uuid", simple(PATCH, "/v2/%s/blobs/uploads/abc" % REPO, body=b"x"),
             404, "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: uppercase of a real one",
             lambda c: simple(GET, "/v2/%s/blobs/uploads/%s" % (REPO, c.new_upload().upper())), 404,
             "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: NUL byte", simple(GET, b"/v2/hostile/base/blobs/uploads/\x00"), 400),
        Case("upload id: startedat file name",
             simple(PUT, "/v2/%s/blobs/uploads/startedat?digest=%s" % (REPO, D)), 404,
             "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: other repository's on GET",
             lambda c: simple(GET, "/v2/%s/blobs/uploads/%s" % (REPO, c.other_upload)), 404,
             "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: other repository's on PATCH",
             lambda c: simple(PATCH, "/v2/%s/blobs/uploads/%s" % (REPO, c.other_upload),
                              body=b"x"), 404, "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: other repository's on PUT",
             lambda c: simple(PUT, "/v2/%s/blobs/uploads/%s?digest=%s" % (
                 REPO, c.other_upload, sha256(b"x")), body=b"x"), 404, "BLOB_UPLOAD_UNKNOWN",
             check=blob_absent(REPO, sha256(b"x"))),
        Case("upload id: other repository's on DELETE",
             lambda c: simple(DELETE, "/v2/%s/blobs/uploads/%s" % (REPO, c.other_upload)), 404,
             "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: other repository's upload survived",
             lambda c: simple(GET, "/v2/%s/blobs/uploads/%s" % (OTHER, c.other_upload)), 204),
        Case("upload id: in use by a stalled writer", stalled_writer, (400, 416),
             ("BLOB_UPLOAD_INVALID",), check=stalled_writer_released),
        Case("upload id: DELETE while a PUT streams into it", cancel_during_put, 400,
             "BLOB_UPLOAD_INVALID", check=racing_put_completes),
        Case("upload id: finished twice",
             lambda c: finished_twice(c), 404, "BLOB_UPLOAD_UNKNOWN"),
        Case("upload id: cancelled then used",
             lambda c: cancelled_then_used(c), 404, "BLOB_UPLOAD_UNKNOWN"),
    ]
    return cases


def empty_blob_range(ctx):
    r = ctx.call(PUT, ctx.upload_path() + "?digest=" + sha256(b""))
    assert r is not None and r.status == 201, r
    return simple(GET, "/v2/%s/blobs/%s" % (REPO, sha256(b"")), [("Range", "bytes=0-0")])


def stalled_writer(ctx):
    """Starts a PATCH that sends half its body and stalls (the socket stays open), then asks
    for the same upload from another connection."""
    path = ctx.upload_path()
    ctx.stalled = socket.create_connection((HOST, ctx.port), timeout=5)
    ctx.stalled.sendall(simple(PATCH, path, [("Content-Length", "100")], b"0123456789"))
    ctx.stalled_path = path
    time.sleep(0.2)
    return simple(PATCH, path, body=b"second writer")


def stalled_writer_released(ctx, ex):
    ctx.stalled.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = ctx.call(GET, ctx.stalled_path)
        if r is not None and r.status == 204:
            r = ctx.call(PATCH, ctx.stalled_path, body=b"x")
            if r is not None and r.status == 202:
                return None
        time.sleep(0.1)
    return "the upload stays locked after the stalled writer went away: %r" % r


def cancel_during_put(ctx):
    """Starts a final PUT that sends half its body, then DELETEs the upload from another
    connection (the spec is silent; the answer below is the same as for a second writer)."""
    path = ctx.upload_path()
    data = b"cancelled while streaming"
    ctx.racing = socket.create_connection((HOST, ctx.port), timeout=10)
    ctx.racing.sendall(simple(PUT, path + "?digest=" + sha256(data),
                              [("Content-Length", str(len(data)))]) + data[:10])
    ctx.racing_rest = data[10:]
    ctx.racing_digest = sha256(data)
    time.sleep(0.2)
    return simple(DELETE, path)


def racing_put_completes(ctx, ex):
    """The PUT that was streaming when the DELETE came finishes properly (201, the blob readable)
    instead of failing late with a 500 on files removed under it."""
    sock = ctx.racing
    try:
        sock.sendall(ctx.racing_rest)
        sock.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        sock.close()
    status = got.split(b" ", 2)[1] if got.startswith(b"HTTP/") else b"none"
    if status != b"201":
        return "the streaming PUT got %r after a concurrent DELETE" % got[:200]
    return None if ctx.blob_status(REPO, ctx.racing_digest) == 200 else "blob missing"


def finished_twice(ctx):
    path = ctx.upload_path()
    r = ctx.call(PUT, path + "?digest=" + sha256(b"twice"), body=b"twice")
    assert r is not None and r.status == 201, r
    return simple(PUT, path + "?digest=" + sha256(b"twice"), body=b"twice")


def cancelled_then_used(ctx):
    path = ctx.upload_path()
    r = ctx.call(DELETE, path)
    assert r is not None and r.status == 204, r
    return simple(PATCH, path, body=b"late")


def sizes_and_bodies():
    big = b"x" * (4 * MiB + 1)
    cases = [
        Case("size: request header over the limit",
             simple(GET, "/v2/", [("X-Filler", "a" * (80 * 1024))]), 431, check=closed_after),
        Case("size: thousands of headers", simple(GET, "/v2/", [("X-H%d" % i, "v")
                                                                for i in range(8000)]), 431),
        Case("size: 100 KB request target", simple(GET, "/v2/" + "a/" * 50000 + "tags/list"),
             (414, 431)),
        Case("size: 10 KB method", simple("G" * 10000, "/v2/"), (400, 405, 431)),
        Case("size: manifest over 4 MiB (Content-Length)",
             simple(PUT, "/v2/%s/manifests/big" % REPO, [("Content-Type", OCI_MANIFEST)], big),
             413, "MANIFEST_INVALID"),
        Case("size: manifest over 4 MiB (chunked)",
             simple(PUT, "/v2/%s/manifests/big" % REPO,
                    [("Content-Type", OCI_MANIFEST), ("Transfer-Encoding", "chunked")],
                    chunked(*[big[i:i + MiB] for i in range(0, len(big), MiB)])),
             413, "MANIFEST_INVALID"),
        Case("size: manifest declared 1 TB, nothing sent",
             {"data": simple(PUT, "/v2/%s/manifests/big" % REPO,
                             [("Content-Type", OCI_MANIFEST), ("Content-Length", str(1 << 40))]),
              "half_close": True}, 413, "MANIFEST_INVALID"),
        Case("size: valid manifest padded with 4 MiB of spaces",
             simple(PUT, "/v2/%s/manifests/padded" % REPO, [("Content-Type", OCI_MANIFEST)],
                    MANIFEST + b" " * (4 * MiB)), 413, "MANIFEST_INVALID"),
        Case("size: manifest of exactly 4 MiB is accepted",
             simple(PUT, "/v2/%s/manifests/exact" % REPO, [("Content-Type", OCI_MANIFEST)],
                    MANIFEST + b" " * (4 * MiB - len(MANIFEST))), 201),
        Case("size: 10k layers (linear cost: a stat per layer)",
             simple(PUT, "/v2/%s/manifests/many" % REPO, [("Content-Type", OCI_MANIFEST)],
                    dumps(manifest_doc(layers=[manifest_doc()["layers"][0]] * 10000))), 201,
             timeout=60),
        Case("size: 2 MiB body on GET /v2/", simple(GET, "/v2/", body=b"z" * (2 * MiB)), 200),
        Case("size: Content-Length beyond 2^64", simple(PATCH, "/v2/%s/blobs/uploads/x" % REPO,
                                                        [("Content-Length",
                                                          "18446744073709551616")]), 400,
             check=closed_after),
        Case("size: negative Content-Length", simple(GET, "/v2/", [("Content-Length", "-1")]), 400),
        Case("size: Content-Length not a number",
             simple(GET, "/v2/", [("Content-Length", "12abc")]), 400),
        Case("size: Content-Length with plus sign",
             simple(GET, "/v2/", [("Content-Length", "+0")]), 400),
        Case("size: empty Content-Length", simple(GET, "/v2/", [("Content-Length", "")]), 400),
    ]
    return cases


def manifests():
    def put(body, ct=OCI_MANIFEST, tag="bad"):
        headers = [("Content-Type", ct)] if ct is not None else []
        return simple(PUT, "/v2/%s/manifests/%s" % (REPO, tag), headers, body)

    invalid = [
        ("empty body", b""),
        ("not JSON", b"{"),
        ("truncated JSON", MANIFEST[:-5]),
        ("100k open brackets", b"[" * 100000),
        ("100k nested objects", b'{"a":' * 100000 + b"1" + b"}" * 100000),
        ("deep nesting inside a string is fine but the rest is not JSON", b'{"a":"' + b"[" * 1000),
        ("JSON null", b"null"),
        ("JSON array", b"[]"),
        ("JSON string", b'"manifest"'),
        ("JSON number", b"2"),
        ("invalid UTF-8", MANIFEST.replace(b"amd64", b"\xff\xfe")[:-1] + b',"x":"\xff"}'),
        ("NUL inside", MANIFEST[:10] + b"\x00" + MANIFEST[10:]),
        ("schemaVersion as string", dumps(manifest_doc(schemaVersion="2"))),
        ("schemaVersion 1", dumps(manifest_doc(schemaVersion=1))),
        ("schemaVersion 3", dumps(manifest_doc(schemaVersion=3))),
        ("mediaType as number", dumps(manifest_doc(mediaType=7))),
        ("layers as object", dumps(manifest_doc(layers={"a": 1}))),
        ("layers with a string", dumps(manifest_doc(layers=["sha256:" + HEX]))),
        ("config as array", dumps(manifest_doc(config=[]))),
        ("layer size negative", dumps(manifest_doc(layers=[{
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": D, "size": -1}]))),
        ("layer size as string", dumps(manifest_doc(layers=[{
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": D, "size": "1"}]))),
        ("layer size 1e400", dumps(manifest_doc()).replace(b'"size":%d}]' % len(BLOB),
                                                           b'"size":1e400}]')),
        ("layer size float", dumps(manifest_doc()).replace(b'"size":%d}]' % len(BLOB),
                                                           b'"size":1.5}]')),
        ("layer digest traversal", dumps(manifest_doc(layer_digest="sha256:../../../etc/passwd"))),
        ("layer digest unknown algorithm", dumps(manifest_doc(layer_digest="md5:abcd"))),
        ("layer digest as number", dumps(manifest_doc(layer_digest=5))),
        ("layer without mediaType", dumps(manifest_doc(layers=[{"digest": D,
                                                                 "size": len(BLOB)}]))),
        ("annotations with a number value", dumps(manifest_doc(annotations={"a": 1}))),
        ("subject as string", dumps(manifest_doc(subject="sha256:" + HEX))),
        ("index manifests as object", dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                             "manifests": {}})),
    ]
    cases = []
    for label, body in invalid:
        ct = OCI_INDEX if b"manifests" in body[:60] and b"index" in body else OCI_MANIFEST
        cases.append(Case("manifest: " + label, put(body, ct), 400,
                          ("MANIFEST_INVALID", "DIGEST_INVALID"),
                          check=tag_absent("bad")))
    cases += [
        Case("manifest: layer blob unknown", put(dumps(manifest_doc(layer_digest=sha256(b"nope")))),
             400, "MANIFEST_BLOB_UNKNOWN"),
        Case("manifest: index child unknown",
             put(dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
                 "mediaType": OCI_MANIFEST, "digest": sha256(b"nope"), "size": 4}]}), OCI_INDEX),
             400, ("MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN")),
        Case("content-type: text/plain for an OCI manifest",
             put(MANIFEST, "text/plain", tag="ct1"), (201, 400), "MANIFEST_INVALID"),
        Case("content-type: index type for an image manifest",
             put(MANIFEST, OCI_INDEX, tag="ct2"), 400, "MANIFEST_INVALID"),
        Case("content-type: garbage parameters", put(MANIFEST, OCI_MANIFEST + ";;;=\"x", tag="ct3"),
             (201, 400), "MANIFEST_INVALID"),
        Case("content-type: control byte", put(MANIFEST, "application/\x01json", tag="ct4"), 400),
        Case("content-type: 4 KB type", put(MANIFEST, "application/" + "x" * 4000, tag="ct5"),
             400, "MANIFEST_INVALID"),
        Case("content-type: schema1 signed", put(MANIFEST,
                                                 "application/vnd.docker.distribution.manifest."
                                                 "v1+prettyjws", tag="ct6"), 400,
             "MANIFEST_INVALID"),
        Case("content-type: PATCH with JSON type is still bytes",
             lambda c: simple(PATCH, c.upload_path(), [("Content-Type", "application/json")],
                              b"{}"), 202),
    ]
    return cases


def tag_absent(tag):
    def check(ctx, ex):
        r = ctx.call(GET, "/v2/%s/manifests/%s" % (REPO, tag))
        return None if r is not None and r.status == 404 else "tag %s exists after a refused PUT: %r" % (tag, r)
    return check


def ranges():
    def patch_after(ctx, first, range_header, body):
        path = ctx.upload_path()
        if first:
            r = ctx.call(PATCH, path, [("Content-Range", "0-%d" % (len(first) - 1))], first)
            assert r is not None and r.status == 202, r
        return simple(PATCH, path, [("Content-Range", range_header)], body)

    def chunked_patch_after(ctx, first, range_header, *pieces):
        # No Content-Length: the range's length can only be checked at the body's end, and a body
        # that disagrees must leave the upload as it was.
        path = ctx.upload_path()
        r = ctx.call(PATCH, path, [("Content-Range", "0-%d" % (len(first) - 1))], first)
        assert r is not None and r.status == 202, r
        return simple(PATCH, path, [("Content-Range", range_header),
                                    ("Transfer-Encoding", "chunked")], chunked(*pieces))

    def upload_size_is(n):
        def check(ctx, ex):
            loc = ex.first.header("location") if ex.first else None
            if not loc:
                return "416 without Location"
            rng = ex.first.header("range")
            want = "0-%d" % (n - 1 if n else 0)
            return None if rng == want else "Range after a refused chunk %r, expected %r" % (rng, want)
        return check

    cases = [
        Case("content-range: garbage", lambda c: patch_after(c, b"", "garbage", b"abc"), 416,
             check=upload_size_is(0)),
        Case("content-range: not starting at 0", lambda c: patch_after(c, b"", "5-7", b"abc"), 416,
             check=upload_size_is(0)),
        Case("content-range: overlapping the previous chunk",
             lambda c: patch_after(c, b"0123456789", "5-14", b"abcdefghij"), 416,
             check=upload_size_is(10)),
        Case("content-range: repeating the previous chunk",
             lambda c: patch_after(c, b"0123456789", "0-9", b"0123456789"), 416,
             check=upload_size_is(10)),
        Case("content-range: gap after the previous chunk",
             lambda c: patch_after(c, b"0123456789", "20-22", b"abc"), 416,
             check=upload_size_is(10)),
        Case("content-range: reversed", lambda c: patch_after(c, b"", "7-5", b"abc"), 416),
        Case("content-range: length disagrees with Content-Length",
             lambda c: patch_after(c, b"", "0-99", b"abc"), 416),
        Case("content-range: chunked body shorter than the range",
             lambda c: chunked_patch_after(c, b"0123456789", "10-29", b"abcde", b"fghij"), 416,
             code="BLOB_UPLOAD_INVALID", check=upload_size_is(10)),
        Case("content-range: chunked body longer than the range",
             lambda c: chunked_patch_after(c, b"0123456789", "10-14", b"abcde", b"fghij"), 416,
             code="BLOB_UPLOAD_INVALID", check=upload_size_is(10)),
        Case("content-range: huge end", lambda c: patch_after(c, b"", "0-18446744073709551615",
                                                              b"abc"), 416),
        Case("content-range: overflowing number",
             lambda c: patch_after(c, b"", "0-99999999999999999999999", b"abc"), 416),
        Case("content-range: negative", lambda c: patch_after(c, b"", "-5", b"abc"), 416),
        Case("content-range: on final PUT overlapping",
             lambda c: final_put_overlapping(c), 416),
        Case("range: beyond the blob", simple(GET, "/v2/%s/blobs/%s" % (REPO, D),
                                              [("Range", "bytes=%d-" % (len(BLOB) + 10))]), 416),
        Case("range: garbage is ignored", simple(GET, "/v2/%s/blobs/%s" % (REPO, D),
                                                 [("Range", "bytes=abc")]), 200),
        Case("range: reversed is ignored", simple(GET, "/v2/%s/blobs/%s" % (REPO, D),
                                                  [("Range", "bytes=9-2")]), (200, 416)),
        Case("range: overflowing number", simple(GET, "/v2/%s/blobs/%s" % (REPO, D),
                                                 [("Range", "bytes=0-99999999999999999999999")]),
             (200, 206, 416)),
        Case("range: many ranges", simple(GET, "/v2/%s/blobs/%s" % (REPO, D),
                                          [("Range", "bytes=" + ",".join(["0-1"] * 2000))]),
             (200, 206, 416)),
        Case("range: suffix larger than the blob gives the whole blob",
             simple(GET, "/v2/%s/blobs/%s" % (REPO, D), [("Range", "bytes=-999999")]), 206,
             check=body_is(BLOB)),
    ]
    return cases


def final_put_overlapping(ctx):
    path = ctx.upload_path()
    r = ctx.call(PATCH, path, [("Content-Range", "0-4")], b"01234")
    assert r is not None and r.status == 202, r
    return simple(PUT, path + "?digest=" + sha256(b"01234567"), [("Content-Range", "3-5")], b"567")


def framing():
    """Content-Length / Transfer-Encoding abuse, truncated bodies, obs-fold, chunk syntax."""
    partial = b"partial upload bytes " * 50
    cases = [
        Case("smuggling: Content-Length and Transfer-Encoding",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO,
                    [("Content-Length", "4"), ("Transfer-Encoding", "chunked")],
                    b"0\r\n\r\nGET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
             check=closed_after, expect=2),
        Case("smuggling: Transfer-Encoding then Content-Length",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO,
                    [("Transfer-Encoding", "chunked"), ("Content-Length", "4")],
                    b"0\r\n\r\n"), 400, check=closed_after),
        Case("smuggling: duplicate Content-Length, different values",
             simple(PUT, "/v2/%s/manifests/dup" % REPO,
                    [("Content-Length", "5"), ("Content-Length", "%d" % len(MANIFEST))],
                    MANIFEST), 400, check=closed_after),
        Case("smuggling: duplicate Content-Length, same value",
             simple(GET, "/v2/", [("Content-Length", "0"), ("Content-Length", "0")]), (200, 400)),
        Case("smuggling: Content-Length list", simple(GET, "/v2/", [("Content-Length", "0, 0")]),
             (200, 400)),
        Case("smuggling: Transfer-Encoding gzip, chunked",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO, [("Transfer-Encoding", "gzip, chunked")],
                    b"0\r\n\r\n"), (400, 501)),
        Case("smuggling: Transfer-Encoding identity",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO, [("Transfer-Encoding", "identity")]),
             (400, 501)),
        Case("smuggling: Transfer-Encoding twice",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO, [("Transfer-Encoding", "chunked"),
                                                           ("Transfer-Encoding", "chunked")],
                    b"0\r\n\r\n"), (400, 501)),
        Case("smuggling: Transfer-Encoding with a tab-space value",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO, [("Transfer-Encoding", "\tchunked , x")],
                    b"0\r\n\r\n"), (400, 501)),
        Case("smuggling: Transfer-Encoding on HTTP/1.0",
             simple(POST, "/v2/%s/blobs/uploads/" % REPO, [("Transfer-Encoding", "chunked")],
                    b"0\r\n\r\n", version="HTTP/1.0"), (202, 400)),
        # RFC 9112 5.2: reject obs-fold, or replace it with spaces (Beast and Go do).
        Case("obs-fold header", simple(GET, "/v2/", [("X-Folded", "a\r\n b")]), (200, 400)),
        Case("obs-fold Content-Length", simple(PUT, "/v2/%s/manifests/fold" % REPO,
                                               [("Content-Type", OCI_MANIFEST),
                                                ("Content-Length", "\r\n %d" % len(MANIFEST))],
                                               MANIFEST), (201, 400)),
        Case("header: space before colon", request(GET, "/v2/", [("Host ", "x")], host=False), 400),
        Case("header: no colon", request(GET, "/v2/", [("NoColonHere", "")]).replace(
            b"NoColonHere: ", b"NoColonHere"), 400),
        Case("header: NUL in value", simple(GET, "/v2/", [("X-Nul", "a\x00b")]), 400),
        Case("header: bare CR in value", simple(GET, "/v2/", [("X-Cr", "a\rb")]), 400),
        Case("chunked: size not hex",
             chunked_patch(b"zz\r\nabc\r\n0\r\n\r\n"), (400, None)),
        Case("chunked: size overflows 64 bits",
             chunked_patch(b"10000000000000000\r\nabc\r\n0\r\n\r\n"), (400, None)),
        Case("chunked: data longer than the size",
             chunked_patch(b"2\r\nabcdef\r\n0\r\n\r\n"), (400, None)),
        Case("chunked: negative size",
             chunked_patch(b"-1\r\nabc\r\n0\r\n\r\n"), (400, None)),
        Case("chunked: huge chunk extension",
             chunked_patch(b"3;" + b"e" * 200000 + b"\r\nabc\r\n0\r\n\r\n"), (202, 400, None)),
        Case("chunked: bad trailer", chunked_patch(b"3\r\nabc\r\n0\r\nbad trailer\r\n\r\n"),
             (202, 400, None)),
        Case("chunked: bad framing on a manifest PUT",
             simple(PUT, "/v2/%s/manifests/chunky" % REPO,
                    [("Content-Type", OCI_MANIFEST), ("Transfer-Encoding", "chunked")],
                    b"5\r\n" + MANIFEST + b"\r\n0\r\n\r\n"), (400, None), "MANIFEST_INVALID",
             check=tag_absent("chunky")),
        Case("chunked: bad framing on a final PUT (no blob appears)",
             lambda c: simple(PUT, c.upload_path() + "?digest=" + sha256(b"abc"),
                              [("Transfer-Encoding", "chunked")], b"3\r\nabcXX0\r\n\r\n"),
             (400, None), check=blob_absent(REPO, sha256(b"abc"))),
        Case("truncated: monolithic POST, client closes mid-body (digest of what was sent)",
             {"data": simple(POST, "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(partial)),
                             [("Content-Length", str(len(partial) * 2))], partial),
              "half_close": True}, (400, None), check=blob_absent(REPO, sha256(partial))),
        Case("truncated: final PUT, client closes mid-body (digest of what was sent)",
             lambda c: {"data": simple(PUT, c.upload_path() + "?digest=" + sha256(partial + b"1"),
                                       [("Content-Length", str(len(partial) * 2))],
                                       partial + b"1"),
                        "half_close": True}, (400, None),
             check=blob_absent(REPO, sha256(partial + b"1"))),
        Case("truncated: final PUT, client resets mid-body",
             lambda c: {"data": simple(PUT, c.upload_path() + "?digest=" + sha256(partial + b"2"),
                                       [("Content-Length", str(len(partial) * 2))],
                                       partial + b"2"),
                        "abort": True}, None,
             check=blob_absent(REPO, sha256(partial + b"2"))),
        Case("truncated: chunked final PUT without the last chunk",
             lambda c: {"data": simple(PUT, c.upload_path() + "?digest=" + sha256(partial + b"3"),
                                       [("Transfer-Encoding", "chunked")],
                                       b"%x\r\n" % len(partial + b"3") + partial + b"3\r\n"),
                        "half_close": True}, (400, None),
             check=blob_absent(REPO, sha256(partial + b"3"))),
        Case("truncated: manifest PUT, client closes mid-body",
             {"data": simple(PUT, "/v2/%s/manifests/cut" % REPO,
                             [("Content-Type", OCI_MANIFEST),
                              ("Content-Length", str(len(MANIFEST) + 100))], MANIFEST),
              "half_close": True}, (400, None), check=tag_absent("cut")),
        Case("truncated: PATCH then the upload is still usable",
             lambda c: truncated_patch(c), (400, None), check=truncated_patch_check),
        Case("mismatch: body longer than Content-Length is the next request",
             simple(POST, "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(b"exact")),
                    [("Content-Length", "5")], b"exactGARBAGE / HTTP/1.1\r\n\r\n", close=False),
             201, expect=2, check=lambda c, ex: None if len(ex.responses) == 2 and
             ex.responses[1].status in (400, 404, 405) else "trailing garbage answered %r" % (
                 ex.responses[1:],)),
        Case("expect: 100-continue on an unknown upload gets the error, not 100",
             simple(PATCH, "/v2/%s/blobs/uploads/%s" % (REPO, "0" * 8 + "-0000-4000-8000-" +
                                                        "0" * 12),
                    [("Expect", "100-continue"), ("Content-Length", "1000000")]), 404,
             "BLOB_UPLOAD_UNKNOWN"),
        Case("slow: body dribbled in small pieces",
             lambda c: {"data": b"", "pieces": [simple(PUT, c.upload_path() + "?digest=" +
                                                       sha256(b"dribble"),
                                                       [("Content-Length", "7")])] +
                        [bytes([x]) for x in b"dribble"], "pause": 0.02}, 201),
    ]
    return cases


_truncated = {}


def truncated_patch(ctx):
    path = ctx.upload_path()
    _truncated["path"] = path
    return {"data": simple(PATCH, path, [("Content-Length", "100")], b"0123456789"),
            "half_close": True}


def truncated_patch_check(ctx, ex):
    time.sleep(0.2)
    path = _truncated["path"]
    r = ctx.call(GET, path)
    if r is None or r.status != 204:
        return "upload status after a truncated PATCH: %r" % r
    # Finish it with what it really holds: whatever arrived is kept, nothing more.
    size = int(r.header("range").split("-")[1]) + 1 if r.header("range") != "0-0" else 0
    held = b"0123456789"[:size]
    r = ctx.call(PUT, path + "?digest=" + sha256(held))
    if r is None or r.status != 201:
        return "finishing a truncated upload with its %d bytes: %r" % (size, r)
    return None


def protocol():
    """Versions, methods, request-target forms, pipelining."""
    blob = "/v2/%s/blobs/%s" % (REPO, D)
    man = "/v2/%s/manifests/v1" % REPO
    pipelined = (request(GET, "/v2/", close=False) + request(HEAD, blob, close=False) +
                 request(GET, blob, close=False) +
                 request(PUT, "/v2/%s/manifests/pipe" % REPO, [("Content-Type", OCI_MANIFEST)],
                         MANIFEST, close=False) +
                 request(GET, "/v2/%s/manifests/nope" % REPO, close=False) +
                 request(GET, man))

    def pipeline_check(ctx, ex):
        got = [r.status for r in ex.responses]
        if got != [200, 200, 200, 201, 404, 200]:
            return "pipelined statuses %s" % got  # also guards the indexes below
        if ex.responses[2].body != BLOB or ex.responses[5].body != MANIFEST:
            return "pipelined bodies out of order"
        if ex.responses[1].header("content-length") != str(len(BLOB)):
            return "HEAD Content-Length %r" % ex.responses[1].header("content-length")
        return None

    cases = [
        Case("HTTP/1.0 without Host", request(GET, "/v2/", version="HTTP/1.0", host=False,
                                              close=False), 200, check=closed_after),
        Case("HTTP/1.0 with Host", request(GET, "/v2/", version="HTTP/1.0", close=False), 200,
             check=closed_after),
        Case("HTTP/1.0 blob GET", request(GET, blob, version="HTTP/1.0", host=False), 200,
             check=body_is(BLOB)),
        Case("HTTP/1.1 without Host", request(GET, "/v2/", host=False), 400),
        Case("HTTP/1.1 with two Host headers", request(GET, "/v2/", [("Host", "a"), ("Host", "b")],
                                                      host=False), 400),
        Case("HTTP/2.0 request line", request(GET, "/v2/", version="HTTP/2.0"), (400, 505)),
        Case("HTTP/1.2 request line", request(GET, "/v2/", version="HTTP/1.2"), (400, 505)),
        Case("HTTP/0.9 request", b"GET /v2/\r\n\r\n", (400, None)),
        Case("garbage version", request(GET, "/v2/", version="HTTX/1.1"), 400),
        Case("TLS hello on plain HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
             (400, None)),
        Case("binary garbage", bytes(range(256)) * 4, (400, None)),
        Case("empty lines then a request", b"\r\n\r\n" + request(GET, "/v2/"), (200, 400)),
        Case("bare LF line endings", b"GET /v2/ HTTP/1.1\nHost: x\nConnection: close\n\n",
             (200, 400)),
        Case("HTTP/2 prior-knowledge preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 505)),
        Case("h2c upgrade request stays HTTP/1.1",
             simple(GET, "/v2/", [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                                  ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]), 200,
             check=lambda c, ex: None if ex.raw.startswith(b"HTTP/1.1 200") else
             "answered %r" % ex.raw[:40]),
        Case("websocket upgrade request is ignored",
             simple(GET, "/v2/", [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                  ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                  ("Sec-WebSocket-Version", "13")]), 200),
        Case("unknown Expect", simple(GET, "/v2/", [("Expect", "teapot")]), (200, 417)),
        Case("Expect 100-continue on HTTP/1.0 is ignored",
             lambda c: simple(PATCH, c.upload_path(), [("Expect", "100-continue")], b"abc",
                              version="HTTP/1.0"), 202),
        Case("method: unknown", simple("FOO", "/v2/"), 405, "UNSUPPORTED"),
        Case("method: lowercase get", simple("get", "/v2/"), (400, 405)),
        Case("method: TRACE", simple("TRACE", "/v2/"), 405),
        Case("method: CONNECT", simple("CONNECT", "127.0.0.1:443"), (400, 404, 405)),
        Case("method: OPTIONS *", simple("OPTIONS", "*"), (200, 400, 404, 405)),
        Case("method: not a token", simple("G(T", "/v2/"), 400),
        Case("method: POST on a blob", simple(POST, blob), 405, "UNSUPPORTED"),
        Case("method: PUT on the catalog", simple(PUT, "/v2/_catalog", body=b"{}"), 405,
             "UNSUPPORTED"),
        Case("method: PATCH on a manifest", simple(PATCH, man, body=b"{}"), 405, "UNSUPPORTED"),
        Case("method: DELETE on tags list", simple(DELETE, "/v2/%s/tags/list" % REPO), 405,
             "UNSUPPORTED"),
        Case("target: absolute-form", simple(GET, "http://127.0.0.1" + blob), 200,
             check=body_is(BLOB)),
        Case("target: absolute-form other host", simple(GET, "http://evil.example/v2/"), (200, 400)),
        Case("target: authority-form on GET", simple(GET, "127.0.0.1:80"), (400, 404)),
        Case("target: asterisk on GET", simple(GET, "*"), (400, 404)),
        Case("target: empty", b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("target: fragment", simple(GET, "/v2/#frag"), (200, 400, 404)),
        Case("target: bad percent encoding in query", simple(GET, "/v2/_catalog?n=%zz"),
             (200, 400)),
        Case("target: huge query", simple(GET, "/v2/_catalog?" + "a=b&" * 10000), (200, 400, 414)),
        Case("target: n=-1 on the catalog", simple(GET, "/v2/_catalog?n=-1"), 400,
             "PAGINATION_NUMBER_INVALID"),
        Case("target: n overflowing on tags", simple(GET, "/v2/%s/tags/list?n=%s" % (
            REPO, "9" * 40)), (200, 400), "PAGINATION_NUMBER_INVALID"),
        Case("target: last with traversal on the catalog",
             simple(GET, "/v2/_catalog?last=../../../../etc"), 200),
        Case("pipelined requests answered in order", pipelined, 200, expect=6,
             heads=(1,), check=pipeline_check),
        Case("pipelined: error in the middle closes after its answer",
             request(GET, "/v2/", close=False) + b"BAD\x01REQUEST\r\n\r\n" +
             request(GET, "/v2/"), 200, expect=3, check=all_statuses(200, 400)),
    ]
    return cases


def all_cases():
    return names_and_paths() + sizes_and_bodies() + manifests() + ranges() + framing() + protocol()


CRASH_MARKERS = ["Segmentation", "Aborted", "terminate called", "AddressSanitizer",
                 "handler failed", "connection failed", "[critical]", "internal error",
                 "storage error", "stack smashing"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--kind", default="onsen", choices=["onsen", "distribution"])
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    cases = [c for c in all_cases() if args.only in c.name]
    if args.list:
        for c in cases:
            print(c.name)
        print("%d cases" % len(cases))
        return 0

    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="onsen-hostile-")
    server = Server(args.kind, args.binary, work, "registry")
    failures = []
    try:
        server.start()
        ctx = Ctx(server)
        ctx.seed()
        for case in cases:
            t0 = time.monotonic()
            try:
                problem = run_case(ctx, case)
            except (AssertionError, OSError) as e:
                problem = "setup or check failed: %r" % e
            health = ctx.healthy()
            if health:
                problem = (problem + "; " if problem else "") + "unhealthy after: " + health
            if args.verbose or problem:
                print("%-4s %-70s %.2fs%s" % ("FAIL" if problem else "ok", case.name[:70],
                                              time.monotonic() - t0,
                                              ("\n     " + problem) if problem else ""))
            if problem:
                failures.append((case.name, problem))
            if not server.alive():
                break
        if args.kind == "onsen":
            log = server.log()
            for marker in CRASH_MARKERS:
                if marker in log:
                    line = next(l for l in log.splitlines() if marker in l)
                    failures.append(("server log", "contains %r: %s" % (marker, line[:300])))
        if not server.alive():
            failures.append(("server process", "died: exit status %s" % server.proc.poll()))
        status = server.stop()
        if args.kind == "onsen" and status != 0:
            failures.append(("server process", "did not stop cleanly on SIGTERM (%s)" % status))
    finally:
        server.stop()
        if failures:
            print("--- server log (tail) ---\n" + server.log()[-4000:])
        shutil.rmtree(work, ignore_errors=True)

    elapsed = time.monotonic() - started
    print("hostile: %d cases, %d failures, %.1fs (%s)" % (len(cases), len(failures), elapsed,
                                                         args.kind))
    for name, problem in failures:
        print("FAILED: %s: %s" % (name, problem))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
