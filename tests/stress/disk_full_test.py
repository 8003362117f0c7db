#!/usr/bin/env python3
"""Resource exhaustion: the storage root is a small tmpfs (64 MiB, mounted by this test; it needs
root, as CI has). If tmpfs cannot be mounted, a 64 MiB ext4 image on a loop device is used instead;
the log says which. Without either (not root), the test is skipped (exit 77).

With the filesystem almost full, blobs bigger than the free space are pushed monolithically and
in chunks. Each must fail with a 5xx carrying the spec's JSON error body, leave nothing visible
(blob HEAD 404, no blob data file, no space held by the failed monolithic upload), and the server
must keep serving pulls of existing content. Once space is freed (the failed chunked upload
cancelled, the filler file removed) the same pushes succeed and pull back byte-identical."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from stress_lib import (Client, Server, expect, image_manifest, location_path, log, main_wrapper,
    put_manifest, push_blob_chunked, push_blob_monolithic, random_bytes, sha256, skip)
import random

SIZE_MIB = 64
MiB = 1 << 20


class Mount:
    """A small filesystem mounted on a fresh directory: tmpfs, else ext4 on a loop device."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="onsen-full-")
        self.image = None
        self.kind = None

    def __enter__(self):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m,mode=0755", "tmpfs",
                            self.dir], capture_output=True, text=True)
        if r.returncode == 0:
            self.kind = "tmpfs"
            return self
        log("tmpfs mount failed:", r.stderr.strip())
        self.image = self.dir + ".img"
        with open(self.image, "wb") as f:
            f.truncate(SIZE_MIB * MiB)
        mk = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image], capture_output=True,
                            text=True)
        r = subprocess.run(["mount", "-o", "loop", self.image, self.dir], capture_output=True,
                           text=True)
        if mk.returncode == 0 and r.returncode == 0:
            self.kind = "ext4 on a loop device"
            return self
        self.cleanup()
        skip(f"cannot mount a small filesystem (tmpfs, loop): {r.stderr.strip()} (needs root)")

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        if self.kind:
            subprocess.run(["umount", "-l", self.dir], capture_output=True)
            self.kind = None
        if self.image and os.path.exists(self.image):
            os.unlink(self.image)
        shutil.rmtree(self.dir, ignore_errors=True)

    def free(self):
        st = os.statvfs(self.dir)
        return st.f_bavail * st.f_frsize


