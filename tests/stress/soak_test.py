#!/usr/bin/env python3
"""Soak: 64 keep-alive connections run a mixed load (tags/list, catalog, manifest GET, blob GET and
HEAD, small pushes that move a tag and delete the manifest it replaced) for STRESS_SOAK_SECONDS
(default 180). Every request must succeed. The server's RSS at the end must be within 20% of its
value after the warm-up (STRESS_SOAK_WARMUP_SECONDS, default 30; a sixth of the run when shorter).
Prints RSS samples, request counts and latencies."""

import json
import os
import random
import threading
import time

from stress_lib import (Client, Server, expect, image_manifest, log, main_wrapper, mount_blob,
    push_blob_chunked, push_blob_monolithic, put_manifest, random_bytes, run_weighted, sha256)

CONNECTIONS = 64
REPOS = [f"soak/app{i}" for i in range(4)] + ["soak/nested/lib", "soak/nested/deep/tool"]
MiB = 1 << 20


class Seed:
    """Images pushed before the load: per repository three tagged images sharing layers."""

    def __init__(self, port, rng):
        self.layers = [random_bytes(rng, n) for n in (512, 8_000, 64_000, 300_000, MiB)]
        self.images = []  # (repo, tag, manifest bytes, [blob digests])
        c = Client(port)
        for repo in REPOS:
            for d in self.layers:
                expect(push_blob_monolithic(c, repo, d), 201, "seed layer")
            for t in range(3):
                config = json.dumps({"repo": repo, "image": t}).encode()
                expect(push_blob_monolithic(c, repo, config), 201, "seed config")
                layers = rng.sample(self.layers, 3)
                body = image_manifest(config, layers)
                expect(put_manifest(c, repo, f"v{t}", body), 201, "seed manifest")
                self.images.append((repo, f"v{t}", body, [sha256(config)] +
                                    [sha256(l) for l in layers]))
        c.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []
        self.latencies = []

    def record(self, op, seconds):
        with self.lock:
            self.counts[op] = self.counts.get(op, 0) + 1
            if len(self.latencies) < 2_000_000:
                self.latencies.append(seconds)

    def fail(self, text):
        with self.lock:
            self.failures.append(text)
            if len(self.failures) <= 20:
                log("FAILURE:", text)


