#!/usr/bin/env python3
"""SIGKILL during a garbage collection, then restart: nothing kept is lost, and the next
collection finishes the job.

usage: kill_test.py ONSEN_BINARY   (environment: GC_KILL_REPOS, default 600)

A store of GC_KILL_REPOS repositories in Distribution's layout (tests/gc/make_store.py: 5 tags
each, shared layers, a third of the tags moved so their first manifest is untagged, unreferenced
blobs) is written once and copied for each cycle. A cycle runs a collection with
--delete-untagged and grace 0 on it, either `onsen garbage-collect -m` or, when the build
collects online, a server's POST /admin/gc?deleteuntagged=true&grace=0s, watches a sample of the
blobs that collection must delete and SIGKILLs the process once the sweep is under way: the CLI
when the first of them is gone and, in another cycle, half of them; the server when half are. Then:
  - every blob of every tagged image is still in the store, and a server started on it pulls a
    sample of the tagged images whole (digests checked);
  - a second collection (same kind) exits 0 / completes (the server's after the dead one's lease
    in the store expired: within one lease, 30 s), and afterwards the store holds exactly
    the blobs of the tagged images (everything unreferenced gone) and `onsen check` exits 0.
A cycle whose collection finished before the kill (the store too small for this machine) is a
failure: it tested nothing.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import make_store  # noqa: E402
from checks import check, finish  # noqa: E402
from gc_lib import GcServer, Store, pull  # noqa: E402
from onsen_proc import Client, NotReady  # noqa: E402

SAMPLE = 400  # deletable blobs watched for the kill
PULLS = 150  # tagged images pulled after each kill
LEASE = 30  # seconds: registry::OnlineCollector::kLeaseTtl


def wait_gone(root, watched, fraction, proc, timeout=300):
    """Polls until `fraction` of the watched blobs are gone (at least one); True then, False when
    proc ended first (the collection was over before the kill point)."""
    need = max(1, int(len(watched) * fraction))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = sum(1 for d in watched if not os.path.exists(make_store.blob_path(root, d)))
        if gone >= need:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("the collection deleted nothing in %d s" % timeout)


class Cycle:
    def __init__(self, binary, tmp, template, made, mode, fraction, n):
        self.name = f"{mode}, kill after {'the first' if fraction == 0 else 'half'} of the watched blobs gone"
        self.workdir = os.path.join(tmp, f"cycle{n}")
        self.store = Store(self.workdir)
        shutil.copytree(template, self.store.root, symlinks=True)
        self.server = GcServer(binary, self.workdir, self.store)
        self.made, self.mode, self.fraction = made, mode, fraction
        self.kept = set(made["kept"])
        self.deletable = sorted(self.store.blobs() - self.kept)

    def collect_online(self, client):
        r = client.request("POST", "/admin/gc?deleteuntagged=true&grace=0s", headers={"Content-Length": "0"})
        if r.status != 202:
            raise AssertionError(f"POST /admin/gc: {r!r}")

    def start_collection(self):
        """The collection to kill: its process (the CLI, or the server running it)."""
        if self.mode == "cli":
            self.server.write_config()
            return subprocess.Popen([self.server.binary, "garbage-collect", "-m", "-q", self.server.config_path],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=self.server.env)
        self.server.start()
        self.collect_online(Client(self.server.port))
        return self.server.proc

    def finish_collection(self):
        """The next collection, to its end; (ok, detail)."""
        if self.mode == "cli":
            rc, out = self.server.collect("-m")
            return rc == 0, out[-3000:]
        c = Client(self.server.port)
        before = self.server.gc_state(c).get("runs", 0)
        # The killed server's lease (registry/collector_lock.h) holds off a new collection until
        # it expires: at most one lease (30 s) plus the schedule of the retry.
        t0 = time.monotonic()
        while True:
            r = c.request("POST", "/admin/gc?deleteuntagged=true&grace=0s", headers={"Content-Length": "0"})
            if r.status != 409 or time.monotonic() - t0 > LEASE + 30:
                break
            time.sleep(0.5)
        waited = time.monotonic() - t0
        check(f"[{self.name}] the dead collector's lease held a new collection off for at most {LEASE + 5} s "
              f"({waited:.1f} s)", r.status == 202 and waited <= LEASE + 5, repr(r))
        if r.status != 202:
            return False, repr(r)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            st = self.server.gc_state(c)
            if st.get("state") == "idle" and st.get("runs", 0) > before:
                last = st.get("last") or {}
                return bool(last.get("completed")) and not last.get("dry_run"), json.dumps(st)
            time.sleep(0.1)
        return False, "no end in 600 s"

    def run(self):
        rng = random.Random(self.name)
        watched = rng.sample(self.deletable, min(SAMPLE, len(self.deletable)))
        proc = self.start_collection()
        mid = wait_gone(self.store.root, watched, self.fraction, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.server.proc = None
        gone = sum(1 for d in self.deletable if not os.path.exists(make_store.blob_path(self.store.root, d)))
        check(f"[{self.name}] killed mid-sweep ({gone} of {len(self.deletable)} unreferenced blobs deleted)",
              mid and gone < len(self.deletable), "the collection ended before the kill point: a larger store is needed")
        lost = sorted(d for d in self.kept if not os.path.exists(make_store.blob_path(self.store.root, d)))
        check(f"[{self.name}] every blob of a tagged image is still there ({len(self.kept)})", not lost, lost[:10])

        self.server.start()
        c = Client(self.server.port)
        errors = [e for e in (pull(c, repo, tag, d) for repo, tag, d, _ in rng.sample(self.made["tagged"], PULLS)) if e]
        check(f"[{self.name}] {PULLS} tagged images pull whole after the restart", not errors, "\n".join(errors[:10]))
        if self.mode == "cli":
            self.server.stop()
        ok, detail = self.finish_collection()
        check(f"[{self.name}] the next collection completes", ok, detail)
        if self.mode != "cli":
            self.server.stop()
        have = self.store.blobs()
        check(f"[{self.name}] afterwards exactly the tagged images' blobs are left ({len(have)}, want {len(self.kept)})",
              have == self.kept, f"missing {sorted(self.kept - have)[:5]}, extra {sorted(have - self.kept)[:5]}")
        rc, out = self.server.check()
        check(f"[{self.name}] `onsen check` exits 0", rc == 0, out[-3000:])


def online_supported(binary, tmp):
    """Whether this build's server collects online (accepts storage.gc and has /admin/gc)."""
    s = GcServer(binary, os.path.join(tmp, "probe"), Store(os.path.join(tmp, "probe")), ["grace: 1h"])
    try:
        s.start()
        return s.gc_state(Client(s.port)) is not None
    except NotReady:
        return False
    finally:
        s.stop()


