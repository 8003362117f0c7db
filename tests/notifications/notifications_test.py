#!/usr/bin/env python3
"""Notifications (webhooks) end to end: a real `onsen serve` with `notifications:` endpoints and
a local receiver (receiver.py, 127.0.0.1, a free port).

  envelope   every push (blob uploads: POST+PUT, chunked POST+PATCH+PUT, monolithic POST; manifest
             PUT by tag), pull (manifest HEAD/GET, blob HEAD/GET), mount and delete arrives in
             registry:2's envelope with the right fields; skopeo's push and pull too.
  registry:2 the same requests against Debian's docker-registry (Distribution 2.8.2) with the same
             configuration and receiver: the same events in the same order, compared field for
             field except what differs by nature (ids, timestamps, the servers' ports, source).
  actor      with htpasswd, actor.name is the authenticated user.
  down/slow/500  a receiver that is down, hangs past the timeout, or answers 500 delays no
             request (they all complete while it is bad), then gets every event once, in order.
  bound      past the queue bound events are dropped and counted in /debug/vars; those queued
             arrive after the receiver comes up.
  replicas   two processes on one root: each sends the events of the requests it served, with
             its own instanceID.
  ignore     ignore.actions, ignore.mediatypes / ignoredmediatypes and disabled.
  https      a receiver whose certificate the trust store (SSL_CERT_FILE) has gets the events;
             one with another certificate gets none (failures counted).
  stop       a stop while the receiver hangs ends in time (exit status 0).
Usage: notifications_test.py ONSEN_BINARY"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

from checks import check, finish  # noqa: E402
from onsen_proc import (OCI_MANIFEST, Client, Server, free_port, location_path,  # noqa: E402
                        sha256)
from push import OCI_INDEX, index_manifest, push_image_blobs  # noqa: E402
from receiver import Receiver  # noqa: E402

ONSEN = sys.argv[1] if len(sys.argv) > 1 else "onsen"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
UA = {"User-Agent": "notifications-test/1"}
ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}", **UA}
WAIT = 20  # seconds any expected event may take to arrive (fixed bound)


def endpoint(name, url, extra=""):
    return (f"    - name: {name}\n      url: {url}\n"
            "      headers:\n        Authorization: [Bearer test-token]\n"
            "      timeout: 500ms\n      threshold: 3\n      backoff: 200ms\n" + extra)


def notifications(*endpoints, references=True):
    return ("notifications:\n  events:\n"
            f"    includereferences: {'true' if references else 'false'}\n"
            "  endpoints:\n" + "".join(endpoints))


def scenario(c):
    """The requests both servers get; returns the digests the checks need."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer1, layer2 = b"layer one" * 100, b"layer two" * 50
    # POST + PUT ?digest=
    r = c.request("POST", "/v2/n/app/blobs/uploads/", headers=UA)
    loc = location_path(r)
    r = c.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(config),
                  body=config, headers={"Content-Type": "application/octet-stream", **UA})
    assert r.status == 201, r
    # chunked: POST, PATCH, PUT
    r = c.request("POST", "/v2/n/app/blobs/uploads/", headers=UA)
    loc = location_path(r)
    r = c.request("PATCH", loc, body=layer1, headers={
        "Content-Type": "application/octet-stream", "Content-Range": f"0-{len(layer1) - 1}", **UA})
    assert r.status == 202, r
    loc = location_path(r)
    r = c.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(layer1),
                  headers=UA)
    assert r.status == 201, r
    # POST + PUT with the body (2.8 has no monolithic POST ?digest=: test_actor has Onsen's)
    r = c.request("POST", "/v2/n/app/blobs/uploads/", headers=UA)
    loc = location_path(r)
    r = c.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(layer2),
                  body=layer2, headers={"Content-Type": "application/octet-stream", **UA})
    assert r.status == 201, r
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(l),
                    "size": len(l), **({"annotations": {"a": "b"}} if l == layer2 else {})}
                   for l in (layer1, layer2)]}, sort_keys=True).encode()
    r = c.request("PUT", "/v2/n/app/manifests/v1", body=manifest,
                  headers={"Content-Type": OCI_MANIFEST, **UA})
    assert r.status == 201, r
    index = index_manifest([(manifest, "amd64")])
    r = c.request("PUT", "/v2/n/app/manifests/multi", body=index,
                  headers={"Content-Type": OCI_INDEX, **UA})
    assert r.status == 201, r
    for method, path, headers in (
            ("HEAD", "/v2/n/app/manifests/v1", ACCEPT),
            ("GET", f"/v2/n/app/manifests/{sha256(manifest)}", ACCEPT),
            ("HEAD", f"/v2/n/app/blobs/{sha256(layer1)}", UA),
            ("GET", f"/v2/n/app/blobs/{sha256(layer1)}", UA),
            ("HEAD", f"/v2/n/app/blobs/{sha256(b'never pushed')}", UA)):  # 404: no event
        r = c.request(method, path, headers=headers)
        assert r.status in (200, 404), (method, path, r)
    r = c.request("POST", f"/v2/n/other/blobs/uploads/?mount={sha256(layer2)}&from=n/app",
                  headers=UA)
    assert r.status == 201, r
    for path in (f"/v2/n/app/manifests/{sha256(index)}", f"/v2/n/app/manifests/{sha256(manifest)}",
                 f"/v2/n/other/blobs/{sha256(layer2)}"):
        r = c.request("DELETE", path, headers=UA)
        assert r.status == 202, (path, r)
    return {"config": sha256(config), "layer1": sha256(layer1), "layer2": sha256(layer2),
            "manifest": sha256(manifest), "index": sha256(index)}


