#!/usr/bin/env python3
"""`onsen garbage-collect` against CNCF Distribution's (Debian's docker-registry, 2.8.2) on a store
Distribution wrote:

    gc_interop_test.py ONSEN_BINARY

Distribution serves a filesystem store while the test pushes: a single image whose tag moved (the
old revision is untagged), a multi-arch index with two children, an untagged manifest beside a
tagged image, an image with a referrer (a manifest whose `subject` is the image, pushed by
digest), layers shared between repositories, and an uploaded blob no manifest references. Then,
on copies of that directory:

1. `docker-registry garbage-collect --dry-run` and `onsen garbage-collect --dry-run`, without and
   with -m: the sets of blobs and manifests each would delete are equal, except, with -m, what
   Distribution 2.8 gets wrong and the test names: it deletes the children of a kept index
   (distribution#3178: their revisions, and their layers and config) and the referrer of a kept
   image (2.8 knows no `subject`), which Onsen keeps.
2. The real collections (without and with -m) delete on disk what the dry runs listed, on both
   sides alike (the same exceptions); afterwards every image that should remain pulls whole from
   an onsen serving the collected store (manifests and every blob by digest), the deleted ones are
   gone, and `onsen check` is clean.
3. A repository that never had a tag: Distribution 2.8's -m aborts on it (distribution#4331),
   Onsen's collects its manifest and goes on.
Exit status 0 when everything passed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import (OCI_MANIFEST, Client, Server, clean_env,  # noqa: E402
                        filesystem_config, pseudo_random, sha256)
from push import (OCI_INDEX, index_manifest, pulls_whole, push_blob, push_image_blobs,  # noqa: E402
                  put_manifest)

def layer(name, size=3000):
    return pseudo_random(size, name.encode())


class Store:
    """What the test pushed: name -> (repo, manifest digest), and the blobs of each manifest."""

    def __init__(self):
        self.manifests = {}  # label -> (repo, digest)
        self.blobs = {}      # label -> set of blob digests (config, layers)
        self.orphan = None


def populate(client):
    s = Store()
    shared = layer("shared")

    def push(label, repo, ref, layers, subject=None):
        body, blobs = push_image_blobs(client, repo, label, layers, subject)
        d = put_manifest(client, repo, ref, body, OCI_MANIFEST)
        s.manifests[label] = (repo, d)
        s.blobs[label] = blobs
        return body, d

    # A single image whose tag moved on: the first revision is untagged now.
    push("single-old", "gc/single", "v1", [layer("single-old"), shared])
    push("single", "gc/single", "v1", [layer("single-new"), shared])
    # A multi-arch index with two children, tagged; the children only by digest.
    children = []
    for arch in ("amd64", "arm64"):
        body, blobs = push_image_blobs(client, "gc/multi", f"child-{arch}",
                                       [layer(f"multi-{arch}"), shared])
        s.manifests[f"child-{arch}"] = ("gc/multi", put_manifest(client, "gc/multi", sha256(body),
                                                                 body))
        s.blobs[f"child-{arch}"] = blobs
        children.append((body, arch))
    s.manifests["index"] = ("gc/multi", put_manifest(client, "gc/multi", "latest",
                                                     index_manifest(children), OCI_INDEX))
    s.blobs["index"] = set()
    # An untagged manifest beside a tagged image sharing a layer.
    body, blobs = push_image_blobs(client, "gc/untagged", "loose", [layer("loose"), shared])
    s.manifests["loose"] = ("gc/untagged", put_manifest(client, "gc/untagged", sha256(body), body,
                                                        OCI_MANIFEST))
    s.blobs["loose"] = blobs
    push("kept", "gc/untagged", "stable", [layer("kept"), shared])
    # An image and its referrer (a signature), pushed by digest.
    body, subject_digest = push("signed", "gc/signed", "v1", [layer("signed")])
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(body)}
    sig, blobs = push_image_blobs(client, "gc/signed", "signature", [layer("signature", 200)],
                                  subject)
    s.manifests["signature"] = ("gc/signed", put_manifest(client, "gc/signed", sha256(sig), sig,
                                                          OCI_MANIFEST))
    s.blobs["signature"] = blobs
    # A blob uploaded whose manifest never came.
    s.orphan = push_blob(client, "gc/single", layer("orphan"))
    return s


def gc_lines(cmd, env):
    """Runs a garbage-collect command; (exit status, stdout, stderr, blobs it lists as eligible,
    manifests it lists as eligible, as sorted lists)."""
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    out = p.stdout.decode(errors="replace")
    blobs = sorted(re.findall(r"^blob eligible for deletion: (\S+)$", out, re.M))
    manifests = sorted(re.findall(r"^manifest eligible for deletion: (\S+)$", out, re.M))
    return p.returncode, out, p.stderr.decode(errors="replace"), blobs, manifests


def write_config(path, root):
    with open(path, "w") as f:
        f.write(filesystem_config(root, "127.0.0.1:0"))


def store_state(root):
    """(blob digests with data, (repo, revision digest) pairs) on disk."""
    blobs, revisions = set(), set()
    base = os.path.join(root, "docker/registry/v2")
    for dirpath, _, files in os.walk(os.path.join(base, "blobs")):
        if "data" in files:
            blobs.add("sha256:" + os.path.basename(dirpath))
    repos = os.path.join(base, "repositories")
    for dirpath, _, files in os.walk(repos):
        parts = os.path.relpath(dirpath, repos).split(os.sep)
        if "link" in files and len(parts) >= 4 and parts[-3:-1] == ["revisions", "sha256"]:
            revisions.add(("/".join(parts[:-4]), "sha256:" + parts[-1]))
    return blobs, revisions


def main():
    if len(sys.argv) != 2:
        print("usage: gc_interop_test.py ONSEN_BINARY", file=sys.stderr)
        return 2
    onsen = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="onsen-gc-interop-")
    env = clean_env()
    try:
        dist = Server("docker-registry", workdir=os.path.join(work, "dist"), name="distribution")
        dist.start()
        client = Client(dist.port)
        s = populate(client)
        client.close()
        dist.stop()
        source = dist.root
        # Distribution writes no referrers index (Onsen's, _referrers, which it skips): the
        # referrer is pushed again through Onsen to add its entry, so `onsen check` starts clean.
        srv = Server(onsen, workdir=os.path.join(work, "reindex"), root=source).start()
        c = Client(srv.port)
        repo, d = s.manifests["signature"]
        sig = c.request("GET", f"/v2/{repo}/manifests/{d}", headers={"Accept": OCI_MANIFEST}).body
        put_manifest(c, repo, d, sig, OCI_MANIFEST)
        c.close()
        srv.stop()
        rc, out = srv.check()
        check("the store Distribution wrote is clean for onsen check", rc == 0, out[-3000:])
        label = {d: l for l, (_, d) in s.manifests.items()}

        # What each image references, and what only the children / the referrer do.
        child_revisions = sorted(s.manifests[f"child-{a}"][1] for a in ("amd64", "arm64"))
        kept_by_others = set()
        for l in ("single", "kept", "signed", "index"):
            kept_by_others |= s.blobs[l]
        child_blobs = (s.blobs["child-amd64"] | s.blobs["child-arm64"]) - kept_by_others
        signature_blobs = s.blobs["signature"] - kept_by_others
        signature_blobs.add(s.manifests["signature"][1])

        results = {}
        for flags in ([], ["-m"]):
            tag = "m" if flags else "plain"
            copies = {}
            for who in ("dist", "onsen"):
                root = os.path.join(work, f"{who}-{tag}")
                shutil.copytree(source, root, symlinks=True)
                cfg = os.path.join(work, f"{who}-{tag}.yml")
                write_config(cfg, root)
                copies[who] = (root, cfg)
            dry = {}
            for who, binary in (("dist", "docker-registry"), ("onsen", onsen)):
                dry[who] = gc_lines([binary, "garbage-collect", "--dry-run", *flags,
                                     copies[who][1]], env)
                check(f"{who} {tag}: dry run exits 0", dry[who][0] == 0, dry[who][2][-2000:])
            d_blobs, d_manifests = set(dry["dist"][3]), dry["dist"][4]
            o_blobs, o_manifests = set(dry["onsen"][3]), dry["onsen"][4]
            if flags:
                # distribution#3178 and 2.8's ignorance of `subject`, named: Distribution deletes
                # the index's children (revisions, layers, config; their manifest blobs it keeps
                # as references of the index) and the referrer (revision and blobs).
                expected_manifests = sorted(
                    o_manifests + child_revisions + [s.manifests["signature"][1]])
                expected_blobs = o_blobs | child_blobs | signature_blobs
                check(f"{tag}: onsen keeps the index's children and the referrer",
                      not (set(o_manifests) & (set(child_revisions) | {s.manifests["signature"][1]})),
                      o_manifests)
            else:
                expected_manifests, expected_blobs = o_manifests, o_blobs
            check(f"{tag}: the same manifests eligible (besides Distribution's bugs)",
                  sorted(d_manifests) == expected_manifests,
                  f"distribution {[label.get(d, d) for d in d_manifests]}\n"
                  f"onsen+named {[label.get(d, d) for d in expected_manifests]}")
            check(f"{tag}: the same blobs eligible (besides Distribution's bugs)",
                  d_blobs == expected_blobs,
                  f"only distribution {sorted(d_blobs - expected_blobs)}\n"
                  f"only onsen+named {sorted(expected_blobs - d_blobs)}")
            check(f"{tag}: the orphan upload is eligible", s.orphan in o_blobs, sorted(o_blobs))
            if flags:
                check(f"{tag}: the untagged revisions are eligible",
                      sorted(o_manifests) == sorted([s.manifests["single-old"][1],
                                                     s.manifests["loose"][1]]),
                      [label.get(d, d) for d in o_manifests])
            else:
                check(f"{tag}: no manifest eligible without -m", o_manifests == [], o_manifests)
            # The real collections delete what the dry runs listed.
            before = store_state(copies["onsen"][0])
            for who, binary in (("dist", "docker-registry"), ("onsen", onsen)):
                rc, out, err, _, _ = gc_lines([binary, "garbage-collect", *flags, copies[who][1]],
                                              env)
                check(f"{who} {tag}: collection exits 0", rc == 0, err[-2000:])
            after = {who: store_state(copies[who][0]) for who in copies}
            for who, blobs, manifests in (("dist", d_blobs, d_manifests),
                                          ("onsen", o_blobs, o_manifests)):
                gone_blobs = before[0] - after[who][0]
                gone_revisions = sorted(d for _, d in before[1] - after[who][1])
                check(f"{who} {tag}: deleted the blobs its dry run listed", gone_blobs == blobs,
                      sorted(gone_blobs ^ blobs))
                check(f"{who} {tag}: deleted the revisions its dry run listed",
                      gone_revisions == sorted(manifests), gone_revisions)
            results[tag] = copies["onsen"]

            # What remains pulls whole from an onsen on the collected store; `onsen check` clean.
            root, cfg = copies["onsen"]
            srv = Server(onsen, workdir=os.path.join(work, f"serve-{tag}"), root=root).start()
            c = Client(srv.port)
            remaining = ["single", "index", "child-amd64", "child-arm64", "kept", "signed",
                         "signature"] + ([] if flags else ["single-old", "loose"])
            for l in remaining:
                repo, d = s.manifests[l]
                check(f"{tag}: {l} pulls whole", pulls_whole(c, repo, d, d, s.blobs[l]))
            for l in (["single-old", "loose"] if flags else []):
                repo, d = s.manifests[l]
                r = c.request("GET", f"/v2/{repo}/manifests/{d}")
                check(f"{tag}: {l} is gone", r.status == 404, r)
            r = c.request("HEAD", f"/v2/gc/single/blobs/{s.orphan}")
            check(f"{tag}: the orphan upload is gone", r.status == 404, r)
            c.close()
            srv.stop()
            rc, out = srv.check()
            check(f"{tag}: onsen check is clean after the collection", rc == 0, out[-3000:])

        # A repository that never had a tag: Distribution 2.8 -m aborts there (#4331).
        dist2 = Server("docker-registry", workdir=os.path.join(work, "dist2"),
                       root=os.path.join(work, "notags"), name="distribution")
        dist2.start()
        c = Client(dist2.port)
        body, _ = push_image_blobs(c, "gc/notags", "notags", [layer("notags")])
        untagged = put_manifest(c, "gc/notags", sha256(body), body, OCI_MANIFEST)
        c.close()
        dist2.stop()
        cfg = os.path.join(work, "notags.yml")
        write_config(cfg, dist2.root)
        rc, out, err, _, _ = gc_lines(["docker-registry", "garbage-collect", "-m", "--dry-run",
                                       cfg], env)
        check("never tagged: Distribution 2.8 -m aborts (distribution#4331)",
              rc != 0 and "failed to retrieve tags" in err, f"rc={rc} {err[-500:]}")
        rc, out, err, blobs, manifests = gc_lines([onsen, "garbage-collect", "-m", cfg], env)
        check("never tagged: onsen -m completes and collects its manifest",
              rc == 0 and manifests == [untagged] and untagged in blobs, f"rc={rc}\n{out}\n{err}")
        check("never tagged: onsen check is clean afterwards",
              subprocess.run([onsen, "check", cfg], env=env, capture_output=True).returncode == 0)
    finally:
        if os.environ.get("INTEROP_KEEP") == "1":
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
