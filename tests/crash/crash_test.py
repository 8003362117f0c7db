#!/usr/bin/env python3
"""SIGKILL harness: kills `onsen serve` at random moments and checks nothing acknowledged is lost
and nothing wrong becomes visible.

usage: crash_test.py ONSEN_BINARY

A seeded, reproducible driver (the operation sequence, contents, kill delays and kill points all
come from one random.Random(seed); only the server's progress at a kill depends on timing).
Environment: CRASH_SEED (default: random, printed), CRASH_KILLS (default 200), CRASH_BUDGET_S
(default 210: no new cycle starts after it; the test fails if fewer than CRASH_KILLS kills ran),
CRASH_STORAGE (filesystem, the default, or s3: the tests' S3 gateway, found as
tests/lib/s3_gateway.py says, a rootdirectory of this run's own in its bucket).

Each cycle starts onsen on 127.0.0.1 (storage in one temp dir or under one S3 rootdirectory,
deletes enabled), runs
operations (monolithic and chunked uploads, large streamed uploads, manifest and tag puts, deletes
of manifests, tags and blobs, cross-repository mounts, upload cancels) and SIGKILLs it: after a
random delay, in the middle of a streaming request body, or just after a request was sent. It then
restarts onsen and checks, against a model of what got a success response:
  - every acknowledged blob, manifest and tag is intact (GET, hashed) unless the harness deleted it;
    an interrupted operation may have taken effect or not, but nothing else;
  - the repositories' tags, revision links and layer links in storage (files on disk, the bucket's
    keys on S3) are exactly the model's, and GET on a tag returns the manifest it names;
  - an interrupted chunked upload reports an offset between its last acknowledged one and the bytes
    sent (the client resumes from the reported offset), or is 404 BLOB_UPLOAD_UNKNOWN;
  - no file outside the _uploads areas is anything but a blob's data or a link (on S3: no other
    key, so no writer's `.tail` object, and no pending multipart upload: nothing half made);
  - every manifest with a subject (a third of them) has its referrers index entry, every entry
    names a manifest pushed with that subject (an entry naming no revision is allowed: what a kill
    between the entry and the revision link leaves), and GET referrers lists exactly the model's;
  - `onsen check` exits 0.
On S3 onsen reaches the gateway through a proxy (s3_kill_proxy.py) that also kills it at one of
the next S3 calls that change the bucket (the n-th, n drawn), before or after it: so every step of
a PATCH (part, tail), of an upload's end (completion, final copy, delete) and of a manifest PUT
(its copies) is a kill point, not only the moments a timer happens to hit. The large contents are
above S3's 5 MiB part minimum, so chunked uploads go multipart.
"""

import http.client
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import onsen_proc  # noqa: E402
import s3_gateway  # noqa: E402
from s3_kill_proxy import KillProxy  # noqa: E402
from onsen_proc import OCI_MANIFEST, NotReady, free_port, sha256, with_query  # noqa: E402

REPOS = ["crash/a", "crash/b", "c"]
TAGS = ["t0", "t1", "t2", "t3", "latest"]
LARGE_POOL = 6  # distinct large contents: blobs are never garbage-collected, so bound the bytes
# The smallest large content: on S3 above the 5 MiB multipart minimum (uploads go multipart, the
# tail object kept beside them), on the filesystem small enough to keep cycles quick.
LARGE_BASE = {"filesystem": 1 << 20, "s3": (5 << 20) + 300_000}
# PATCH sizes; on S3 also 3 MiB, so uploads cross the 5 MiB part minimum within a few PATCHes.
CHUNKS = {"filesystem": [1, 1000, 65536, 300_000, 1 << 20],
          "s3": [1, 1000, 65536, 300_000, 1 << 20, 3 << 20]}


class Failure(Exception):
    pass


class Interrupted(Exception):
    """The server went away before answering."""