# (action, repository, digest key or None, tag, method) of scenario()'s events, in order.
def expected(d):
    return [("push", "n/app", "config", None, "PUT"), ("push", "n/app", "layer1", None, "PUT"),
            ("push", "n/app", "layer2", None, "PUT"), ("push", "n/app", "manifest", "v1", "PUT"),
            ("push", "n/app", "index", "multi", "PUT"), ("pull", "n/app", "manifest", "v1", "HEAD"),
            ("pull", "n/app", "manifest", None, "GET"), ("pull", "n/app", "layer1", None, "HEAD"),
            ("pull", "n/app", "layer1", None, "GET"), ("mount", "n/other", "layer2", None, "POST"),
            ("delete", "n/app", "index", None, "DELETE"), ("delete", "n/app", None, "multi", "DELETE"),
            ("delete", "n/app", "manifest", None, "DELETE"), ("delete", "n/app", None, "v1", "DELETE"),
            ("delete", "n/other", "layer2", None, "DELETE")]


def shape_problems(events, server, digests):
    """What is wrong with events (receiver.events() of one server's scenario()); [] when all is
    right."""
    problems = []
    want = expected(digests)
    if len(events) != len(want):
        return [f"{len(events)} events, expected {len(want)}: " +
                json.dumps([(e["action"], e["target"].get("digest", e["target"].get("tag")))
                            for _, e in events])]
    base = f"http://127.0.0.1:{server.port}"
    for (headers, e), (action, repo, key, tag, method) in zip(events, want):
        t, req = e.get("target", {}), e.get("request", {})
        where = f"{action} {repo} {key or tag}"
        if headers.get("content-type") != EVENTS_TYPE:
            problems.append(f"{where}: Content-Type {headers.get('content-type')}")
        if headers.get("authorization") != "Bearer test-token":
            problems.append(f"{where}: configured header missing")
        if not UUID.match(e.get("id", "")) or not TIMESTAMP.match(e.get("timestamp", "")):
            problems.append(f"{where}: id/timestamp {e.get('id')} {e.get('timestamp')}")
        if e.get("action") != action or t.get("repository") != repo or t.get("tag") != tag:
            problems.append(f"{where}: got {e.get('action')} {t}")
        if key and t.get("digest") != digests[key]:
            problems.append(f"{where}: digest {t.get('digest')}")
        if action != "delete":
            kind = "blobs" if key not in ("manifest", "index") else "manifests"
            if t.get("url") != f"{base}/v2/{repo}/{kind}/{digests[key]}":
                problems.append(f"{where}: url {t.get('url')}")
            if t.get("size") != t.get("length") or not t.get("size") or not t.get("mediaType"):
                problems.append(f"{where}: size/length/mediaType {t}")
        if (req.get("method") != method or req.get("useragent") != UA["User-Agent"]
                or req.get("host") != f"127.0.0.1:{server.port}"
                or not req.get("addr", "").startswith("127.0.0.1:") or not UUID.match(req.get("id", ""))):
            problems.append(f"{where}: request {req}")
        src = e.get("source", {})
        if not src.get("addr", "").endswith(f":{server.port}") or not UUID.match(src.get("instanceID", "")):
            problems.append(f"{where}: source {src}")
    return problems


