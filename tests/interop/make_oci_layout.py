#!/usr/bin/env python3
"""Writes a deterministic OCI image layout (python3 stdlib only).

    make_oci_layout.py DIR --layers N --layer-size BYTES --tag TAG [--seed S] [--platforms P,...]

DIR gets oci-layout, index.json and blobs/sha256/<hex> for a multi-layer linux/amd64 image:
each layer is a gzip'd tar (gzip mtime 0, tar mtimes/owners fixed) of pseudo-random files
totalling about BYTES of content; the config's rootfs.diff_ids are the sha256 of the
uncompressed tars. The same arguments always give the same bytes (hence the same digests).
With --platforms (os/arch,...), TAG names an OCI image index with one such image per platform.
If DIR already holds a layout, the image is added to its index.json (an entry with the same
tag is replaced), so one layout can hold several tags. Prints the manifest digest.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_blob(blobs, data):
    hexd = hashlib.sha256(data).hexdigest()
    path = os.path.join(blobs, hexd)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    return "sha256:" + hexd


def tar_info(name, size=0, kind=tarfile.REGTYPE, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def make_layer(rng, index, size):
    """One uncompressed tar: a directory with a few pseudo-random files summing to `size`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        top = "layer%02d" % index
        tar.addfile(tar_info(top, kind=tarfile.DIRTYPE, mode=0o755))
        nfiles = max(1, min(8, size // 4096 or 1))
        remaining = size
        for i in range(nfiles):
            n = remaining if i == nfiles - 1 else remaining // (nfiles - i)
            remaining -= n
            data = rng.randbytes(n)
            tar.addfile(tar_info("%s/file%02d.bin" % (top, i), size=n), io.BytesIO(data))
        # A small text file too, so every layer differs even when size is 0.
        note = ("layer %d of a generated test image\n" % index).encode()
        tar.addfile(tar_info("%s/README" % top, size=len(note)), io.BytesIO(note))
    return buf.getvalue()


def build_image(blobs, rng, args, os_name, arch):
    """Writes the layers, config and manifest of one image; returns (manifest digest, size)."""
    layers, diff_ids, history = [], [], []
    for i in range(args.layers):
        tar = make_layer(rng, i, args.layer_size)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        gz = gzip.compress(tar, compresslevel=6, mtime=0)
        layers.append({"mediaType": OCI_LAYER_GZIP, "digest": write_blob(blobs, gz), "size": len(gz)})
        history.append({"created": "1970-01-01T00:00:00Z", "created_by": "make_oci_layout.py layer %d" % i})
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": arch,
        "os": os_name,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.onsen.test.seed": str(args.seed)},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = canonical(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": write_blob(blobs, config_bytes), "size": len(config_bytes)},
        "layers": layers,
    }
    # Indented like most tools write it: the registry must keep these exact bytes.
    manifest_bytes = json.dumps(manifest, indent=3).encode()
    return write_blob(blobs, manifest_bytes), len(manifest_bytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--layer-size", type=int, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--seed", default="0")
    ap.add_argument("--platforms", default="",
                    help="e.g. linux/amd64,linux/arm64: TAG names an image index of one image per platform")
    args = ap.parse_args()
    if args.layers < 1 or args.layer_size < 0:
        ap.error("--layers must be >= 1 and --layer-size >= 0")

    blobs = os.path.join(args.dir, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    if args.platforms:
        # An image index of one image per platform, each with its own layers.
        entries = []
        for plat in args.platforms.split(","):
            os_name, arch = plat.split("/", 1)
            rng = random.Random("onsen-interop:%s:%s" % (args.seed, plat))
            digest, size = build_image(blobs, rng, args, os_name, arch)
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                            "platform": {"architecture": arch, "os": os_name}})
        index_bytes = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                                 indent=3).encode()
        top_type, mdigest, msize = OCI_INDEX, write_blob(blobs, index_bytes), len(index_bytes)
    else:
        rng = random.Random("onsen-interop:" + str(args.seed))
        mdigest, msize = build_image(blobs, rng, args, "linux", "amd64")
        top_type = OCI_MANIFEST

    with open(os.path.join(args.dir, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index_path = os.path.join(args.dir, "index.json")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"] = [m for m in index.get("manifests", [])
                          if m.get("annotations", {}).get(REF_NAME) != args.tag]
    index["manifests"].append({
        "mediaType": top_type,
        "digest": mdigest,
        "size": msize,
        "annotations": {REF_NAME: args.tag},
    })
    with open(index_path, "wb") as f:
        f.write(canonical(index))
    print(mdigest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