def raw_request(port, method, path, headers, body, timeout=30):
    """Sends a request with a body on a fresh connection and returns (status, body). Unlike
    http.client it still reads the response when the server answers before taking the whole body
    (as it does when the disk fills up) and the send fails with EPIPE/ECONNRESET."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"
        try:
            s.sendall(head.encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    finally:
        s.close()
    if not data:
        raise AssertionError(f"{method} {path}: connection closed without a response")
    header, _, rest = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, rest, header.decode(errors="replace")


def check_storage_full_error(status, body, what):
    if not 500 <= status < 600:
        raise AssertionError(f"{what}: expected a 5xx, got {status} {body[:300]!r}")
    try:
        errors = json.loads(body)["errors"]
        code, message = errors[0]["code"], errors[0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise AssertionError(f"{what}: {status} without the spec's JSON error body: {body[:300]!r}")
    if "full" not in message.lower() and "space" not in message.lower():
        raise AssertionError(f"{what}: error message does not say the storage is full: {message!r}")
    log(f"{what}: {status} {code} {message!r}")


def blob_data_files(root):
    found = []
    for dirpath, _, files in os.walk(os.path.join(root, "docker/registry/v2/blobs")):
        found += [os.path.join(dirpath, f) for f in files if f == "data"]
    return found


def upload_dirs(root):
    found = []
    for dirpath, dirs, _ in os.walk(os.path.join(root, "docker/registry/v2/repositories")):
        if os.path.basename(dirpath) == "_uploads":
            found += dirs
    return found


def run(binary):
    rng = random.Random(3)
    with Mount() as mnt:
        log(f"storage on {mnt.kind} ({SIZE_MIB} MiB) at {mnt.dir}")
        server = Server(binary, root=os.path.join(mnt.dir, "registry")).start()
        try:
            exercise(server, mnt, rng)
        finally:
            server.stop()
            log("server log tail:\n" + server.log_tail(2000))


def pull_base(c, repo, manifest, blobs):
    res = expect(c.request("GET", f"/v2/{repo}/manifests/latest"), 200, "pull base manifest")
    assert res.body == manifest, "base manifest changed"
    for d, data in blobs.items():
        res = expect(c.request("GET", f"/v2/{repo}/blobs/{d}"), 200, f"pull base blob {d}")
        assert res.body == data, f"base blob {d} changed"


def exercise(server, mnt, rng):
    c = Client(server.port)
    repo = "full/base"
    # Existing content, pulled throughout.
    config = b'{"architecture":"amd64","os":"linux"}'
    layers = [random_bytes(rng, 2 * MiB), random_bytes(rng, 300_000)]
    blobs = {sha256(b): b for b in [config] + layers}
    for data in blobs.values():
        expect(push_blob_monolithic(c, repo, data), 201, "push base blob")
    manifest = image_manifest(config, layers)
    expect(put_manifest(c, repo, "latest", manifest), 201, "push base manifest")
    pull_base(c, repo, manifest, blobs)

    # Fill the filesystem, leaving FREE_MIB.
    free_target = 8 * MiB
    filler = os.path.join(mnt.dir, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, mnt.free() - free_target))
    log(f"filler {os.path.getsize(filler) // MiB} MiB, free {mnt.free() / MiB:.1f} MiB")

    big = random_bytes(rng, 16 * MiB)  # twice the free space
    big_digest = sha256(big)
    free_before = mnt.free()
    files_before = sorted(blob_data_files(server.root))  # the base blobs and manifest

    # 1. Monolithic upload bigger than the free space.
    t = time.monotonic()
    status, body, _ = raw_request(server.port, "POST",
                                  f"/v2/full/target/blobs/uploads/?digest={big_digest}",
                                  {"Content-Type": "application/octet-stream"}, big)
    log(f"monolithic push answered in {time.monotonic() - t:.2f}s")
    check_storage_full_error(status, body, "monolithic push on a full disk")
    expect(c.request("HEAD", f"/v2/full/target/blobs/{big_digest}"), 404, "HEAD after failure")
    data_files = sorted(blob_data_files(server.root))
    assert data_files == files_before, f"blob data files after the failure: {data_files}"
    leftovers = upload_dirs(server.root)
    free_after = mnt.free()
    log(f"after the failed monolithic push: free {free_after / MiB:.1f} MiB "
        f"(before {free_before / MiB:.1f}), upload directories left: {leftovers}")
    # The client never learnt the upload's id, so it cannot cancel it: the server must not keep
    # the partial data, or the disk stays full until the purger runs (days).
    assert free_after >= free_before - 64 * 1024, (
        f"failed monolithic upload still holds {(free_before - free_after) / MiB:.1f} MiB")
    pull_base(c, repo, manifest, blobs)

    # 2. Chunked upload: 4 MiB PATCHes until the disk is full.
    res = expect(c.request("POST", "/v2/full/target/blobs/uploads/"), 202, "start chunked upload")
    loc = location_path(res)
    chunk = 4 * MiB
    offset = 0
    failed = None
    while offset < len(big):
        piece = big[offset : offset + chunk]
        status, body, header = raw_request(
            server.port, "PATCH", loc,
            {"Content-Type": "application/octet-stream",
             "Content-Range": f"{offset}-{offset + len(piece) - 1}"}, piece)
        if status != 202:
            failed = (status, body)
            break
        offset += len(piece)
    assert failed, "the chunked upload never hit the full disk"
    check_storage_full_error(*failed, f"chunked PATCH at offset {offset} on a full disk")
    expect(c.request("HEAD", f"/v2/full/target/blobs/{big_digest}"), 404, "HEAD after failure")
    assert sorted(blob_data_files(server.root)) == files_before, "a blob data file appeared"
    # The upload still answers its status; finishing it must fail too (digest does not match the
    # partial data, or the disk is still full) and never make the blob visible.
    res = c.request("GET", loc)
    log(f"upload status after the failure: {res.status} Range {res.header('range')}")
    assert res.status in (204, 404), f"upload status: {res}"
    pull_base(c, repo, manifest, blobs)
    # A small manifest push may or may not fit; it must not be a 500 or a hang.
    res = put_manifest(c, repo, "other", manifest)
    assert res.status in (201, 507), f"manifest PUT on a full disk: {res}"
    log(f"manifest PUT on a full disk: {res.status}")

    # 3. Free the space: cancel the failed upload, remove the filler.
    res = c.request("DELETE", loc)
    assert res.status in (204, 404), f"cancel: {res}"
    os.unlink(filler)
    log(f"space freed: {mnt.free() / MiB:.1f} MiB")
    expect(push_blob_monolithic(c, "full/target", big), 201, "monolithic push after freeing")
    expect(c.request("DELETE", f"/v2/full/target/blobs/{big_digest}"), 202, "unlink blob")
    expect(c.request("HEAD", f"/v2/full/target/blobs/{big_digest}"), 404, "HEAD after unlink")
    expect(push_blob_chunked(c, "full/chunked", big, chunks=4), 201, "chunked push after freeing")
    res = expect(c.request("GET", f"/v2/full/chunked/blobs/{big_digest}"), 200, "pull big blob")
    assert res.body == big, "big blob pulled back differs"
    new_manifest = image_manifest(config, [big])
    expect(c.request("POST", f"/v2/full/chunked/blobs/uploads/?mount={sha256(config)}&from={repo}"),
           201, "mount config")
    expect(put_manifest(c, "full/chunked", "latest", new_manifest), 201, "manifest after freeing")
    pull_base(c, repo, manifest, blobs)
    c.close()
    assert server.alive(), "onsen died"


if __name__ == "__main__":
    # ctest's TIMEOUT sends SIGTERM: unwind so that the filesystem is unmounted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if os.geteuid() != 0:
        skip("needs root to mount a tmpfs")
    main_wrapper(run)
