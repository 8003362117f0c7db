"""Pushing images over HTTP with onsen_proc's Client, for the process suites that need a store
written by a real server (onsen, or Distribution's docker-registry): monolithic blob uploads, OCI
image manifests (optionally with a subject) and indexes. Asserts on every unexpected status.
Import it after `sys.path.insert(0, <tests/lib>)`."""
import json

from onsen_proc import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, location_path, sha256

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def push_blob(client, repo, data):
    """POST then PUT ?digest= with the whole body; returns the digest."""
    r = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status == 202, r
    loc = location_path(r)
    sep = "&" if "?" in loc else "?"
    r = client.request("PUT", f"{loc}{sep}digest={sha256(data)}", body=data,
                       headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r
    return sha256(data)


def put_manifest(client, repo, ref, body, media_type=OCI_MANIFEST):
    """PUT of a manifest by tag or digest; returns its digest."""
    r = client.request("PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                       headers={"Content-Type": media_type})
    assert r.status == 201, (repo, ref, r)
    return sha256(body)


def push_image_blobs(client, repo, name, layers, subject=None):
    """Pushes a config (naming `name`) and the layers (bytes); returns (the OCI image manifest's
    bytes, not pushed, and the digests of the blobs it references). With subject (a descriptor)
    the manifest is a referrer with an artifactType."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "name": name}).encode()
    blobs = [config] + layers
    for b in blobs:
        push_blob(client, repo, b)
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
         "layers": [{"mediaType": OCI_LAYER, "digest": sha256(l), "size": len(l)} for l in layers]}
    if subject:
        m["subject"] = subject
        m["artifactType"] = "application/vnd.example.signature"
    return json.dumps(m, sort_keys=True).encode(), {sha256(b) for b in blobs}


def index_manifest(children):
    """OCI index bytes for (manifest bytes, architecture) children."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(body), "size": len(body),
         "platform": {"architecture": arch, "os": "linux"}} for body, arch in children]},
        sort_keys=True).encode()


def pulls_whole(client, repo, reference, digest, blobs):
    """GET of the manifest by reference answers the bytes of digest, and GET of every blob its
    bytes."""
    r = client.request("GET", f"/v2/{repo}/manifests/{reference}",
                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    if r.status != 200 or sha256(r.body) != digest:
        return False
    for b in blobs:
        rb = client.request("GET", f"/v2/{repo}/blobs/{b}")
        if rb.status != 200 or sha256(rb.body) != b:
            return False
    return True
