#!/usr/bin/env python3
"""One garbage collector at a time across replicas sharing a Redis (cli/redis_collector_lock.h),
as real processes see it: two `onsen serve` on one filesystem root, both with `redis:`.

    gc_lock_process_test.py BINARY

- The lock is Redis's key onsen:gc-lock:<driver>:<location>: held by someone else (set by the
  test), both replicas refuse POST /admin/gc with 409 DENIED naming the holder, and no lease
  object is written to the store; deleted, a collection runs.
- A collection caught running (a store of many repositories; tried again should it end before
  the question arrives) on one replica makes a POST on the other answer 409, naming the first.
- Both replicas collecting every second for several seconds: the collections (from each log's
  "started"/"finished" lines) never overlap in time (how many ticks were refused is printed).
Exit status 0 when everything passed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, failures, finish  # noqa: E402
from onsen_proc import (HOST, OCI_MANIFEST, Client, Server,  # noqa: E402
                        image_manifest, pseudo_random, sha256)
from redis_proc import RedisServer  # noqa: E402

REPOSITORIES = 1500  # copies of one repository: enough for a collection of a second or so


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def push_image(port, repo, tag, seed):
    c = Client(port)
    config, layer = pseudo_random(200, seed + b"c"), pseudo_random(5000, seed + b"l")
    for blob in (config, layer):
        res = c.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(blob)}", blob,
                        {"Content-Type": "application/octet-stream"})
        check(f"blob pushed to {repo}", res.status == 201, repr(res))
    res = c.request("PUT", f"/v2/{repo}/manifests/{tag}", image_manifest(config, [layer]),
                    {"Content-Type": OCI_MANIFEST})
    check(f"manifest pushed to {repo}:{tag}", res.status == 201, repr(res))


def gc_status(server):
    res = Client(server.port).request("GET", "/admin/gc")
    return json.loads(res.body)


def wait_idle(server, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = gc_status(server)
        if status["state"] == "idle":
            return status
        time.sleep(0.05)
    raise AssertionError(f"{server.name}: still collecting after {timeout} s")


RUN_LINE = re.compile(r"^(\S+) \w+ garbage collection (\d+) (started|finished|stopped early|failed)")


def runs_in_log(path):
    """[(start, end)] of the collections a log shows, as datetimes."""
    started, spans = {}, []
    with open(path) as f:
        for line in f:
            m = RUN_LINE.match(line)
            if not m:
                continue
            at = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            if m.group(3) == "started":
                started[m.group(2)] = at
            elif m.group(2) in started:
                spans.append((started.pop(m.group(2)), at))
    return spans


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="onsen-gc-lock-")
    root = os.path.join(tmp, "storage")
    redis = RedisServer(tmp).start()
    redis_port = redis.port
    replicas = []
    try:
        config_extra = redis.yaml()

        def start_replicas(env):
            for r in replicas:
                r.stop()
            replicas.clear()
            for i in range(2):
                replicas.append(Server(binary, workdir=os.path.join(tmp, f"r{i}-{len(env)}"),
                                       root=root, name=f"replica-{i}", log_level="info",
                                       config_extra=config_extra, env=env).start())

        start_replicas({"REGISTRY_STORAGE_GC_GRACE": "0s"})
        a, b = replicas
        key = f"onsen:gc-lock:filesystem:{root}"
        lease_object = os.path.join(root, "docker/registry/v2/onsen/gc-lock")

        # Held elsewhere: both refuse, naming the holder.
        redis_cli(redis_port, "SET", key, "intruder:1:ff", "PX", "60000")
        for r in replicas:
            res = Client(r.port).request("POST", "/admin/gc")
            body = res.body.decode(errors="replace")
            check(f"lock held in Redis: {r.name} answers 409 DENIED naming the holder",
                  res.status == 409 and '"DENIED"' in body and "(intruder:1:ff)" in body,
                  repr(res) + body)
        check("no lease object in the store (Redis is the lock)",
              not os.path.exists(lease_object))
        redis_cli(redis_port, "DEL", key)
        res = Client(a.port).request("POST", "/admin/gc")
        check("lock free: POST /admin/gc answers 202", res.status == 202, repr(res))
        last = wait_idle(a)["last"]
        check("the collection completed", last and last["completed"], last)
        check("the lock is released after it", redis_cli(redis_port, "EXISTS", key) == "0")

        # A store of many repositories, so that a collection lasts long enough to be caught.
        push_image(a.port, "many/0", "latest", b"many")
        repos = os.path.join(root, "docker/registry/v2/repositories/many")
        for i in range(1, REPOSITORIES):
            shutil.copytree(os.path.join(repos, "0"), os.path.join(repos, str(i)))
        # However fast the machine makes that collection, replica-1 is asked while replica-0 says
        # it runs; should replica-0 finish before the question arrives, both go idle and the pair
        # is tried again.
        ca, cb = Client(a.port), Client(b.port)
        for attempt in range(20):
            res = ca.request("POST", "/admin/gc")
            check("a long collection starts on replica-0", res.status == 202, repr(res))
            if gc_status(a)["state"] != "running":
                wait_idle(a)
                continue
            res = cb.request("POST", "/admin/gc")
            if res.status == 202 and gc_status(a)["state"] == "idle":
                wait_idle(b)  # replica-0 was done by then: its answer says nothing
                continue
            break
        body = res.body.decode(errors="replace")
        check("replica-1 answers 409 while replica-0 collects, naming it",
              res.status == 409 and f":{a.pid}:" in body and "another replica" in body,
              f"attempt {attempt}: " + repr(res) + body)
        wait_idle(b)
        last = wait_idle(a)["last"]
        check("the long collection completed, deleting nothing referenced",
              last["completed"] and last["blobs_deleted"] == 0, last)
        print(f"     (a collection of {REPOSITORIES} repositories took "
              f"{last['duration_s']:.2f} s)", flush=True)

        # Both on a schedule of one second.
        start_replicas({"REGISTRY_STORAGE_GC_GRACE": "0s", "REGISTRY_STORAGE_GC_INTERVAL": "1s"})
        time.sleep(8)
        for r in replicas:
            r.stop()
        spans = [(s, e, r.name) for r in replicas for s, e in runs_in_log(r.log_path)]
        spans.sort()
        overlaps = [(x, y) for x, y in zip(spans, spans[1:]) if y[0] < x[1]]
        check("scheduled: collections ran on the replicas", len(spans) >= 3, spans)
        check("scheduled: no two collections overlapped in time", not overlaps, overlaps)
        refused = sum(open(r.log_path).read().count("running on another replica")
                      for r in replicas)
        # Whether a tick lands inside the other replica's collection depends on how fast the
        # machine collects (tens of ms here): a figure, not a check (the 409 above is the check
        # that the lock is taken; the overlap check that it holds).
        print(f"     (ticks refused while the other replica collected: {refused})", flush=True)
    finally:
        for r in replicas:
            r.stop()
        redis.stop()
    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
