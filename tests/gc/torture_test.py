#!/usr/bin/env python3
"""Garbage-collection torture: clients push, move, delete and pull while collections run back to
back with a short grace window, then the store must hold exactly what is still referenced.

usage: torture_test.py ONSEN_BINARY [--seconds 90] [--workers 4] [--servers 1|2] [--storage filesystem|s3]
Environment: GC_TORTURE_SEED (default random, printed), GC_TORTURE_SECONDS (overrides --seconds).

The servers (one, or two sharing the store) run the online collector: storage.gc interval 1s,
grace GRACE, deleteuntagged (so untagged revisions go too, not only deleted ones). A build whose
server has no /admin/gc gets a loop of `onsen garbage-collect -m --grace GRACE` against the same
store instead (the output says which). Each worker owns two repositories (so its model of their
tags is exact) and shares a pool of layers with every other worker; it repeatedly:
  - pushes an image (a config and a layer of its own, 1-3 layers of the pool) by tag, each blob
    by a monolithic upload, a chunked one, a cross-repository mount from a repository the blob
    was acknowledged in, or skipped after a HEAD that answers 200;
  - pushes an index of two such images (children by digest, the index by tag);
  - pushes a referrer (an artifact whose subject is a tagged image of the repository) by digest;
  - deletes a tag, or a manifest by digest;
  - pulls one of its tagged images whole, digests checked, sometimes through the other server.
Failures (each one fails the test):
  - a pull during the run of an image whose push was acknowledged and whose tag still names it
    does not come back whole (a manifest or blob 404, wrong bytes);
  - a manifest PUT answers MANIFEST_BLOB_UNKNOWN for a blob this push uploaded or mounted (201)
    less than GRACE - 1 s before, or for a blob it skipped after a HEAD 200 while a tagged image
    referenced that blob from the HEAD until the answer. (A skipped blob whose last reference was
    deleted meanwhile may be collected: that push is retried with uploads and counted as a
    "reuse race"; docs/ARCHITECTURE.md "Garbage collection" explains why a HEAD promises nothing.)
  - after the load: the servers stop, `onsen garbage-collect -m` (grace 0, Distribution's
    behaviour on a stopped store) runs, and the blobs in the store must be exactly those of the
    images still tagged, the children of tagged indexes and the referrers of kept manifests
    (every acknowledged image kept, every deleted or untagged one's data gone); `onsen check`
    exits 0; a server started again pulls every tagged image whole;
  - fewer than 3 collections ran during the load.
"""

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import checks  # noqa: E402
from checks import check, finish  # noqa: E402
from gc_lib import OCI_INDEX, GcServer, Store, pull  # noqa: E402
from onsen_proc import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Client, NotReady,  # noqa: E402
                        location_path, pseudo_random, sha256, with_query)

GRACE = 5  # seconds
TAGS = ["latest", "v1", "v2", "v3"]
ARTIFACT = "application/vnd.example.signature.v1"


