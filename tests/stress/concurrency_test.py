#!/usr/bin/env python3
"""Concurrency: 32 clients at once push images sharing layers into the same and different
repositories (blobs by monolithic and chunked upload and by cross-repository mount; manifests by
tag and by digest), move shared tags, delete manifests and tags, and pull, for
STRESS_CONCURRENCY_SECONDS (default 40).

Checked while it runs: no 5xx and no transport error; no client ever sees a blob it was told was
in a repository (HEAD 200, upload 201, mount 201) reported missing (HEAD/GET 404, manifest PUT
MANIFEST_BLOB_UNKNOWN) - blobs are never deleted here; a manifest a client pushed and nobody
deleted is never 404; every manifest served has the digest it is served under, and every blob of it
can be fetched with the right digest.
Checked afterwards: every push whose manifest was not deleted pulls whole with the right digests;
every listed tag resolves to a manifest that exists; `onsen check` finds the storage clean."""

import json
import os
import random
import threading
import time

from stress_lib import (Client, Server, image_manifest, location_path, log, main_wrapper,
    mount_blob, push_blob_chunked, push_blob_monolithic, put_manifest, random_bytes, run_weighted,
    sha256)

CLIENTS = 32
REPOS = ["stress/a", "stress/b", "stress/c", "stress/nested/d", "stress/nested/e", "other/f"]
TAGS = ["latest", "stable", "v1", "v2"]
POOL_SIZE = 24
DUELS = 2  # pairs of clients racing DELETE against PUT-by-tag on one manifest


class State:
    """What the clients were told, shared by all threads (under `lock`)."""

    def __init__(self, pool):
        self.lock = threading.Lock()
        self.pool = pool  # digest -> bytes: shared layers
        self.linked = {r: set() for r in REPOS}  # blobs the server confirmed per repository
        self.pushes = []  # dicts: repo, digest, body, blobs {digest: bytes}, deleted, deleting
        self.by_digest = {}  # (repo, digest) -> push
        self.violations = []
        self.failures = []
        self.counts = {}

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
        log("VIOLATION:", text)

    def failure(self, text):
        with self.lock:
            self.failures.append(text)
        log("FAILURE:", text)

    def confirm(self, repo, digest):
        with self.lock:
            self.linked[repo].add(digest)

    def is_linked(self, repo, digest):
        with self.lock:
            return digest in self.linked[repo]


