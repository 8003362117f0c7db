#!/usr/bin/env python3
"""Onsen and CNCF Distribution (Debian's docker-registry, 2.8.2) continue each other's chunked
uploads on one storage directory, each from the other's stored hash state
(_uploads/<id>/hashstates/sha256/<offset>, Go's crypto/sha256 MarshalBinary format):

    hash_state_interop_test.py ONSEN_BINARY

(a) POST, PATCH on Onsen; PATCH on Distribution; PATCH on Onsen; PUT on Distribution.
(b) POST, PATCH on Distribution; PATCH on Onsen; PATCH on Distribution; PUT on Onsen.

How each side shows it took the other's state rather than reading the data again:
- Distribution: after its PATCH the state it stores is named by the upload's whole length
  (it names it by what its hasher has seen: the chunk's length alone had it started from
  nothing), and its PUT verifies the digest from that resumed state without any fallback (a
  wrong state is DIGEST_INVALID).
- Onsen: /debug/vars counts the states it resumed and 0 rehashes.
Distribution's PATCH and PUT need its signed `_state` query parameter: the test signs it with the
shared http.secret as Distribution does (Onsen does not issue one). Exit status 0 when everything
passed.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import (Client, Server, location_path, pseudo_random, sha256,  # noqa: E402
                        with_query)

SECRET = "interop-hash-state-secret"
REPO = "interop/hashstate"
CHUNKS = [300_001, 65_537, 129]  # ends cut 64-byte blocks


def distribution_state(uid, offset):
    """Distribution's `_state` token (registry/handlers/hmac.go): base64url(HMAC-SHA256(secret,
    json) + json) of {Name, UUID, Offset, StartedAt}."""
    body = json.dumps({"Name": REPO, "UUID": uid, "Offset": offset,
                       "StartedAt": "2026-01-01T00:00:00Z"}, separators=(",", ":")).encode()
    mac = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac + body).decode()


class Side(Server):
    def __init__(self, kind, binary, root):
        super().__init__(binary, root=root, name=kind, debug=True,
                         http_extra=f"  secret: {SECRET}\n")
        self.kind = kind

    def url(self, uid, offset):
        if self.kind == "onsen":
            return f"/v2/{REPO}/blobs/uploads/{uid}"
        return f"/v2/{REPO}/blobs/uploads/{uid}?_state={distribution_state(uid, offset)}"


def states(root, uid):
    d = os.path.join(root, "docker/registry/v2/repositories", REPO, "_uploads", uid,
                     "hashstates", "sha256")
    return sorted(int(n) for n in os.listdir(d)) if os.path.isdir(d) else []


def run(label, sides, put_side, root, data):
    """POST on sides[0], PATCH i on sides[i], PUT on put_side."""
    res = Client(sides[0].port).request("POST", f"/v2/{REPO}/blobs/uploads/")
    check(f"{label}: POST on {sides[0].kind}: 202", res.status == 202, repr(res))
    uid = location_path(res).split("?")[0].rstrip("/").rsplit("/", 1)[1]
    offset = 0
    for i, size in enumerate(CHUNKS):
        s = sides[i]
        piece = data[offset:offset + size]
        res = Client(s.port).request("PATCH", s.url(uid, offset), piece, {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + size - 1}"})
        offset += size
        check(f"{label}: PATCH {i} ({size} bytes) on {s.kind}: 202, Range 0-{offset - 1}",
              res.status == 202 and res.header("range") == f"0-{offset - 1}", repr(res))
        have = states(root, uid)
        alone = f", none named {size} (the chunk alone)" if i > 0 else ""
        check(f"{label}: PATCH {i} on {s.kind}: a state named {offset} (the whole length){alone}",
              offset in have and (i == 0 or size not in have), have)
    digest = sha256(data)
    res = Client(put_side.port).request("PUT", with_query(put_side.url(uid, offset),
                                                          "digest=" + digest), b"",
                                        {"Content-Type": "application/octet-stream"})
    check(f"{label}: PUT on {put_side.kind}: 201 (the digest from the resumed state is right)",
          res.status == 201, repr(res))
    for s in set(sides + [put_side]):
        res = Client(s.port).request("GET", f"/v2/{REPO}/blobs/{digest}")
        check(f"{label}: blob readable on {s.kind}",
              res.status == 200 and hashlib.sha256(res.body).hexdigest() == digest[7:], repr(res))


def main():
    if not shutil.which("docker-registry"):
        check("docker-registry installed (scripts/install-deps.sh test)", False)
        return finish()
    tmp = tempfile.mkdtemp(prefix="onsen-hashstate-interop-")
    root = os.path.join(tmp, "storage")
    onsen = Side("onsen", sys.argv[1], root)
    dist = Side("distribution", shutil.which("docker-registry"), root)
    try:
        onsen.start()
        dist.start()
        run("(a) onsen starts", [onsen, dist, onsen], dist, root, pseudo_random(sum(CHUNKS), b"a"))
        run("(b) distribution starts", [dist, onsen, dist], onsen, root,
            pseudo_random(sum(CHUNKS), b"b"))
        c = onsen.debug_vars()["uploads"]
        # (a): PATCH 2; (b): PATCH 1 and the PUT.
        check("onsen resumed Distribution's 3 states and read no upload again",
              c["hash_states_resumed"] == 3 and c["rehashes"] == 0, c)
    finally:
        onsen.stop()
        dist.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