def manifest_body(config, layers, subject=None, artifact=None):
    """OCI image manifest bytes; config and layers are (digest, size)."""
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": artifact or OCI_CONFIG, "digest": config[0], "size": config[1]},
         "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": n} for d, n in layers]}
    if subject:
        m["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject[0], "size": subject[1]}
    return json.dumps(m, sort_keys=True).encode()


class Shared:
    """What all workers see, under one lock: the layer pool, where each blob was acknowledged
    (mount sources), every worker's repositories (to know whether a tagged image references a
    blob), and the failures and counters."""

    def __init__(self, rng):
        self.lock = threading.Lock()
        self.pool = [pseudo_random(rng.randint(1000, 96 * 1024), b"pool%d" % i) for i in range(24)]
        self.where = {}  # digest -> repositories it was acknowledged in
        self.repos = {}  # repo -> Repo
        self.unpinned_at = {}  # digest -> last time no tagged image referenced it
        self.history = {}  # digest -> [(wall time, what happened to it)], printed with a failure
        self.failures = []
        self.counts = {"pushes": 0, "indexes": 0, "referrers": 0, "tag_deletes": 0, "manifest_deletes": 0,
                       "pulls": 0, "mounts": 0, "head_skips": 0, "chunked": 0, "monolithic": 0, "reuse_races": 0,
                       "pushes_refused": 0}

    def fail(self, what, digest=None):
        with self.lock:
            self.failures.append(what)
            lines = ["%s %s" % (time.strftime("%H:%M:%S", time.gmtime(t)) + ".%03d" % (t % 1 * 1000), e)
                     for t, e in self.history.get(digest, [])[-12:]]
        print("FAILURE: " + what + "".join("\n     " + x for x in lines), flush=True)

    def note(self, digest, what):
        """One event in the history of a blob (caller may hold the lock: a plain append)."""
        self.history.setdefault(digest, []).append((time.time(), what))

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def kept_blobs(self):
        """Every blob a collection with -m keeps (caller holds the lock)."""
        out = set()
        for r in self.repos.values():
            out |= r.kept_blobs()
        return out

    def change(self, fn):
        """Runs fn (a model change) under the lock; blobs it unpinned get unpinned_at = now."""
        with self.lock:
            before = self.kept_blobs()
            fn()
            now = time.monotonic()
            for d in before - self.kept_blobs():
                self.unpinned_at[d] = now
                self.note(d, "no tagged image references it any more")

    def pinned(self, d):
        with self.lock:
            return d in self.kept_blobs()


class Repo:
    """The model of one repository: manifests that got 201 and were not deleted (digest -> dict
    with blobs, children, subject), tags (tag -> digest)."""

    def __init__(self, name):
        self.name = name
        self.manifests = {}
        self.tags = {}

    def kept(self):
        """The manifests a collection with -m keeps: tagged ones, children of kept indexes,
        referrers whose subject is kept (to a fixpoint)."""
        kept = set(self.tags.values())
        while True:
            more = set()
            for d in kept:
                more |= set(self.manifests.get(d, {}).get("children", ()))
            for d, m in self.manifests.items():
                if m.get("subject") in kept:
                    more.add(d)
            if more <= kept:
                return kept
            kept |= more

    def kept_blobs(self):
        out = set()
        for d in self.kept():
            out.add(d)
            out |= set(self.manifests[d]["blobs"])
        return out


class Worker(threading.Thread):
    def __init__(self, i, shared, clients, seed, deadline):
        super().__init__(daemon=True)
        self.i, self.shared, self.clients = i, shared, clients
        self.rng = random.Random(seed + i)
        self.deadline = deadline
        self.repos = [Repo(f"torture/w{i}/{n}") for n in ("a", "b")]
        with shared.lock:
            for r in self.repos:
                shared.repos[r.name] = r
        self.n = 0
        self.error = None

    def client(self):
        return self.rng.choice(self.clients)

    def unique(self, what):
        self.n += 1
        return pseudo_random(self.rng.randint(200, 4000), f"w{self.i} {what} {self.n} {time.time()}".encode())

    # ------------------------------------------------------------------ blobs
    def upload(self, c, repo, data, chunked):
        d = sha256(data)
        r = c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        if r.status != 202:
            raise AssertionError(f"POST uploads in {repo}: {r!r}")
        return self.finish_upload(c, repo, location_path(r), data, chunked)

    def finish_upload(self, c, repo, loc, data, chunked):
        d = sha256(data)
        if chunked:
            self.shared.count("chunked")
            pos = 0
            step = max(1, len(data) // self.rng.randint(2, 4))
            while pos < len(data):
                piece = data[pos:pos + step]
                r = c.request("PATCH", loc, body=piece, headers={
                    "Content-Type": "application/octet-stream", "Content-Range": f"{pos}-{pos + len(piece) - 1}",
                    "Content-Length": str(len(piece))})
                if r.status != 202:
                    raise AssertionError(f"PATCH in {repo}: {r!r}")
                loc = location_path(r)
                pos += len(piece)
            r = c.request("PUT", with_query(loc, "digest=" + d), headers={"Content-Length": "0"})
        else:
            self.shared.count("monolithic")
            r = c.request("PUT", with_query(loc, "digest=" + d), body=data,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        if r.status != 201:
            raise AssertionError(f"PUT upload {d} in {repo}: {r!r}")
        return d

    def send_blob(self, c, repo, data, force_upload):
        """Makes blob data exist in repo; returns (how, time): how is "ack" (upload or mount
        answered 201) or "head" (a HEAD answered 200 and the upload was skipped)."""
        d = sha256(data)
        way = "upload" if force_upload else self.rng.choice(["head", "mount", "upload", "upload"])
        if way == "head":
            t = time.monotonic()
            if c.request("HEAD", f"/v2/{repo}/blobs/{d}").status == 200:
                self.shared.count("head_skips")
                pinned = self.shared.pinned(d)
                self.shared.note(d, f"w{self.i} HEAD 200 in {repo}, upload skipped (referenced: {pinned})")
                return "head", t, pinned
        if way in ("head", "mount"):
            with self.shared.lock:
                sources = sorted(self.shared.where.get(d, set()) - {repo})
            if sources:
                src = self.rng.choice(sources)
                r = c.request("POST", f"/v2/{repo}/blobs/uploads/?mount={d}&from={src}",
                              headers={"Content-Length": "0"})
                if r.status == 201:
                    self.shared.count("mounts")
                    self.acked(repo, d, f"mounted from {src}")
                    return "ack", time.monotonic(), True
                if r.status != 202:
                    raise AssertionError(f"mount {d} from {src} into {repo}: {r!r}")
                # Not mountable (collected in the source): the spec's fallback, an upload session.
                self.finish_upload(c, repo, location_path(r), data, self.rng.random() < 0.5)
                self.acked(repo, d, f"uploaded after a refused mount from {src}")
                return "ack", time.monotonic(), True
        self.upload(c, repo, data, self.rng.random() < 0.4)
        self.acked(repo, d, "uploaded")
        return "ack", time.monotonic(), True

    def acked(self, repo, d, how):
        with self.shared.lock:
            self.shared.where.setdefault(d, set()).add(repo)
            self.shared.note(d, f"w{self.i} {how} into {repo}: 201")

    # ------------------------------------------------------------------ manifests
    def put_manifest(self, c, repo, ref, body, sent, media=OCI_MANIFEST):
        """PUT a manifest whose blobs were sent (digest -> (how, time, pinned at the HEAD)).
        Returns True on 201; False when it was refused for a blob a collection may rightly have
        taken (the caller retries with uploads); a refusal for any other blob is a failure."""
        d = sha256(body)
        r = c.request("PUT", f"/v2/{repo.name}/manifests/{ref}", body=body, headers={"Content-Type": media})
        t = time.monotonic()
        if r.status == 201:
            if r.header("docker-content-digest") != d:
                self.shared.fail(f"PUT {repo.name}:{ref} answered digest {r.header('docker-content-digest')}, not {d}")
            with self.shared.lock:
                for b in sent:
                    self.shared.note(b, f"w{self.i} manifest {d[:19]} PUT as {repo.name}:{ref[:26]}: 201")
            return True
        if r.status != 400 or r.code() not in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_INVALID"):
            raise AssertionError(f"PUT manifest {repo.name}:{ref}: {r!r}")
        missing = [b for b in sent if c.request("HEAD", f"/v2/{repo.name}/blobs/{b}").status != 200]
        for b in missing:
            how, tb, pinned = sent[b]
            with self.shared.lock:
                still = pinned and self.shared.unpinned_at.get(b, -1) < tb and b in self.shared.kept_blobs()
            if how == "ack" and t - tb < GRACE - 1:
                self.shared.fail(f"PUT {repo.name}:{ref}: {r.code()} for {b}, acknowledged {t - tb:.1f} s before", b)
            elif how == "head" and still:
                self.shared.fail(f"PUT {repo.name}:{ref}: {r.code()} for {b}, HEAD 200 {t - tb:.1f} s before and "
                                 "referenced by a tagged image all along", b)
        if not missing:
            self.shared.fail(f"PUT {repo.name}:{ref}: {r!r}, yet every blob it names is there")
        self.shared.count("reuse_races")
        return False

    def image(self, repo, c, force_upload):
        """Sends an image's blobs; returns (manifest body, blobs, sent)."""
        config = self.unique("config")
        own = self.unique("layer")
        layers = [own] + self.rng.sample(self.shared.pool, self.rng.randint(1, 3))
        self.rng.shuffle(layers)
        sent = {}
        for data in [config] + layers:
            sent[sha256(data)] = self.send_blob(c, repo.name, data, force_upload or data in (config, own))
        body = manifest_body((sha256(config), len(config)), [(sha256(x), len(x)) for x in layers])
        return body, [sha256(config)] + [sha256(x) for x in layers], sent

    def record(self, repo, d, blobs, tag=None, **extra):
        def fn():
            repo.manifests[d] = dict(blobs=blobs, **extra)
            if tag:
                repo.tags[tag] = d
        self.shared.change(fn)

    def op_push(self):
        repo, tag = self.rng.choice(self.repos), self.rng.choice(TAGS)
        c = self.client()
        for attempt in range(3):
            body, blobs, sent = self.image(repo, c, attempt > 0)
            if self.put_manifest(c, repo, tag, body, sent):
                self.record(repo, sha256(body), blobs, tag)
                self.shared.count("pushes")
                return
        self.shared.count("pushes_refused")

    def op_index(self):
        repo, tag = self.rng.choice(self.repos), self.rng.choice(TAGS)
        c = self.client()
        children = []
        for arch in ("amd64", "arm64"):
            for attempt in range(3):
                body, blobs, sent = self.image(repo, c, attempt > 0)
                d = sha256(body)
                if self.put_manifest(c, repo, d, body, sent):
                    self.record(repo, d, blobs)
                    children.append((d, len(body), arch))
                    break
            else:
                self.shared.count("pushes_refused")
                return
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": n, "platform": {"os": "linux", "architecture": a}}
            for d, n, a in children]}, sort_keys=True).encode()
        r = c.request("PUT", f"/v2/{repo.name}/manifests/{tag}", body=index, headers={"Content-Type": OCI_INDEX})
        if r.status != 201:
            # The children are younger than grace: a collection may not have taken them.
            self.shared.fail(f"PUT index {repo.name}:{tag}: {r!r}")
            return
        self.record(repo, sha256(index), [], tag, children=[d for d, _, _ in children])
        self.shared.count("indexes")

    def op_referrer(self):
        repo = self.rng.choice(self.repos)
        with self.shared.lock:
            subjects = sorted({d for d in repo.tags.values() if "children" not in repo.manifests[d]})
        if not subjects:
            return
        subject = self.rng.choice(subjects)
        c = self.client()
        r = c.request("GET", f"/v2/{repo.name}/manifests/{subject}", headers={"Accept": OCI_MANIFEST})
        if r.status != 200:
            self.shared.fail(f"GET subject {repo.name}@{subject} (tagged): {r!r}")
            return
        size = len(r.body)
        for attempt in range(3):
            cfg, sig = b"{}", self.unique("signature")
            sent = {sha256(x): self.send_blob(c, repo.name, x, True) for x in (cfg, sig)}
            body = manifest_body((sha256(cfg), len(cfg)), [(sha256(sig), len(sig))], (subject, size), ARTIFACT)
            d = sha256(body)
            if self.put_manifest(c, repo, d, body, sent):
                self.record(repo, d, [sha256(cfg), sha256(sig)], subject=subject)
                self.shared.count("referrers")
                return

    def op_delete_tag(self):
        repo = self.rng.choice(self.repos)
        if not repo.tags:
            return
        tag = self.rng.choice(sorted(repo.tags))
        r = self.client().request("DELETE", f"/v2/{repo.name}/manifests/{tag}")
        if r.status != 202:
            raise AssertionError(f"DELETE tag {repo.name}:{tag}: {r!r}")
        self.shared.change(lambda: repo.tags.pop(tag))
        self.shared.count("tag_deletes")

    def op_delete_manifest(self):
        repo = self.rng.choice(self.repos)
        with self.shared.lock:
            kept = repo.kept()
            # Not a child of a kept index: that index would no longer pull whole (the test's doing).
            children = {c for d in kept for c in repo.manifests[d].get("children", ())}
            candidates = sorted(set(repo.manifests) - children)
        if not candidates:
            return
        d = self.rng.choice(candidates)
        kept = d in kept
        r = self.client().request("DELETE", f"/v2/{repo.name}/manifests/{d}")
        # 404: an untagged revision a collection took already.
        if r.status != 202 and not (r.status == 404 and not kept):
            raise AssertionError(f"DELETE {repo.name}@{d} ({'kept' if kept else 'not kept'}): {r!r}")

        def fn():
            repo.manifests.pop(d)
            for t in [t for t, td in repo.tags.items() if td == d]:
                repo.tags.pop(t)
        self.shared.change(fn)
        self.shared.count("manifest_deletes")

    def op_pull(self):
        repo = self.rng.choice(self.repos)
        if not repo.tags:
            return
        tag = self.rng.choice(sorted(repo.tags))
        err = pull(self.client(), repo.name, tag, repo.tags[tag])
        if err:
            m = re.search(r"sha256:[0-9a-f]{64}", err)
            self.shared.fail("pull during the run: " + err, m and m.group(0))
        self.shared.count("pulls")

    def run(self):
        ops = [(self.op_push, 30), (self.op_index, 8), (self.op_referrer, 8), (self.op_delete_tag, 8),
               (self.op_delete_manifest, 10), (self.op_pull, 30)]
        try:
            while time.monotonic() < self.deadline and not self.shared.failures:
                self.rng.choices([f for f, _ in ops], [w for _, w in ops])[0]()
        except Exception as e:  # a request that must succeed did not: the test's failure
            self.error = e
            self.shared.fail(f"worker {self.i}: {e!r}")