class Worker(threading.Thread):
    def __init__(self, index, port, state, deadline):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.rng = random.Random(1000 + index)
        self.client = Client(port, timeout=60)
        self.state = state
        self.deadline = deadline
        self.seq = 0

    def run(self):
        ops = [(self.push, 45), (self.pull, 30), (self.retag, 8), (self.delete_manifest, 7),
               (self.delete_tag, 5), (self.listing, 5)]
        run_weighted(self.rng, ops, self.deadline, self.client,
                     lambda what: self.state.failure(f"{self.name} {what}"))

    def check_status(self, res, allowed, what):
        if res.status not in allowed:
            self.state.failure(f"{what}: {res.status} {res.body[:300]!r}")
            return False
        return True

    # -- push -------------------------------------------------------------------------------

    def ensure_blob(self, repo, digest, data):
        """Makes the blob present in repo by whichever way the dice say; True when confirmed."""
        st = self.state
        known = st.is_linked(repo, digest)
        how = self.rng.random()
        if how < 0.3:
            res = self.client.request("HEAD", f"/v2/{repo}/blobs/{digest}")
            st.count("blob HEAD")
            if res.status == 200:
                if int(res.header("content-length")) != len(data):
                    st.violation(f"HEAD {repo}@{digest}: length {res.header('content-length')}")
                st.confirm(repo, digest)
                return True
            if res.status == 404 and known:
                st.violation(f"HEAD {repo} {digest}: 404 after the server confirmed it")
            if not self.check_status(res, (404,), f"HEAD blob {repo}"):
                return False
        if how < 0.55:
            with st.lock:
                sources = [r for r in REPOS if r != repo and digest in st.linked[r]]
            if sources:
                source = self.rng.choice(sources)
                res = mount_blob(self.client, repo, source, digest)
                st.count("blob mount")
                if res.status == 201:
                    st.confirm(repo, digest)
                    return True
                if res.status == 202:
                    st.violation(f"mount {digest} from {source} into {repo}: 202 fallback although "
                                 f"the source had it")
                else:
                    self.check_status(res, (201,), f"mount into {repo}")
                return False
        if self.rng.random() < 0.5:
            res = push_blob_monolithic(self.client, repo, data)
            st.count("blob upload monolithic")
        else:
            res = push_blob_chunked(self.client, repo, data, chunks=self.rng.randint(1, 4))
            st.count("blob upload chunked")
        if not self.check_status(res, (201,), f"upload into {repo}"):
            return False
        if res.header("docker-content-digest") != digest:
            st.violation(f"upload {repo}: digest header {res.header('docker-content-digest')}")
        st.confirm(repo, digest)
        return True

    def push(self):
        st = self.state
        repo = self.rng.choice(REPOS)
        self.seq += 1
        config = json.dumps({"client": self.index, "seq": self.seq,
                             "salt": self.rng.getrandbits(64)}).encode()
        layer_digests = self.rng.sample(sorted(st.pool), self.rng.randint(1, 4))
        blobs = {sha256(config): config}
        for d in layer_digests:
            blobs[d] = st.pool[d]
        for d, data in blobs.items():
            if not self.ensure_blob(repo, d, data):
                return
        body = image_manifest(config, [st.pool[d] for d in layer_digests])
        digest = sha256(body)
        ref = self.rng.choice(TAGS) if self.rng.random() < 0.6 else digest
        res = put_manifest(self.client, repo, ref, body)
        st.count("manifest PUT")
        if res.status == 400 and ("MANIFEST_BLOB_UNKNOWN" in res.error_codes()
                                  or "BLOB_UNKNOWN" in res.error_codes()):
            st.violation(f"PUT manifest {repo}:{ref}: {res.body[:300]!r} although every blob was "
                         "confirmed present")
            return
        if not self.check_status(res, (201,), f"PUT manifest {repo}:{ref}"):
            return
        if res.header("docker-content-digest") != digest:
            st.violation(f"PUT manifest {repo}: digest header {res.header('docker-content-digest')}")
        push = {"repo": repo, "digest": digest, "body": body, "blobs": blobs, "deleted": False,
                "deleting": False}
        with st.lock:
            st.pushes.append(push)
            st.by_digest[(repo, digest)] = push

    # -- pull -------------------------------------------------------------------------------

    def pull(self):
        st = self.state
        repo = self.rng.choice(REPOS)
        with st.lock:
            mine = [p for p in st.pushes if p["repo"] == repo and not p["deleted"]]
        push = None
        if mine and self.rng.random() < 0.5:
            push = self.rng.choice(mine)
            ref = push["digest"]
        else:
            ref = self.rng.choice(TAGS)
        res = self.client.request("GET", f"/v2/{repo}/manifests/{ref}",
                                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        st.count("manifest GET")
        if res.status == 404:
            if push is not None:
                with st.lock:
                    gone = push["deleted"] or push["deleting"]
                if not gone:
                    st.violation(f"GET {repo}@{ref}: 404 but nobody deleted it")
            return
        if not self.check_status(res, (200,), f"GET manifest {repo}:{ref}"):
            return
        digest = sha256(res.body)
        if res.header("docker-content-digest") != digest:
            st.violation(f"GET {repo}:{ref}: header {res.header('docker-content-digest')} "
                         f"body {digest}")
        if push is not None and res.body != push["body"]:
            st.violation(f"GET {repo}@{ref}: other bytes than pushed")
        manifest = json.loads(res.body)
        for desc in [manifest["config"]] + manifest["layers"]:
            res = self.client.request("GET", f"/v2/{repo}/blobs/{desc['digest']}")
            st.count("blob GET")
            if res.status == 404:
                # Blobs are never deleted in this test; a served manifest's blobs are linked.
                st.violation(f"GET blob {repo}@{desc['digest']} of served manifest {digest}: 404")
                continue
            if not self.check_status(res, (200,), f"GET blob {repo}"):
                continue
            if sha256(res.body) != desc["digest"] or len(res.body) != desc["size"]:
                st.violation(f"GET blob {repo}@{desc['digest']}: wrong content")

    # -- tags and deletes -------------------------------------------------------------------

    def retag(self):
        """Moves a shared tag onto an earlier push (PUT its bytes again by tag)."""
        st = self.state
        with st.lock:
            live = [p for p in st.pushes if not p["deleted"] and not p["deleting"]]
        if not live:
            return
        push = self.rng.choice(live)
        res = put_manifest(self.client, push["repo"], self.rng.choice(TAGS), push["body"])
        st.count("manifest PUT (retag)")
        if res.status == 400 and "MANIFEST_BLOB_UNKNOWN" in res.error_codes():
            st.violation(f"retag {push['repo']}: {res.body[:300]!r}")
            return
        self.check_status(res, (201,), f"retag {push['repo']}")

    def delete_manifest(self):
        st = self.state
        with st.lock:
            live = [p for p in st.pushes if not p["deleted"] and not p["deleting"]]
            if len(live) < 8:
                return
            push = self.rng.choice(live)
            push["deleting"] = True
        res = self.client.request("DELETE", f"/v2/{push['repo']}/manifests/{push['digest']}")
        st.count("manifest DELETE")
        with st.lock:
            push["deleting"] = False
            push["deleted"] = res.status == 202
        if res.status == 404:
            st.violation(f"DELETE {push['repo']}@{push['digest']}: 404 but nobody deleted it")
            return
        self.check_status(res, (202,), f"DELETE manifest {push['repo']}")

    def delete_tag(self):
        repo = self.rng.choice(REPOS)
        res = self.client.request("DELETE", f"/v2/{repo}/manifests/{self.rng.choice(TAGS)}")
        self.state.count("tag DELETE")
        self.check_status(res, (202, 404), f"DELETE tag {repo}")

    def listing(self):
        if self.rng.random() < 0.5:
            res = self.client.request("GET", "/v2/_catalog?n=3")
            self.state.count("catalog GET")
            self.check_status(res, (200,), "catalog")
        else:
            repo = self.rng.choice(REPOS)
            res = self.client.request("GET", f"/v2/{repo}/tags/list")
            self.state.count("tags/list GET")
            if self.check_status(res, (200, 404), f"tags/list {repo}") and res.status == 200:
                tags = json.loads(res.body)["tags"] or []
                if tags != sorted(set(tags)) or any(t not in TAGS for t in tags):
                    self.state.violation(f"tags/list {repo}: {tags}")


class Duel(threading.Thread):
    """Two clients race on one manifest, round after round: one deletes it by digest while the
    other PUTs it again by tag. Whatever wins, a tag must never be left naming a manifest that
    is gone (it must resolve, or not be listed)."""

    def __init__(self, pair, role, port, state, deadline, barrier, shared):
        super().__init__(name=f"duel-{pair}-{role}", daemon=True)
        self.repo = f"stress/duel{pair}"
        self.role = role
        self.client = Client(port, timeout=60)
        self.state = state
        self.deadline = deadline
        self.barrier = barrier
        self.shared = shared
        self.rng = random.Random(pair * 10 + role)

    def run(self):
        st = self.state
        layer = st.pool[sorted(st.pool)[0]]
        rounds = 0
        try:
            while True:
                if self.role == 0:
                    stop = time.monotonic() >= self.deadline
                    self.shared["stop"] = stop
                    if not stop:
                        config = json.dumps({"duel": self.repo, "round": rounds}).encode()
                        for data in (config, layer):
                            res = push_blob_monolithic(self.client, self.repo, data)
                            if res.status != 201:
                                st.failure(f"{self.name} push blob: {res}")
                        body = image_manifest(config, [layer])
                        res = put_manifest(self.client, self.repo, sha256(body), body)
                        if res.status != 201:
                            st.failure(f"{self.name} push manifest: {res}")
                        self.shared["body"] = body
                self.barrier.wait(timeout=120)
                if self.shared["stop"]:
                    break
                body = self.shared["body"]
                time.sleep(self.rng.random() * 0.003)
                if self.role == 0:
                    res = self.client.request("DELETE", f"/v2/{self.repo}/manifests/{sha256(body)}")
                    st.count("duel DELETE")
                    if res.status not in (202, 404):
                        st.failure(f"{self.name} DELETE: {res}")
                else:
                    res = put_manifest(self.client, self.repo, "duel", body)
                    st.count("duel PUT by tag")
                    if res.status != 201:
                        st.failure(f"{self.name} PUT by tag: {res}")
                self.barrier.wait(timeout=120)
                if self.role == 0:
                    res = self.client.request("GET", f"/v2/{self.repo}/manifests/duel")
                    if res.status == 404:
                        tags = self.client.request("GET", f"/v2/{self.repo}/tags/list")
                        if tags.status == 200 and "duel" in (json.loads(tags.body)["tags"] or []):
                            st.violation(f"{self.repo}: tag 'duel' listed but its manifest is gone "
                                         f"after a concurrent DELETE and PUT by tag")
                    elif res.status != 200:
                        st.failure(f"{self.name} GET duel: {res}")
                    self.client.request("DELETE", f"/v2/{self.repo}/manifests/duel")
                rounds += 1
        except threading.BrokenBarrierError:
            st.failure(f"{self.name}: barrier broken (partner failed or hung)")
        except Exception as e:  # noqa: BLE001
            st.failure(f"{self.name}: {type(e).__name__}: {e}")
            self.barrier.abort()
        self.client.close()
        if self.role == 0:
            with st.lock:
                st.counts["duel rounds"] = st.counts.get("duel rounds", 0) + rounds


def verify_final(port, state):
    """With the load stopped: every live push pulls whole; every tag resolves."""
    c = Client(port)
    problems = []
    live = [p for p in state.pushes if not p["deleted"]]
    for p in live:
        res = c.request("GET", f"/v2/{p['repo']}/manifests/{p['digest']}")
        if res.status != 200 or res.body != p["body"]:
            problems.append(f"push {p['repo']}@{p['digest']}: {res.status}")
            continue
        for d, data in p["blobs"].items():
            res = c.request("GET", f"/v2/{p['repo']}/blobs/{d}")
            if res.status != 200 or sha256(res.body) != d or res.body != data:
                problems.append(f"push {p['repo']}@{p['digest']} blob {d}: {res.status}")
    tag_count = 0
    for repo in REPOS + [f"stress/duel{pair}" for pair in range(DUELS)]:
        res = c.request("GET", f"/v2/{repo}/tags/list")
        if res.status == 404:
            continue
        for tag in json.loads(res.body)["tags"] or []:
            tag_count += 1
            res = c.request("GET", f"/v2/{repo}/manifests/{tag}")
            if res.status != 200:
                problems.append(f"tag {repo}:{tag} listed but GET gives {res.status} "
                                f"{res.body[:200]!r}")
            elif sha256(res.body) != res.header("docker-content-digest"):
                problems.append(f"tag {repo}:{tag}: digest mismatch")
    res = c.request("GET", "/v2/_catalog")
    catalog = json.loads(res.body)["repositories"]
    for repo in {p["repo"] for p in live}:
        if repo not in catalog:
            problems.append(f"catalog lacks {repo}")
    c.close()
    log(f"final check: {len(live)} live pushes of {len(state.pushes)} pulled whole, "
        f"{tag_count} tags resolved, catalog {catalog}")
    return problems


def run(binary):
    seconds = float(os.environ.get("STRESS_CONCURRENCY_SECONDS", "40"))
    rng = random.Random(7)
    pool = {}
    for _ in range(POOL_SIZE):
        data = random_bytes(rng, rng.choice([1, 900, 4096, 70_000, 300_000, 1_100_000]))
        pool[sha256(data)] = data
    state = State(pool)
    server = Server(binary).start()
    try:
        log(f"onsen pid {server.pid} port {server.port}; {CLIENTS} clients for {seconds:.0f}s")
        deadline = time.monotonic() + seconds
        workers = [Worker(i, server.port, state, deadline) for i in range(CLIENTS - 2 * DUELS)]
        for pair in range(DUELS):
            barrier, shared = threading.Barrier(2), {}
            workers += [Duel(pair, role, server.port, state, deadline, barrier, shared)
                        for role in (0, 1)]
        started = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=seconds + 120)
            if w.is_alive():
                state.failure(f"{w.name} still running 120 s after the deadline (server hang?)")
        elapsed = time.monotonic() - started
        total = sum(state.counts.values())
        log(f"load: {total} operations in {elapsed:.1f}s ({total / elapsed:.0f}/s), "
            f"{sum(w.client.requests for w in workers)} HTTP requests, "
            f"{sum(w.client.reconnects for w in workers)} keep-alive reconnects")
        for k in sorted(state.counts):
            log(f"  {k}: {state.counts[k]}")
        log(f"server RSS {server.rss_kib()} KiB")
        if not server.alive():
            raise AssertionError("onsen died:\n" + server.log_tail())
        problems = verify_final(server.port, state)
        for p in problems[:30]:
            log("FINAL:", p)
        if server.has_check():
            status, output = server.check()
            log(f"onsen check: exit {status}\n{output[-3000:]}")
            if status != 0:
                problems.append(f"onsen check exit {status}")
        else:
            log("onsen check: subcommand absent, skipped")
    finally:
        server.stop()
    errors = state.violations + state.failures + problems
    if errors:
        log("server log tail:\n" + server.log_tail())
        raise AssertionError(f"{len(state.violations)} violations, {len(state.failures)} failures, "
                             f"{len(problems)} final problems; first: {errors[0]}")


if __name__ == "__main__":
    main_wrapper(run)