def request_groups(events):
    """Which events share a request id, as lists of positions."""
    groups = {}
    for i, (_, e) in enumerate(events):
        groups.setdefault(e["request"]["id"], []).append(i)
    return sorted(groups.values())


def comparable(e, port):
    """An event without what differs between two servers by nature: ids, timestamps, the port in
    URLs and hosts, the client's port, the source."""
    e = json.loads(json.dumps(e))
    for key in ("id", "timestamp", "source"):
        e.pop(key, None)
    if "url" in e["target"]:
        e["target"]["url"] = e["target"]["url"].replace(f":{port}/", ":PORT/")
    e["request"].pop("id", None)
    e["request"]["host"] = e["request"].get("host", "").replace(f":{port}", ":PORT")
    e["request"]["addr"] = e["request"].get("addr", "").rsplit(":", 1)[0]
    return e


def run_scenario(binary, name, workdir, receiver, extra_config=""):
    server = Server(binary, workdir=os.path.join(workdir, name), name=name, debug=binary == ONSEN,
                    config_extra=notifications(endpoint("main", receiver.url())) + extra_config)
    server.start()
    try:
        c = Client(server.port)
        digests = scenario(c)
        c.close()
        events = receiver.wait_events(len(expected(digests)), WAIT)
        return server, digests, events
    finally:
        server.stop()


def test_envelope_and_registry2(work):
    r = Receiver(free_port()).start()
    onsen, digests, events = run_scenario(ONSEN, "onsen", work, r)
    problems = shape_problems(events, onsen, digests)
    check("envelope: every push, pull, mount and delete arrives with its fields", not problems,
          "\n".join(problems[:20]))
    check("envelope: one event per POST, in {\"events\":[...]}",
          r.posts and all(len(env.get("events", [])) == 1 for _, env in r.posts), r.posts[:2])
    check("envelope: one instanceID for the process",
          len({e["source"]["instanceID"] for _, e in events}) == 1)
    index_push = next((e for _, e in events if e["target"].get("tag") == "multi"), {})
    refs = index_push.get("target", {}).get("references", [])
    check("envelope: includereferences lists an index's manifests",
          [d.get("digest") for d in refs] == [digests["manifest"]], index_push)
    onsen_events = events
    r.stop()

    if not shutil.which("docker-registry"):
        check("docker-registry installed (scripts/install-deps.sh test)", False)
        return
    r = Receiver(free_port()).start()
    dist, ddigests, devents = run_scenario("docker-registry", "distribution", work, r)
    r.stop()
    problems = shape_problems(devents, dist, ddigests)
    check("registry:2: the receiver's checks hold for docker-registry's events too", not problems,
          "\n".join(problems[:20]))
    # Field for field: everything but ids, timestamps, ports and the source.
    differences = []
    for (_, a), (_, b) in zip(onsen_events, devents):
        ca, cb = comparable(a, onsen.port), comparable(b, dist.port)
        if ca != cb:
            differences.append(f"onsen {json.dumps(ca, sort_keys=True)}\n"
                               f"dist  {json.dumps(cb, sort_keys=True)}")
    check(f"registry:2: the same {len(devents)} events in the same order, equal field for field",
          len(onsen_events) == len(devents) and not differences, "\n".join(differences[:6]))
    check("registry:2: the same events share a request id",
          devents and request_groups(onsen_events) == request_groups(devents))
    check("registry:2: the same keys at every level (event, target, request, actor, source)",
          devents and len(onsen_events) == len(devents) and
          all(set(a) == set(b) and all(set(a[k]) == set(b[k]) for k in
                                        ("target", "request", "actor", "source"))
              for (_, a), (_, b) in zip(onsen_events, devents)))