class Server(onsen_proc.Server):
    """A new free port at each start (REGISTRY_HTTP_ADDR would do as well; the configuration is
    rewritten), a quick readiness poll (restarts are most of the harness's time), a start-up
    failure is the test's Failure, and on S3 a storage.s3 configuration (streamed blobs, no
    redirects: the harness checks Onsen's own answers)."""

    def __init__(self, binary, workdir, s3=None):
        super().__init__(binary, workdir)
        self.s3 = s3  # (gateway variables, rootdirectory) on S3, else None

    def write_config(self):
        if not self.s3:
            return super().write_config()
        with open(self.config_path, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n"
                    + s3_gateway.storage_yaml(*self.s3)
                    + "  delete:\n    enabled: true\n  redirect:\n    disable: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: {onsen_proc.HOST}:{self.port}\n")

    def start(self):
        assert self.proc is None, "one server at a time"
        self.port = free_port()
        try:
            super().start(timeout=15, interval=0.005)
        except NotReady as e:
            raise Failure(str(e)) from None

    def reap(self):
        if self.proc:
            self.kill()
            self.proc.wait(timeout=15)
            self.proc = None


class Client(onsen_proc.Client):
    """The shared client without the idle-connection retry (a request the killed server may have
    applied must not be sent again); every failure to get a whole response is Interrupted."""

    def __init__(self, port):
        super().__init__(port, timeout=20, retry_idle=False)

    def request(self, method, path, body=b"", headers=None):
        try:
            return super().request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            raise Interrupted(f"{method} {path}: {e!r}") from e

    def stream(self, method, path, body, headers, kill_after=None, kill=None):
        """Sends body in 64 KiB pieces; with kill_after, calls kill() once that many bytes are
        out and raises Interrupted."""
        try:
            c = self.connection()
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers.items():
                c.putheader(k, v)
            c.putheader("Content-Length", str(len(body)))
            c.endheaders()
            sent = 0
            while sent < len(body):
                if kill_after is not None and sent >= kill_after:
                    break
                end = min(len(body), sent + 65536)
                if kill_after is not None:
                    end = min(end, max(kill_after, sent + 1))
                c.send(body[sent:end])
                sent = end
            if kill_after is not None:
                kill()
                raise Interrupted(f"{method} {path}: killed after {sent} of {len(body)} bytes")
            return self.response()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Interrupted(f"{method} {path}: {e!r}") from e


def subject_of(body):
    """The subject digest of manifest bytes, or None."""
    return (json.loads(body).get("subject") or {}).get("digest")


def upload_path(location):
    """The path of an upload Location (absolute URL or path)."""
    m = re.match(r"^(?:https?://[^/]+)?(/v2/.*)$", location)
    if not m:
        raise Failure(f"bad upload Location {location!r}")
    return m.group(1)


class Model:
    """What the registry must hold: only things that got a success response (or that an
    interrupted operation was observed to have done)."""

    def __init__(self):
        self.blobs = {r: {} for r in REPOS}  # repo -> digest -> content
        self.manifests = {r: {} for r in REPOS}  # repo -> digest -> bytes
        self.tags = {r: {} for r in REPOS}  # repo -> tag -> digest
        self.uploads = []  # open chunked uploads: dicts (see Harness.chunked_*)
        # (kind, repo, key) -> set of allowed values; None means absent. Filled by an interrupted
        # operation, resolved by observation after the restart.
        self.uncertain = {}

    def allow(self, kind, repo, key, *values):
        current = {"blob": self.blobs, "manifest": self.manifests, "tag": self.tags}[kind][repo]
        allowed = self.uncertain.setdefault((kind, repo, key), {current.get(key)})
        allowed.update(values)


