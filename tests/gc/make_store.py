#!/usr/bin/env python3
"""Writes a registry store straight into Distribution's filesystem layout (what registry:2 and
Onsen both read), for garbage-collection runs on many repositories without pushing them through
the API: the bench's collection figure (bench/run.sh, group gc) and the kill test
(tests/gc/kill_test.py). Python 3 standard library only.

    make_store.py ROOT [--repos 1000] [--tags 5] [--layers 3] [--seed S] [--json OUT]
                  [--moved 0.333] [--orphans 0.3]

ROOT is the storage rootdirectory (the store goes to ROOT/docker/registry/v2). Each repository
gets --tags tags, each on an OCI image manifest of its own config blob and --layers layers drawn
from a pool shared by all repositories (one small base set most images start from, a larger pool
for the rest), as pushes leave it: the blobs' data, the repository's layer links, revision links,
tag current and index links. What a collection has to remove is there too:
  - moved tags: a third of the tags (--moved) were pushed twice, the first manifest still a revision and
    in the tag's index but no tag's current one (untagged: `--delete-untagged` removes it, its
    config blob and the layers nothing else uses);
  - unreferenced blobs: blobs with a layer link in a repository and no manifest naming them
    (an upload whose manifest never came; in 30% of the repositories, --orphans), and blobs in
    no repository at all (a quarter of the repository count, or --orphans / 1.2 of it).
Blobs are small (a few hundred bytes): a collection's cost is in the counts, not the bytes.

--json OUT writes what was made: {"tagged": [[repo, tag, manifest digest, [blob digests]]...],
"kept": [...], "kept_untagged": [...], "counts": {...}}, where "kept" is every blob a collection
with --delete-untagged keeps (tagged manifests, their configs and layers) and "kept_untagged"
adds what one without it keeps (every revision's)."""

import argparse
import hashlib
import json
import os
import random

V2 = ("docker", "registry", "v2")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Store:
    def __init__(self, root):
        self.v2 = os.path.join(root, *V2)
        self.blobs = set()
        self.files = 0

    def write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.files += 1

    def blob(self, data):
        """Stores data as a blob; returns its digest."""
        hexd = hashlib.sha256(data).hexdigest()
        if hexd not in self.blobs:
            self.write(os.path.join(self.v2, "blobs", "sha256", hexd[:2], hexd, "data"), data)
            self.blobs.add(hexd)
        return "sha256:" + hexd

    def link(self, repo, rel, digest):
        """repositories/<repo>/<rel>/sha256/<hex>/link."""
        hexd = digest.split(":", 1)[1]
        self.write(os.path.join(self.v2, "repositories", repo, rel, "sha256", hexd, "link"), digest.encode())

    def tag(self, repo, tag, digest):
        tdir = os.path.join(self.v2, "repositories", repo, "_manifests", "tags", tag)
        self.write(os.path.join(tdir, "current", "link"), digest.encode())
        self.link(repo, os.path.join("_manifests", "tags", tag, "index"), digest)


def manifest(config, layers):
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}
                   for d, n in layers],
    }, sort_keys=True).encode()


def make(root, repos=1000, tags=5, layers=3, seed="onsen-gc", moved=1 / 3, orphans=0.3):
    rng = random.Random(seed)
    st = Store(root)
    rnd = lambda n: rng.getrandbits(8 * n).to_bytes(n, "little")  # noqa: E731
    pool = []  # (digest, size) of layers shared across repositories
    base = [(st.blob(b), len(b)) for b in (rnd(rng.randint(200, 800)) for _ in range(max(4, repos // 50)))]
    for _ in range(max(8, repos * 2)):
        b = rnd(rng.randint(100, 600))
        pool.append((st.blob(b), len(b)))
    tagged, kept, kept_untagged = [], set(), set()
    counts = {"repositories": repos, "tags": 0, "manifests": 0, "untagged_manifests": 0, "orphan_blobs": 0}

    def image(repo, n):
        cfg = rnd(rng.randint(100, 300))
        cfg_d = (st.blob(cfg), len(cfg))
        ls = [rng.choice(base)] + rng.sample(pool, max(0, n - 1))
        body = manifest(cfg_d, ls)
        md = st.blob(body)
        st.link(repo, os.path.join("_manifests", "revisions"), md)
        for d, _ in [cfg_d] + ls:
            st.link(repo, "_layers", d)
        counts["manifests"] += 1
        return md, [md, cfg_d[0]] + [d for d, _ in ls]

    for r in range(repos):
        repo = "team%02d/app%04d" % (r % 37, r)
        for t in range(tags):
            tag = "v%d" % t if t else "latest"
            if rng.random() < moved:  # an earlier push of this tag, now untagged
                old, blobs = image(repo, layers)
                st.tag(repo, tag, old)
                kept_untagged.update(blobs)
                counts["untagged_manifests"] += 1
            md, blobs = image(repo, layers)
            st.tag(repo, tag, md)
            counts["tags"] += 1
            tagged.append([repo, tag, md, blobs])
            kept.update(blobs)
        if rng.random() < orphans:  # an upload whose manifest never came: a layer link, no reference
            b = rnd(rng.randint(100, 600))
            st.link(repo, "_layers", st.blob(b))
            counts["orphan_blobs"] += 1
    for _ in range(repos * round(orphans * 1000) // 1200):  # blobs in no repository (exact: 0.3 -> //4)
        st.blob(rnd(rng.randint(100, 600)))
        counts["orphan_blobs"] += 1
    kept_untagged |= kept
    counts["blobs"] = len(st.blobs)
    counts["files"] = st.files
    return {"tagged": tagged, "kept": sorted(kept), "kept_untagged": sorted(kept_untagged), "counts": counts}


def blob_path(root, digest):
    """Where the data of blob digest is in the store under root."""
    hexd = digest.split(":", 1)[1]
    return os.path.join(root, *V2, "blobs", "sha256", hexd[:2], hexd, "data")


def blobs_in(root):
    """The digests of the blobs whose data is in the store under root."""
    top = os.path.join(root, *V2, "blobs", "sha256")
    out = set()
    for pre in os.listdir(top) if os.path.isdir(top) else ():
        for hexd in os.listdir(os.path.join(top, pre)):
            if os.path.exists(os.path.join(top, pre, hexd, "data")):
                out.add("sha256:" + hexd)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root")
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--tags", type=int, default=5)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--seed", default="onsen-gc")
    ap.add_argument("--json")
    ap.add_argument("--moved", type=float, default=1 / 3, help="fraction of tags pushed twice")
    ap.add_argument("--orphans", type=float, default=0.3,
                    help="fraction of repositories with an unreferenced layer link")
    a = ap.parse_args()
    made = make(a.root, a.repos, a.tags, a.layers, a.seed, a.moved, a.orphans)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(made, f)
    print(json.dumps(made["counts"]))


if __name__ == "__main__":
    main()