def skopeo(env_dir, *args):
    env = dict(os.environ, HOME=env_dir, XDG_RUNTIME_DIR=env_dir, TMPDIR=env_dir, NO_PROXY="*")
    env = {k: v for k, v in env.items() if not k.startswith("REGISTRY_")}
    return subprocess.run(["timeout", "120", "skopeo", "--policy", os.path.join(env_dir, "policy.json"),
                           "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                           "--src-no-creds", "--dest-no-creds", "--retry-times", "0", *args],
                          env=env, capture_output=True, text=True)


def test_skopeo(work):
    src, env_dir = os.path.join(work, "layout"), os.path.join(work, "skopeo-env")
    os.makedirs(env_dir, mode=0o700)
    with open(os.path.join(env_dir, "policy.json"), "w") as f:
        f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
    digest = subprocess.run([sys.executable, os.path.join(HERE, "..", "interop", "make_oci_layout.py"),
                             src, "--layers", "2", "--layer-size", "100000", "--tag", "v1",
                             "--seed", "notifications"], capture_output=True, text=True,
                            check=True).stdout.strip()
    with open(os.path.join(src, "blobs", "sha256", digest.split(":")[1]), "rb") as f:
        manifest = json.load(f)
    blobs = {manifest["config"]["digest"]} | {l["digest"] for l in manifest["layers"]}
    r = Receiver(free_port()).start()
    server = Server(ONSEN, workdir=os.path.join(work, "skopeo"),
                    config_extra=notifications(endpoint("main", r.url()))).start()
    try:
        p = skopeo(env_dir, f"oci:{src}:v1", f"docker://127.0.0.1:{server.port}/sk/img:v1")
        check("skopeo: copy oci: -> onsen", p.returncode == 0, p.stderr[-2000:])
        pushed = r.wait_events(len(blobs) + 1, WAIT)
        got = {(e["action"], e["target"].get("digest"), e["target"].get("tag")) for _, e in pushed}
        want = {("push", b, None) for b in blobs} | {("push", digest, "v1")}
        check("skopeo: a push event for every blob and for the manifest with its tag",
              got == want, sorted(got ^ want))
        check("skopeo: its User-Agent in request.useragent",
              pushed and all("skopeo" in e["request"]["useragent"] for _, e in pushed),
              pushed[0][1]["request"] if pushed else None)
        out = os.path.join(work, "pulled")
        p = skopeo(env_dir, f"docker://127.0.0.1:{server.port}/sk/img:v1", f"dir:{out}")
        check("skopeo: copy onsen -> dir:", p.returncode == 0, p.stderr[-2000:])
        events = r.wait_events(len(pushed) + len(blobs) + 1, WAIT)[len(pushed):]
        pulled = {(e["action"], e["target"].get("digest")) for _, e in events
                  if e["request"]["method"] == "GET"}
        check("skopeo: a pull event for the manifest and every blob it fetched",
              pulled == {("pull", b) for b in blobs | {digest}}, sorted(pulled))
    finally:
        server.stop()
        r.stop()


def test_actor(work):
    htpasswd = os.path.join(work, "htpasswd")
    line = subprocess.run([ONSEN, "htpasswd", "-b", "-C", "4", "alice", "secret"],
                          capture_output=True, text=True, check=True).stdout
    with open(htpasswd, "w") as f:
        f.write(line)
    r = Receiver(free_port()).start()
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    server = Server(ONSEN, workdir=os.path.join(work, "actor"), ready=(401,),
                    config_extra=notifications(endpoint("main", r.url())) + auth).start()
    try:
        c = Client(server.port)
        basic = {"Authorization": "Basic YWxpY2U6c2VjcmV0"}  # alice:secret
        push_image_blobs(_AuthClient(c, basic), "who/app", "x", [b"abc"])
        # Onsen's monolithic upload (POST ?digest= with the body): a push event too.
        mono = b"monolithic"
        res = c.request("POST", f"/v2/who/app/blobs/uploads/?digest={sha256(mono)}", body=mono,
                        headers={"Content-Type": "application/octet-stream", **basic})
        assert res.status == 201, res
        events = r.wait_events(3, WAIT)
        check("actor: actor.name is the authenticated user",
              len(events) == 3 and all(e["actor"] == {"name": "alice"} for _, e in events),
              [e.get("actor") for _, e in events])
        check("monolithic POST ?digest=: a push event (request.method POST)",
              len(events) == 3 and events[2][1]["target"]["digest"] == sha256(mono)
              and events[2][1]["request"]["method"] == "POST", events[-1:])
    finally:
        server.stop()
        r.stop()


class _AuthClient:
    """A Client whose every request carries `headers`."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def request(self, method, path, body=None, headers=None):
        return self.client.request(method, path, body=body, headers={**self.headers, **(headers or {})})


def wait_vars(server, endpoint_name, want, timeout=WAIT):
    """/debug/vars' counters of the endpoint once they include `want` (a dict), or as they are
    after timeout seconds (a counter moves just after the receiver answered)."""
    deadline = time.monotonic() + timeout
    while True:
        v = server.debug_vars()["notifications"][endpoint_name]
        if all(v.get(k) == x for k, x in want.items()) or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def push_some(c, repo, n):
    """n small images (3 events each: config, layer, manifest); every request must succeed."""
    for i in range(n):
        body, _ = push_image_blobs(c, repo, f"{repo}-{i}", [f"{repo} layer {i}".encode()])
        r = c.request("PUT", f"/v2/{repo}/manifests/t{i}", body=body,
                      headers={"Content-Type": OCI_MANIFEST})
        assert r.status == 201, r


def test_bad_receiver(work, mode):
    """The receiver is `mode` (down, hang, fail) while 4 images are pushed, then recovers."""
    port = free_port()
    r = Receiver(port)
    if mode != "down":
        r.mode = mode
        r.start()
    server = Server(ONSEN, workdir=os.path.join(work, mode), debug=True,
                    config_extra=notifications(endpoint("main", r.url()))).start()
    try:
        c = Client(server.port, timeout=30)
        push_some(c, mode, 4)  # asserts every request succeeded
        vars_while_bad = server.debug_vars()["notifications"]["main"]
        check(f"{mode}: all 12 requests completed while the receiver was {mode}, none delivered",
              vars_while_bad["sent"] == 0 and len(r.posts) == 0, (vars_while_bad, len(r.posts)))
        deadline = time.monotonic() + WAIT  # the sender's thread may not have run yet
        while time.monotonic() < deadline and r.attempts == 0 and \
                server.debug_vars()["notifications"]["main"]["failed"] == 0:
            time.sleep(0.05)
        v = server.debug_vars()["notifications"]["main"]
        check(f"{mode}: the sender tries meanwhile (failed POSTs counted, or one hanging)",
              v["failed"] >= 1 or (mode == "hang" and r.attempts >= 1), (v, r.attempts))
        if mode == "down":
            r.start()
        r.mode = "ok"
        events = r.wait_events(12, WAIT)
        order = [(e["target"]["repository"], e["target"].get("tag"), e["target"].get("digest"))
                 for _, e in events]
        check(f"{mode}: after recovery every event arrives once, in order",
              len(events) == 12 and len(set(order)) == 12 and
              [e["target"].get("tag") for _, e in events][2::3] == ["t0", "t1", "t2", "t3"],
              order)
        want = {"queued": 12, "sent": 12, "pending": 0, "dropped": 0}
        v = wait_vars(server, "main", want)
        check(f"{mode}: /debug/vars: queued 12, sent 12, pending 0, dropped 0",
              all(v[k] == x for k, x in want.items()), v)
    finally:
        server.stop()
        r.stop()


def test_bound(work):
    port = free_port()
    r = Receiver(port)  # down until the drops are counted
    server = Server(ONSEN, workdir=os.path.join(work, "bound"), debug=True,
                    config_extra=notifications(endpoint("main", r.url(), "      queuesize: 5\n"))
                    ).start()
    try:
        c = Client(server.port)
        digest = next(iter(push_image_blobs(c, "bound", "x", [])[1]))  # 1 event (the config)
        for _ in range(19):
            assert c.request("HEAD", f"/v2/bound/blobs/{digest}").status == 200
        v = server.debug_vars()["notifications"]["main"]
        check("bound: 20 events, a queue of 5: 15 dropped and counted, 5 pending",
              (v["queued"], v["dropped"], v["pending"], v["sent"]) == (5, 15, 5, 0), v)
        r.start()
        events = r.wait_events(5, WAIT)
        v = wait_vars(server, "main", {"sent": 5, "pending": 0})
        check("bound: the 5 queued (the first ones) arrive after the receiver comes up",
              [e["action"] for _, e in events] == ["push"] + ["pull"] * 4 and v["sent"] == 5,
              ([e["action"] for _, e in events], v))
    finally:
        server.stop()
        r.stop()


def test_replicas(work):
    r = Receiver(free_port()).start()
    root = os.path.join(work, "shared-root")
    config = notifications(endpoint("main", r.url()))
    a = Server(ONSEN, workdir=os.path.join(work, "replica-a"), root=root, config_extra=config).start()
    b = Server(ONSEN, workdir=os.path.join(work, "replica-b"), root=root, config_extra=config).start()
    try:
        body, _ = push_image_blobs(Client(a.port), "rep/app", "x", [b"replica layer"])
        assert Client(a.port).request("PUT", "/v2/rep/app/manifests/v1", body=body,
                                      headers={"Content-Type": OCI_MANIFEST}).status == 201
        assert Client(b.port).request("GET", "/v2/rep/app/manifests/v1", headers=ACCEPT).status == 200
        events = r.wait_events(4, WAIT)
        by_port = [(e["action"], e["source"]["addr"].rsplit(":", 1)[1]) for _, e in events]
        # Each process has its own queue: their events interleave in any order.
        check("replicas: each process sends the events of the requests it served",
              sorted(by_port) == sorted([("push", str(a.port))] * 3 + [("pull", str(b.port))]),
              by_port)
        check("replicas: each process has its own instanceID",
              len({e["source"]["instanceID"] for _, e in events}) == 2)
    finally:
        a.stop()
        b.stop()
        r.stop()


def test_ignore(work):
    no_pull, no_blobs, off = (Receiver(free_port()).start() for _ in range(3))
    config = notifications(
        endpoint("no-pull", no_pull.url(), "      ignore:\n        actions: [pull]\n"),
        endpoint("no-blobs", no_blobs.url(),
                 "      ignoredmediatypes: [application/octet-stream]\n"),
        endpoint("off", off.url(), "      disabled: true\n"))
    server = Server(ONSEN, workdir=os.path.join(work, "ignore"), debug=True,
                    config_extra=config).start()
    try:
        c = Client(server.port)
        push_some(c, "ign", 1)  # push config, layer, manifest
        c.request("GET", "/v2/ign/manifests/t0", headers=ACCEPT)  # pull manifest
        a = [(e["action"], e["target"]["mediaType"]) for _, e in no_pull.wait_events(3, WAIT)]
        b = [(e["action"], e["target"]["mediaType"]) for _, e in no_blobs.wait_events(2, WAIT)]
        check("ignore.actions [pull]: the three pushes only",
              [x for x, _ in a] == ["push"] * 3, a)
        check("ignoredmediatypes [application/octet-stream]: the manifest's push and pull only",
              b == [("push", OCI_MANIFEST), ("pull", OCI_MANIFEST)], b)
        check("disabled: nothing sent, and not in /debug/vars",
              not off.posts and set(server.debug_vars()["notifications"]) == {"no-pull", "no-blobs"})
    finally:
        server.stop()
        for x in (no_pull, no_blobs, off):
            x.stop()


def certificate(work, name):
    cert, key = os.path.join(work, name + ".pem"), os.path.join(work, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_https(work):
    trusted = Receiver(free_port(), tls=certificate(work, "trusted")).start()
    stranger = Receiver(free_port(), tls=certificate(work, "stranger")).start()
    server = Server(ONSEN, workdir=os.path.join(work, "https"), debug=True,
                    env={"SSL_CERT_FILE": trusted.tls[0], "SSL_CERT_DIR": os.path.join(work, "none")},
                    config_extra=notifications(endpoint("trusted", trusted.url()),
                                               endpoint("stranger", stranger.url()))).start()
    try:
        push_image_blobs(Client(server.port), "tls/app", "x", [])  # 1 event
        events = trusted.wait_events(1, WAIT)
        check("https: a receiver with a trusted certificate gets the event", len(events) == 1)
        v = wait_vars(server, "stranger", {"failed": 3})
        check("https: one whose certificate is not trusted gets nothing (failures counted)",
              not stranger.posts and v["failed"] >= 3 and v["sent"] == 0, v)
    finally:
        server.stop()
        trusted.stop()
        stranger.stop()


def test_stop_while_hanging(work):
    r = Receiver(free_port())
    r.mode, r.hang_seconds = "hang", 30
    r.start()
    server = Server(ONSEN, workdir=os.path.join(work, "stop"),
                    config_extra=notifications(endpoint("main", r.url()))).start()
    try:
        push_some(Client(server.port), "stop", 2)
        check("stop: SIGTERM while the receiver hangs: the process exits 0 in time",
              server.stop(timeout=15) == 0)
    finally:
        server.stop()
        r.stop()


def main():
    work = tempfile.mkdtemp(prefix="onsen-notifications-")
    try:
        test_envelope_and_registry2(work)
        test_skopeo(work)
        test_actor(work)
        for mode in ("down", "hang", "fail"):
            test_bad_receiver(work, mode)
        test_bound(work)
        test_replicas(work)
        test_ignore(work)
        test_https(work)
        test_stop_while_hanging(work)
    finally:
        if not os.environ.get("KEEP_TEMP"):
            shutil.rmtree(work, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