class Harness:
    def __init__(self, binary, seed, kills, budget, storage):
        self.rng = random.Random(seed)
        self.seed = seed
        self.kills_wanted = kills
        self.budget = budget
        self.storage = storage
        self.workdir = tempfile.mkdtemp(prefix="onsen-crash-")
        self.bucket = self.proxy = None
        if storage == "s3":
            env = s3_gateway.gateway_env()
            self.bucket = s3_gateway.Bucket(env)
            self.proxy = KillProxy(self.bucket.host, self.bucket.port)
            self.s3_root = f"crash-{os.getpid()}-{seed}"
            self.server = Server(binary, self.workdir,
                                 ({**env, "S3_ENDPOINT": self.proxy.endpoint}, "/" + self.s3_root))
        else:
            self.server = Server(binary, self.workdir)
        self.model = Model()
        self.large = [None] * LARGE_POOL
        self.stats = {"kills": 0, "ops": 0, "interrupted": 0, "mid_body": 0, "after_send": 0,
                      "timer": 0, "s3_call": 0, "resumed_uploads": 0, "unknown_uploads": 0,
                      "observed_applied": 0, "observed_not_applied": 0}
        self.client = None
        self.killed = threading.Event()
        # Seconds, summed: restarts, storage walks, waiting for `onsen check` after the HTTP checks.
        self.timing = {"restart": 0.0, "tree": 0.0, "check": 0.0}
        self.pushed = {}  # manifest digest -> bytes, for every manifest PUT sent
        self.durations = {}  # (method, a manifest?) -> seconds its requests took lately (EMA)

    # ------------------------------------------------------------------ contents
    def small_content(self):
        return self.rng.randbytes(self.rng.choice([0, 1, 100, 4096, 70000]))

    def large_content(self):
        i = self.rng.randrange(LARGE_POOL)
        if self.large[i] is None:
            self.large[i] = random.Random(self.seed * 1000 + i).randbytes(
                LARGE_BASE[self.storage] + i * 300_000)
        return self.large[i]

    def kill_now(self):
        self.killed.set()
        self.server.kill()

    # ------------------------------------------------------------------ helpers
    def expect(self, status, wanted, what, body=b""):
        if status not in wanted:
            raise Failure(f"{what}: status {status}, wanted {wanted}: {body[:300]!r}")

    def linked_blobs(self, repo):
        return [d for d in self.model.blobs[repo] if ("blob", repo, d) not in self.model.uncertain]

    # ------------------------------------------------------------------ operations
    # Each applies its effect to the model when it gets a success response; when interrupted it
    # records what may have happened in model.uncertain, then re-raises Interrupted.

    def op_monolithic(self, repo):
        data = self.small_content() if self.rng.random() < 0.8 else self.large_content()
        d = sha256(data)
        try:
            if self.rng.random() < 0.5:
                s, h, b = self.client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
                                              {"Content-Type": "application/octet-stream"})
                self.expect(s, [201], "monolithic POST", b)
            else:
                s, h, b = self.client.request("POST", f"/v2/{repo}/blobs/uploads/")
                self.expect(s, [202], "POST upload", b)
                path = with_query(upload_path(h["location"]), f"digest={d}")
                s, h, b = self.client.request("PUT", path, data,
                                              {"Content-Type": "application/octet-stream"})
                self.expect(s, [201], "PUT upload", b)
        except Interrupted:
            self.model.allow("blob", repo, d, data)
            raise
        self.model.blobs[repo][d] = data
        self.model.uncertain.pop(("blob", repo, d), None)

    def op_chunked_start(self, repo, data=None):
        if data is None:
            data = self.small_content() if self.rng.random() < 0.6 else self.large_content()
        s, h, b = self.client.request("POST", f"/v2/{repo}/blobs/uploads/")
        self.expect(s, [202], "POST upload", b)
        self.model.uploads.append({"repo": repo, "path": upload_path(h["location"]), "data": data,
                                   "acked": 0, "sent": 0, "finishing": False})

    def op_chunked_step(self, up, mode, size=None):
        """Appends one chunk (of size bytes, else a random size), or finishes the upload when all
        is sent."""
        data, acked = up["data"], up["acked"]
        d = sha256(data)
        if acked >= len(data):
            up["finishing"] = True
            up["sent"] = len(data)
            try:
                s, h, b = self.send_maybe_killing("PUT", with_query(up["path"], f"digest={d}"), b"",
                                                  {}, mode)
            except Interrupted:
                self.model.allow("blob", up["repo"], d, data)
                raise
            self.expect(s, [201], "finish upload", b)
            self.model.uploads.remove(up)
            self.model.blobs[up["repo"]][d] = data
            self.model.uncertain.pop(("blob", up["repo"], d), None)
            return
        n = min(len(data) - acked, size or self.rng.choice(CHUNKS[self.storage]))
        chunk = data[acked:acked + n]
        up["sent"] = acked + n
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Range": f"{acked}-{acked + n - 1}"}
        s, h, b = self.send_maybe_killing("PATCH", up["path"], chunk, headers, mode)
        self.expect(s, [202], "PATCH", b)
        rng_hdr = h.get("range", "")
        if rng_hdr != f"0-{acked + n - 1}":
            raise Failure(f"PATCH answered Range {rng_hdr!r}, wanted 0-{acked + n - 1}")
        up["path"] = upload_path(h["location"])
        up["acked"] = acked + n

    def op_large_upload(self, repo):
        """A large chunked upload from POST to its final PUT in 3 MiB PATCHes: on S3 it crosses
        the 5 MiB part minimum at the second, so its ~20 S3 calls include the multipart upload's
        start, a part, the tail, the completion, and the final copy and delete."""
        self.op_chunked_start(repo, self.large_content())
        up = self.model.uploads[-1]
        while up in self.model.uploads:
            self.op_chunked_step(up, None, 3 << 20)

    def op_cancel(self, up):
        up["cancelling"] = True
        s, h, b = self.client.request("DELETE", up["path"])
        self.expect(s, [204], "cancel upload", b)
        self.model.uploads.remove(up)

    def manifest_body(self, repo):
        blobs = self.linked_blobs(repo)
        if len(blobs) < 2:
            return None
        config, layer = self.rng.sample(blobs, 2)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config, "size": len(self.model.blobs[repo][config])},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                         "size": len(self.model.blobs[repo][layer])}],
             "annotations": {"nonce": str(self.rng.getrandbits(64))}}
        if self.rng.random() < 0.33:  # a referrer: of a manifest of the repo, or of an unknown one
            known = sorted(self.model.manifests[repo])
            subject = self.rng.choice(known) if known and self.rng.random() < 0.8 else \
                sha256(str(self.rng.getrandbits(64)).encode())
            m["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 100}
        return json.dumps(m, sort_keys=True).encode()

    def op_put_manifest(self, repo, mode):
        def refs_linked(body):  # a manifest can be re-put only while its blobs are linked
            m = json.loads(body)
            return all(x["digest"] in self.model.blobs[repo] for x in [m["config"], *m["layers"]])

        existing = [d for d, body in self.model.manifests[repo].items()
                    if ("manifest", repo, d) not in self.model.uncertain and refs_linked(body)]
        if existing and self.rng.random() < 0.3:
            d = self.rng.choice(existing)
            body = self.model.manifests[repo][d]  # retag an existing manifest
        else:
            body = self.manifest_body(repo)
            if body is None:
                return self.op_monolithic(repo)
            d = sha256(body)
        ref = self.rng.choice(TAGS) if self.rng.random() < 0.8 else d
        self.pushed[d] = body
        try:
            s, h, b = self.send_maybe_killing("PUT", f"/v2/{repo}/manifests/{ref}", body,
                                              {"Content-Type": OCI_MANIFEST}, mode)
        except Interrupted:
            self.model.allow("manifest", repo, d, body)
            if ref != d:
                self.model.allow("tag", repo, ref, d)
            raise
        self.expect(s, [201], f"PUT manifest {ref}", b)
        if h.get("docker-content-digest") != d:
            raise Failure(f"PUT manifest answered digest {h.get('docker-content-digest')}, not {d}")
        self.model.manifests[repo][d] = body
        self.model.uncertain.pop(("manifest", repo, d), None)
        if ref != d:
            self.model.tags[repo][ref] = d
            self.model.uncertain.pop(("tag", repo, ref), None)

    def delete(self, path, what, uncertain):
        """DELETE path, which must answer 202. Interrupted: each (kind, repo, key) of uncertain
        may or may not be gone after the restart."""
        try:
            s, h, b = self.client.request("DELETE", path)
        except Interrupted:
            for kind, repo, key in uncertain:
                self.model.allow(kind, repo, key, None)
            raise
        self.expect(s, [202], what, b)

    def op_delete_tag(self, repo):
        tags = [t for t in self.model.tags[repo] if ("tag", repo, t) not in self.model.uncertain]
        if not tags:
            return
        t = self.rng.choice(tags)
        self.delete(f"/v2/{repo}/manifests/{t}", f"DELETE tag {t}", [("tag", repo, t)])
        del self.model.tags[repo][t]

    def op_delete_manifest(self, repo):
        ds = [d for d in self.model.manifests[repo]
              if ("manifest", repo, d) not in self.model.uncertain]
        if not ds:
            return
        d = self.rng.choice(ds)
        self.delete(f"/v2/{repo}/manifests/{d}", f"DELETE manifest {d}",
                    [("manifest", repo, d)] +
                    [("tag", repo, t) for t, td in self.model.tags[repo].items() if td == d])
        del self.model.manifests[repo][d]
        for t in [t for t, td in self.model.tags[repo].items() if td == d]:
            del self.model.tags[repo][t]

    def op_delete_blob(self, repo):
        ds = self.linked_blobs(repo)
        if not ds:
            return
        d = self.rng.choice(ds)
        self.delete(f"/v2/{repo}/blobs/{d}", f"DELETE blob {d}", [("blob", repo, d)])
        del self.model.blobs[repo][d]

    def op_mount(self, repo):
        sources = [(r, d) for r in REPOS if r != repo for d in self.linked_blobs(r)]
        if not sources:
            return
        src, d = self.rng.choice(sources)
        data = self.model.blobs[src][d]
        try:
            s, h, b = self.client.request("POST", f"/v2/{repo}/blobs/uploads/?mount={d}&from={src}")
        except Interrupted:
            self.model.allow("blob", repo, d, data)
            raise
        self.expect(s, [201], f"mount {d} from {src}", b)
        self.model.blobs[repo][d] = data
        self.model.uncertain.pop(("blob", repo, d), None)

    def send_maybe_killing(self, method, path, body, headers, mode):
        """mode "body": kill while the body streams; "sent": kill just after the request is out;
        otherwise a plain request (the cycle's timer may kill at any time)."""
        if mode == "body" and len(body) > 1:
            self.stats["mid_body"] += 1
            return self.client.stream(method, path, body, headers,
                                      kill_after=self.rng.randrange(1, len(body)),
                                      kill=self.kill_now)
        kind = (method, "/manifests/" in path)
        if mode == "sent":
            self.stats["after_send"] += 1
            if self.bucket:
                # Anywhere in the request's work, which on S3 is many round trips (a PATCH's part
                # and tail, an upload's final copy and delete, a manifest's copies): a fraction of
                # how long such a request took lately.
                delay = self.rng.random() * self.durations.get(kind, 0.05)
            else:
                delay = self.rng.choice([0, 0, 0.0005, 0.002, 0.01])
            timer = threading.Timer(delay, self.kill_now)
            timer.start()
            try:
                return self.client.request(method, path, body, headers)
            finally:
                timer.join()
        t0 = time.monotonic()
        res = self.client.request(method, path, body, headers)
        took = time.monotonic() - t0
        self.durations[kind] = 0.7 * self.durations.get(kind, took) + 0.3 * took
        return res

    def run_operation(self, mode):
        repo = self.rng.choice(REPOS)
        open_uploads = [u for u in self.model.uploads if not u.get("finishing")]
        r = self.rng.random()
        self.stats["ops"] += 1
        if mode in ("body", "sent"):
            # Aim this kill: a chunk or finish of an upload, or a manifest put.
            if open_uploads and self.rng.random() < 0.7:
                return self.op_chunked_step(self.rng.choice(open_uploads), mode)
            if r < 0.3:
                return self.op_put_manifest(repo, mode)
            self.op_chunked_start(repo)
            return self.op_chunked_step(self.model.uploads[-1], mode)
        if r < 0.18:
            return self.op_monolithic(repo)
        if r < 0.28 and len(self.model.uploads) < 6:
            return self.op_chunked_start(repo)
        if r < 0.45 and open_uploads:
            return self.op_chunked_step(self.rng.choice(open_uploads), None)
        if r < 0.48 and open_uploads:
            return self.op_cancel(self.rng.choice(open_uploads))
        if r < 0.68:
            return self.op_put_manifest(repo, None)
        if r < 0.75:
            return self.op_delete_tag(repo)
        if r < 0.81:
            return self.op_delete_manifest(repo)
        if r < 0.9 and sum(len(b) for b in self.model.blobs.values()) > 12:
            return self.op_delete_blob(repo)
        return self.op_mount(repo)

    # ------------------------------------------------------------------ one cycle
    def cycle(self):
        self.killed.clear()
        if self.server.proc is None:  # else the server the last verification restarted
            self.server.start()
        self.client = Client(self.server.port)
        if self.proxy:
            mode = self.rng.choices(["timer", "body", "sent", "s3call"], weights=[3, 2, 2, 6])[0]
        else:
            mode = self.rng.choices(["timer", "body", "sent"], weights=[5, 3, 2])[0]
        timer = None
        if mode == "s3call":
            # The kill at one of the next S3 calls that change the bucket, before it or after it.
            self.stats["s3_call"] += 1
            self.proxy.arm(self.rng.randrange(1, 24), self.rng.random() < 0.5, self.kill_now)
            ops = 60
        elif mode == "timer":
            self.stats["timer"] += 1
            timer = threading.Timer(self.rng.uniform(0, 0.12), self.kill_now)
            timer.start()
            ops = 60
        else:
            ops = self.rng.randrange(0, 6)  # some plain operations before the aimed one
        try:
            if mode == "s3call" and self.rng.random() < 0.5:
                self.op_large_upload(self.rng.choice(REPOS))
            for _ in range(ops):
                self.run_operation(None)
                if self.killed.is_set():
                    break
            if mode in ("body", "sent") and not self.killed.is_set():
                self.run_operation(mode)
        except Interrupted:
            self.stats["interrupted"] += 1
        finally:
            if timer:
                timer.cancel()
                timer.join()
        self.client.close()
        self.server.reap()  # SIGKILL (if nothing above did) and wait
        if self.proxy:
            self.proxy.settle()
        self.stats["kills"] += 1
        t0 = time.monotonic()
        self.server.start()
        self.timing["restart"] += time.monotonic() - t0
        self.client = Client(self.server.port)
        try:
            self.verify()
        except Interrupted as e:
            raise Failure(f"the restarted server failed a request: {e}\n{self.server.log_tail()}")
        self.client.close()

    # ------------------------------------------------------------------ verification
    def get(self, path, wanted):
        s, h, b = self.client.request("GET", path)
        self.expect(s, wanted, f"GET {path}", b)
        return s, h, b

    def observe_uncertain(self):
        m = self.model
        for (kind, repo, key), allowed in sorted(m.uncertain.items(), key=str):
            if kind == "blob":
                s, h, b = self.get(f"/v2/{repo}/blobs/{key}", [200, 404])
                seen = b if s == 200 else None
                table = m.blobs[repo]
            elif kind == "manifest":
                s, h, b = self.get(f"/v2/{repo}/manifests/{key}", [200, 404])
                seen = b if s == 200 else None
                table = m.manifests[repo]
            else:
                s, h, b = self.get(f"/v2/{repo}/manifests/{key}", [200, 404])
                seen = h.get("docker-content-digest") if s == 200 else None
                if s == 200 and sha256(b) != seen:
                    raise Failure(f"tag {repo}:{key} serves bytes hashing to {sha256(b)}, "
                                  f"labelled {seen}")
                table = m.tags[repo]
            if seen not in allowed:
                shown = {a if a is None or isinstance(a, str) else sha256(a) for a in allowed}
                raise Failure(f"after an interrupted operation {kind} {repo} {key} is "
                              f"{seen if seen is None or isinstance(seen, str) else sha256(seen)}, "
                              f"allowed: {shown}")
            self.stats["observed_applied" if seen is not None else "observed_not_applied"] += 1
            if seen is None:
                table.pop(key, None)
            else:
                table[key] = seen
        m.uncertain.clear()

    def verify_uploads(self):
        for up in list(self.model.uploads):
            s, h, b = self.get(up["path"], [204, 404])
            if s == 404:
                if b"BLOB_UPLOAD_UNKNOWN" not in b:
                    raise Failure(f"upload status 404 without BLOB_UPLOAD_UNKNOWN: {b!r}")
                if not (up.get("finishing") or up.get("cancelling")):
                    raise Failure(f"upload {up['path']} vanished with nothing interrupted on it")
                self.stats["unknown_uploads"] += 1
                self.model.uploads.remove(up)
                continue
            m = re.fullmatch(r"0-(\d+)", h.get("range", ""))
            if not m:
                raise Failure(f"upload status without a Range: {h}")
            offset = int(m.group(1)) + 1
            if offset == 1 and up["acked"] == 0 and up["sent"] > 0:
                # "0-0" is both 0 and 1 bytes (Distribution's convention). Send byte 0: accepted
                # when there were none, 416 when it is already there; either way 1 byte now.
                s, h, b = self.client.request("PATCH", up["path"], up["data"][:1],
                                              {"Content-Range": "0-0"})
                self.expect(s, [202, 416], "PATCH probing a 0-0 upload", b)
            elif offset == 1 and up["acked"] == 0:
                offset = 0
            if not up["acked"] <= offset <= max(up["sent"], up["acked"]):
                raise Failure(f"upload {up['path']} reports offset {offset}; acknowledged "
                              f"{up['acked']}, sent {up['sent']} of {len(up['data'])}")
            if offset != up["acked"]:
                self.stats["resumed_uploads"] += 1
            up.update(acked=offset, sent=offset, finishing=False, cancelling=False)

    def verify(self):
        check = self.server.start_check()  # runs while the HTTP checks go on
        try:
            self.verify_over_http()
        finally:
            t0 = time.monotonic()
            out = check.communicate(timeout=120)[0].decode(errors="replace")
            self.timing["check"] += time.monotonic() - t0
        if check.returncode != 0:
            raise Failure(f"onsen check exited {check.returncode}:\n{out}")

    def verify_over_http(self):
        self.observe_uncertain()
        self.verify_uploads()
        m = self.model
        for repo in REPOS:
            for d, data in m.blobs[repo].items():
                s, h, b = self.get(f"/v2/{repo}/blobs/{d}", [200])
                if sha256(b) != d or b != data:
                    raise Failure(f"blob {repo}@{d} serves {len(b)} bytes hashing to {sha256(b)}")
            for d, body in m.manifests[repo].items():
                s, h, b = self.get(f"/v2/{repo}/manifests/{d}", [200])
                if b != body:
                    raise Failure(f"manifest {repo}@{d} serves other bytes")
            s, h, b = self.client.request("GET", f"/v2/{repo}/tags/list")
            listed = set(json.loads(b).get("tags") or []) if s == 200 else set()
            if listed != set(m.tags[repo]):
                raise Failure(f"{repo} lists tags {sorted(listed)}, wanted {sorted(m.tags[repo])}")
            for t, d in m.tags[repo].items():
                s, h, b = self.get(f"/v2/{repo}/manifests/{t}", [200])
                if h.get("docker-content-digest") != d or sha256(b) != d:
                    raise Failure(f"tag {repo}:{t} serves {sha256(b)}, wanted {d}")
            referrers = {}  # subject -> the model's manifests referring to it
            for d, body in m.manifests[repo].items():
                if subject_of(body):
                    referrers.setdefault(subject_of(body), set()).add(d)
            for subject, want in sorted(referrers.items()):
                s, h, b = self.get(f"/v2/{repo}/referrers/{subject}", [200])
                listed = {x["digest"] for x in json.loads(b)["manifests"]}
                if listed != want:
                    raise Failure(f"{repo}: referrers of {subject} are {sorted(listed)}, "
                                  f"wanted {sorted(want)}")
        t0 = time.monotonic()
        self.verify_tree()
        self.timing["tree"] += time.monotonic() - t0

    def stored_files(self):
        """The paths below docker/registry/v2 of every file (S3: object) outside the _uploads
        areas. On S3 also fails on a pending multipart upload there: an object half made."""
        if self.bucket:
            prefix = f"{self.s3_root}/docker/registry/v2/"
            for key in self.bucket.multipart_uploads(prefix):
                if "/_uploads/" not in key:
                    raise Failure(f"pending multipart upload outside the upload area: {key}")
            return [k[len(prefix):] for k in self.bucket.keys(prefix) if "/_uploads/" not in k]
        v2 = os.path.join(self.server.root, "docker/registry/v2")
        files = []
        for dirpath, dirnames, filenames in os.walk(v2):
            rel_dir = os.path.relpath(dirpath, v2)
            if "/_uploads" in "/" + rel_dir:
                dirnames.clear()
                continue
            files += [os.path.join(rel_dir, name) for name in filenames]
        return files

    def verify_tree(self):
        """Walks the storage: outside _uploads only blob data and links, and exactly the model's
        links."""
        repo_re = "|".join(re.escape(r) for r in REPOS)
        pattern = re.compile(
            r"blobs/sha256/[0-9a-f]{2}/[0-9a-f]{64}/data|"
            rf"repositories/({repo_re})/(_layers|_manifests/revisions)/sha256/([0-9a-f]{{64}})/link|"
            rf"repositories/({repo_re})/_manifests/tags/([^/]+)/(current|index/sha256/[0-9a-f]{{64}})/link|"
            rf"repositories/({repo_re})/_referrers/sha256/([0-9a-f]{{64}})/sha256/([0-9a-f]{{64}})/link")
        layers = {r: set() for r in REPOS}
        revisions = {r: set() for r in REPOS}
        entries = {r: set() for r in REPOS}  # (subject, referrer)
        for rel in self.stored_files():
            match = pattern.fullmatch(rel)
            if not match:
                raise Failure(f"stray file outside the upload area: {rel}")
            if match.group(1):
                (layers if match.group(2) == "_layers" else revisions)[match.group(1)].add(
                    "sha256:" + match.group(3))
            elif match.group(7):
                entries[match.group(7)].add(("sha256:" + match.group(8),
                                             "sha256:" + match.group(9)))
        for repo in REPOS:
            if layers[repo] != set(self.model.blobs[repo]):
                raise Failure(f"{repo}: layer links stored {sorted(layers[repo])} != "
                              f"model {sorted(self.model.blobs[repo])}")
            if revisions[repo] != set(self.model.manifests[repo]):
                raise Failure(f"{repo}: revision links stored differ from the model: "
                              f"{sorted(revisions[repo] ^ set(self.model.manifests[repo]))}")
            for subject, referrer in entries[repo]:
                if referrer not in self.pushed or subject_of(self.pushed[referrer]) != subject:
                    raise Failure(f"{repo}: referrers index files {referrer} under {subject}, "
                                  f"which it was never pushed with")
            for d, body in self.model.manifests[repo].items():
                if subject_of(body) and (subject_of(body), d) not in entries[repo]:
                    raise Failure(f"{repo}: manifest {d} has subject {subject_of(body)} but no "
                                  f"referrers index entry")

    # ------------------------------------------------------------------ main loop
    def run(self):
        started = time.monotonic()
        try:
            while self.stats["kills"] < self.kills_wanted:
                if time.monotonic() - started > self.budget:
                    raise Failure(f"time budget of {self.budget} s spent after "
                                  f"{self.stats['kills']} kills")
                self.cycle()
        except Failure as e:
            print(f"FAILED after {self.stats['kills']} kills (seed {self.seed}): {e}", flush=True)
            print("server log tail:\n" + self.server.log_tail(), flush=True)
            print(f"storage kept at {self.server.root if not self.bucket else self.s3_root}",
                  flush=True)
            return 1
        finally:
            self.server.reap()
        elapsed = time.monotonic() - started
        print(f"PASS: {self.stats['kills']} kills in {elapsed:.1f} s (seed {self.seed}); "
              + ", ".join(f"{k} {v}" for k, v in self.stats.items() if k != "kills")
              + "; seconds in " + ", ".join(f"{k} {v:.1f}" for k, v in self.timing.items()),
              flush=True)
        if self.proxy:
            print("S3 kill points: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.proxy.kill_points.items())), flush=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return 0


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1, 1 << 31))
    kills = int(os.environ.get("CRASH_KILLS") or 200)
    budget = float(os.environ.get("CRASH_BUDGET_S") or 210)
    storage = os.environ.get("CRASH_STORAGE") or "filesystem"
    if storage not in CHUNKS:
        print(f"CRASH_STORAGE={storage}: filesystem or s3", file=sys.stderr)
        return 2
    print(f"crash harness: seed {seed} (CRASH_SEED={seed} reproduces it), {kills} kills on "
          f"{storage}", flush=True)
    return Harness(os.path.abspath(sys.argv[1]), seed, kills, budget, storage).run()


if __name__ == "__main__":
    sys.exit(main())