class CliCollector(threading.Thread):
    """`onsen garbage-collect -m --grace GRACE` back to back: the collector of a build whose
    server has none."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.runs = self.failed = 0
        self.last = ""

    def run(self):
        while not self.stop.is_set():
            rc, out = self.server.collect("-m", "-q", "--grace", f"{GRACE}s")
            self.runs += 1
            if rc != 0:
                self.failed += 1
                self.last = out[-2000:]
            self.stop.wait(0.2)


def start_all(servers):
    """Starts the servers with storage.gc; True when they collect online. A build without online
    collection refuses the key (or has no /admin/gc): they start without it, and False."""
    try:
        for s in servers:
            s.start()
        if servers[0].gc_state(Client(servers[0].port)) is not None:
            return True
    except NotReady as e:
        print(f"no online collection in this build: {str(e).splitlines()[-1]}", flush=True)
    for s in servers:
        s.stop()
        s.gc = None
        s.start()
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--servers", type=int, default=1, choices=(1, 2))
    ap.add_argument("--storage", default="filesystem", choices=("filesystem", "s3"))
    a = ap.parse_args()
    seconds = float(os.environ.get("GC_TORTURE_SECONDS", a.seconds))
    seed = int(os.environ.get("GC_TORTURE_SEED", random.randrange(1 << 30)))
    print(f"seed {seed}, {seconds:.0f} s, {a.workers} workers, {a.servers} server(s), {a.storage}", flush=True)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="onsen-gc-torture-")
    store = Store(tmp, a.storage == "s3", "gc-torture")
    gc = ["interval: 1s", f"grace: {GRACE}s", "deleteuntagged: true"]
    # Log level info: the collector's progress ("Deleting blob: <path>"), with times, beside a failure.
    servers = [GcServer(a.binary, os.path.join(tmp, f"server{i}"), store, gc, "info") for i in range(a.servers)]
    cli = None
    ok = False
    try:
        online = start_all(servers)
        print("collector: " + ("online (storage.gc, every server)" if online else
                               f"`onsen garbage-collect -m --grace {GRACE}s` in a loop (no /admin/gc)"), flush=True)
        if not online:
            cli = CliCollector(servers[0])
            cli.start()
        shared = Shared(rng)
        deadline = time.monotonic() + seconds
        workers = [Worker(i, shared, [Client(s.port, timeout=60) for s in servers], seed, deadline)
                   for i in range(a.workers)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(seconds + 300)
        if cli:
            cli.stop.set()
            cli.join(600)
            runs, bad = cli.runs, cli.failed
            check("every collection run exited 0", bad == 0, cli.last)
        else:
            states = [s.gc_state(Client(s.port)) for s in servers]
            runs = sum(st.get("runs", 0) for st in states)
            print("collector states: " + json.dumps(states), flush=True)
        print("counts: " + json.dumps(dict(shared.counts, collections=runs)), flush=True)
        check(f"at least 3 collections ran during the load ({runs})", runs >= 3)
        check("no failure during the load (pulls whole, no BLOB_UNKNOWN for a blob told to exist)",
              not shared.failures, "\n".join(shared.failures[:20]))
        check("the load did something (pushes, deletes, pulls)",
              shared.counts["pushes"] > 0 and shared.counts["manifest_deletes"] > 0 and shared.counts["pulls"] > 0,
              json.dumps(shared.counts))
        for s in servers:
            rc = s.stop()
            check(f"server on port {s.port} stopped cleanly ({rc})", rc == 0, s.log_tail())

        rc, out = servers[0].collect("-m")
        check("final `onsen garbage-collect -m` (grace 0, stopped store) exits 0", rc == 0, out[-3000:])
        want = shared.kept_blobs()
        have = store.blobs()
        check(f"every blob of a kept image is in the store ({len(want)})", not (want - have),
              sorted(want - have)[:20])
        check(f"no other blob is left ({len(have)} in the store)", not (have - want), sorted(have - want)[:20])
        rc, out = servers[0].check()
        check("`onsen check` exits 0", rc == 0, out[-3000:])

        servers[0].gc = None
        servers[0].start()
        c = Client(servers[0].port)
        errors = []
        n = 0
        for repo in shared.repos.values():
            for tag, d in sorted(repo.tags.items()):
                n += 1
                err = pull(c, repo.name, tag, d)
                if err:
                    errors.append(err)
        check(f"every tagged image pulls whole after the final collection ({n})", not errors, "\n".join(errors[:20]))
        ok = True
    finally:
        if cli:
            cli.stop.set()
        for s in servers:
            s.stop()
        if ok and not checks.failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp} (server logs, store)", flush=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