def main():
    binary = sys.argv[1]
    repos = int(os.environ.get("GC_KILL_REPOS", 600))
    tmp = tempfile.mkdtemp(prefix="onsen-gc-kill-")
    template = os.path.join(tmp, "template")
    made = make_store.make(template, repos=repos)
    print("store: " + json.dumps(made["counts"]), flush=True)
    modes = ["cli"] + (["server"] if online_supported(binary, tmp) else [])
    print("collections killed: " + ", ".join(modes) + ("" if "server" in modes else " (no online collection in this build)"),
          flush=True)
    # The CLI killed early and late in its sweep; the server late (each server cycle waits out the
    # dead collector's lease).
    cycles = [(m, f) for m, f in (("cli", 0), ("cli", 0.5), ("server", 0.5)) if m in modes]
    for n, (mode, fraction) in enumerate(cycles, 1):
        t0 = time.monotonic()
        cycle = Cycle(binary, tmp, template, made, mode, fraction, n)
        t1 = time.monotonic()
        try:
            cycle.run()
        finally:
            cycle.server.stop()
        shutil.rmtree(cycle.workdir, ignore_errors=True)
        print(f"  cycle {n}: copy {t1 - t0:.1f} s, run {time.monotonic() - t1:.1f} s", flush=True)
    rc = finish()
    if rc == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