class Worker(threading.Thread):
    def __init__(self, index, port, seed, stats, deadline):
        super().__init__(daemon=True, name=f"soak-{index}")
        self.index = index
        self.rng = random.Random(index)
        self.client = Client(port, timeout=60)
        self.seed = seed
        self.stats = stats
        self.deadline = deadline
        self.slots = {}  # (repo, tag) -> digest this worker last pushed there
        self.seq = 0

    def timed(self, op, method, path, expected, **kw):
        t = time.monotonic()
        res = self.client.request(method, path, **kw)
        self.stats.record(op, time.monotonic() - t)
        if res.status not in expected:
            self.stats.fail(f"{op} {method} {path}: {res.status} {res.body[:200]!r}")
        return res

    def run(self):
        ops = [(self.tags, 12), (self.catalog, 8), (self.manifest, 25), (self.blob_get, 18),
               (self.blob_head, 17), (self.push, 20)]
        run_weighted(self.rng, ops, self.deadline, self.client, self.stats.fail)

    def tags(self):
        repo = self.rng.choice(REPOS)
        q = "?n=5" if self.rng.random() < 0.3 else ""
        self.timed("tags/list", "GET", f"/v2/{repo}/tags/list{q}", (200,))

    def catalog(self):
        q = "?n=2" if self.rng.random() < 0.5 else ""
        self.timed("catalog", "GET", f"/v2/_catalog{q}", (200,))

    def manifest(self):
        repo, tag, body, _ = self.rng.choice(self.seed.images)
        ref = tag if self.rng.random() < 0.5 else sha256(body)
        res = self.timed("manifest GET", "GET", f"/v2/{repo}/manifests/{ref}", (200,),
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        if res.status == 200 and res.body != body:
            self.stats.fail(f"manifest {repo}:{ref}: other bytes")

    def blob_get(self):
        repo, _, _, digests = self.rng.choice(self.seed.images)
        d = self.rng.choice(digests)
        res = self.timed("blob GET", "GET", f"/v2/{repo}/blobs/{d}", (200,))
        if res.status == 200 and sha256(res.body) != d:
            self.stats.fail(f"blob {repo}@{d}: wrong content")

    def blob_head(self):
        repo, _, _, digests = self.rng.choice(self.seed.images)
        self.timed("blob HEAD", "HEAD", f"/v2/{repo}/blobs/{self.rng.choice(digests)}", (200,))

    def push(self):
        """A small image: a unique config blob (monolithic or chunked), a shared layer (mounted or
        already there), the manifest under one of this worker's 3 tags; the manifest it replaced
        is deleted, so storage and listings stay the same size."""
        repo = self.rng.choice(REPOS)
        self.seq += 1
        config = json.dumps({"worker": self.index, "seq": self.seq}).encode()
        t = time.monotonic()
        if self.rng.random() < 0.5:
            res = push_blob_monolithic(self.client, repo, config)
        else:
            res = push_blob_chunked(self.client, repo, config, chunks=2)
        self.stats.record("push config blob", time.monotonic() - t)
        if res.status != 201:
            self.stats.fail(f"push config {repo}: {res.status} {res.body[:200]!r}")
            return
        layer = self.rng.choice(self.seed.layers[:3])
        t = time.monotonic()
        source = self.rng.choice([r for r in REPOS if r != repo])
        res = mount_blob(self.client, repo, source, sha256(layer))
        self.stats.record("mount", time.monotonic() - t)
        if res.status != 201:
            self.stats.fail(f"mount into {repo}: {res.status} {res.body[:200]!r}")
            return
        body = image_manifest(config, [layer])
        tag = f"w{self.index}-{self.seq % 3}"
        t = time.monotonic()
        res = put_manifest(self.client, repo, tag, body)
        self.stats.record("manifest PUT", time.monotonic() - t)
        if res.status != 201:
            self.stats.fail(f"manifest PUT {repo}:{tag}: {res.status} {res.body[:200]!r}")
            return
        old = self.slots.get((repo, tag))
        self.slots[(repo, tag)] = sha256(body)
        if old:
            self.timed("manifest DELETE", "DELETE", f"/v2/{repo}/manifests/{old}", (202,))


def run(binary):
    seconds = float(os.environ.get("STRESS_SOAK_SECONDS", "180"))
    warmup = float(os.environ.get("STRESS_SOAK_WARMUP_SECONDS", str(min(30.0, seconds / 6))))
    server = Server(binary).start()
    try:
        seed = Seed(server.port, random.Random(11))
        stats = Stats()
        start = time.monotonic()
        deadline = start + seconds
        workers = [Worker(i, server.port, seed, stats, deadline) for i in range(CONNECTIONS)]
        log(f"onsen pid {server.pid}: {CONNECTIONS} connections for {seconds:.0f}s "
            f"(warm-up {warmup:.0f}s); RSS at start {server.rss_kib()} KiB")
        for w in workers:
            w.start()
        samples = []
        warm_rss = None
        while time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
            elapsed = time.monotonic() - start
            rss = server.rss_kib()
            with stats.lock:
                total = sum(stats.counts.values())
            samples.append((elapsed, rss, total))
            log(f"t={elapsed:5.0f}s RSS {rss} KiB, {total} requests")
            if warm_rss is None and elapsed >= warmup:
                warm_rss = rss
        for w in workers:
            w.join(timeout=120)
            if w.is_alive():
                stats.fail(f"{w.name} still running 120 s after the deadline (server hang?)")
        elapsed = time.monotonic() - start
        end_rss = server.rss_kib()
        total = sum(stats.counts.values())
        lat = sorted(stats.latencies)
        log(f"{total} requests in {elapsed:.0f}s ({total / elapsed:.0f}/s), "
            f"{len(stats.failures)} failed, "
            f"{sum(w.client.reconnects for w in workers)} keep-alive reconnects")
        for op in sorted(stats.counts):
            log(f"  {op}: {stats.counts[op]}")
        if lat:
            log(f"latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
                f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms, max {lat[-1] * 1000:.0f} ms")
        warm_rss = warm_rss or samples[0][1]
        log(f"RSS after warm-up {warm_rss} KiB, at the end {end_rss} KiB "
            f"({(end_rss - warm_rss) * 100 / warm_rss:+.1f}%), peak {max(s[1] for s in samples)} KiB")
        problems = []
        if stats.failures:
            problems.append(f"{len(stats.failures)} failed requests; first: {stats.failures[0]}")
        if end_rss > warm_rss * 1.2:
            problems.append(f"RSS grew from {warm_rss} KiB to {end_rss} KiB (> 20%)")
        if total < seconds * 20:
            problems.append(f"only {total} requests in {seconds:.0f}s")
        if not server.alive():
            problems.append("onsen died")
        if problems:
            log("server log tail:\n" + server.log_tail())
            raise AssertionError("; ".join(problems))
    finally:
        server.stop()


if __name__ == "__main__":
    main_wrapper(run)
