#!/usr/bin/env python3
"""A chunked upload whose PATCHes land round-robin on three `onsen serve` processes sharing one
filesystem root and http.secret (replicas behind a balancer), as real processes see it.

    replica_upload_process_test.py BINARY

- Each PATCH is answered 202 with the right Range by whichever replica gets it, and leaves the
  hash state at the upload's new size under Distribution's key
  (_uploads/<id>/hashstates/sha256/<offset>, Go's 108-byte format); the final PUT on yet another
  replica makes the blob, readable from all three; the upload's directory, states included, goes.
- No PATCH read the upload again: every replica's /debug/vars shows 0 rehashes, and as many
  resumed hash states as there were requests that continued someone else's append (O(chunk) per
  PATCH, shown by counts, not timing).
- A state removed under the upload (what a power loss may do) costs that replica one rehash and
  the blob is still right: the counter counts.
Exit status 0 when everything passed.
"""
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import (Client, Server, location_path, pseudo_random, sha256,  # noqa: E402
                        with_query)

REPO = "replica/test"
CHUNKS = [1_000_003, 777_777, 65, 1, 500_000, 63, 128, 262_145]  # ends cut 64-byte blocks


def upload_dir(root, loc):
    uid = loc.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    return os.path.join(root, "docker/registry/v2/repositories", REPO, "_uploads", uid)


def push_round_robin(replicas, data, label, before_patch=None):
    """POST on replicas[0], one PATCH per CHUNKS entry on replicas[1], [2], [0], ..., the PUT on
    the next one. before_patch(i, loc, offset) runs before PATCH i. Returns (digest, upload dir,
    the PUT's status)."""
    n = len(replicas)
    res = Client(replicas[0].port).request("POST", f"/v2/{REPO}/blobs/uploads/")
    check(f"{label}: POST answered 202", res.status == 202, repr(res))
    loc = location_path(res)
    where = upload_dir(replicas[0].root, loc)
    offset = 0
    for i, size in enumerate(CHUNKS):
        r = replicas[(i + 1) % n]
        if before_patch:
            before_patch(i, loc, offset)
        piece = data[offset:offset + size]
        res = Client(r.port).request("PATCH", loc, piece, {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + size - 1}"})
        offset += size
        ok = res.status == 202 and res.header("range") == f"0-{offset - 1}"
        check(f"{label}: PATCH {i} ({size} bytes) on {r.name}: 202, Range 0-{offset - 1}", ok,
              repr(res))
        loc = location_path(res)
        state = os.path.join(where, "hashstates", "sha256", str(offset))
        try:
            with open(state, "rb") as f:
                got = f.read()
        except OSError as e:
            got = repr(e).encode()
        check(f"{label}: PATCH {i}: hash state at {offset} in Go's format",
              len(got) == 108 and got[:4] == b"sha\x03" and int.from_bytes(got[-8:], "big") == offset,
              got[:40])
    digest = sha256(data)
    put = replicas[(len(CHUNKS) + 1) % n]
    res = Client(put.port).request("PUT", with_query(loc, "digest=" + digest), b"",
                                   {"Content-Type": "application/octet-stream"})
    check(f"{label}: PUT ?digest on {put.name}: 201", res.status == 201, repr(res))
    return digest, where


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="onsen-replicas-")
    root = os.path.join(tmp, "storage")
    replicas = [Server(binary, root=root, name=f"replica-{i}", debug=True,
                       http_extra="  secret: shared-by-all-replicas\n") for i in range(3)]
    try:
        for r in replicas:
            r.start()
        data = pseudo_random(sum(CHUNKS), b"round-robin")
        digest, where = push_round_robin(replicas, data, "round robin")
        for r in replicas:
            res = Client(r.port).request("GET", f"/v2/{REPO}/blobs/{digest}")
            check(f"round robin: blob readable on {r.name}",
                  res.status == 200 and hashlib.sha256(res.body).hexdigest() == digest[7:],
                  repr(res))
        check("round robin: the upload's directory (hash states too) is gone",
              not os.path.exists(where), where)
        counts = [r.debug_vars()["uploads"] for r in replicas]
        check("no replica read the upload again (rehashes 0 on each)",
              all(c["rehashes"] == 0 for c in counts), counts)
        # Every PATCH after the first and the PUT continue another replica's append.
        check(f"{len(CHUNKS)} requests resumed a stored hash state, {len(CHUNKS)} were stored",
              sum(c["hash_states_resumed"] for c in counts) == len(CHUNKS) and
              sum(c["hash_states_saved"] for c in counts) == len(CHUNKS), counts)

        # The same push with the state at PATCH 3's starting offset removed before it.
        removed = []

        def remove_state(i, loc, offset):
            if i == 3:
                path = os.path.join(upload_dir(root, loc), "hashstates", "sha256", str(offset))
                os.remove(path)
                removed.append(path)

        before = [r.debug_vars()["uploads"]["rehashes"] for r in replicas]
        data = pseudo_random(sum(CHUNKS), b"lost-state")
        digest, _ = push_round_robin(replicas, data, "lost state", remove_state)
        res = Client(replicas[0].port).request("GET", f"/v2/{REPO}/blobs/{digest}")
        check("lost state: the blob is right",
              res.status == 200 and hashlib.sha256(res.body).hexdigest() == digest[7:], repr(res))
        after = [r.debug_vars()["uploads"]["rehashes"] for r in replicas]
        took_patch_3 = (3 + 1) % len(replicas)
        check("lost state: one rehash, by the replica that took PATCH 3",
              len(removed) == 1 and [a - b for a, b in zip(after, before)] ==
              [int(i == took_patch_3) for i in range(len(replicas))], (before, after))
    finally:
        for r in replicas:
            r.stop()
    for r in replicas:
        check(f"{r.name}: nothing logged at error level",
              '"level":"error"' not in r.log() and "[error]" not in r.log(), r.log_tail(1500))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
