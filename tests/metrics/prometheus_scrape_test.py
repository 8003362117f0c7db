#!/usr/bin/env python3
"""A real Prometheus (Debian's `prometheus`) scrapes a real `onsen serve` every second, as an
operator would run it; its HTTP API must then report exactly the requests the test sent.

    prometheus_scrape_test.py BINARY

- onsen on a free loopback port with http.debug.addr (another free port) and
  http.debug.prometheus.enabled; Prometheus on a third free port, its TSDB in a temporary
  directory, scraping 127.0.0.1:<debug port>/metrics every 1 s. Both are started and stopped
  here; the whole run is bounded (see DEADLINE).
- After an image push, curl sends MANIFEST_GETS manifest GETs, BLOB_HEADS blob HEADs, MISSING
  GETs of an unknown tag (404) and BLOB_GETS blob GETs; once Prometheus has scraped after them,
  /api/v1/query answers those counts for onsen_http_requests_total{route,method,code}, the
  blob bytes sent for onsen_http_response_bytes_total, and the latency histogram's _count; a
  second scrape later they are unchanged (nothing counted twice).
- The target is up, and `promtool check metrics` accepts the exposition without a complaint.
Exit status 0 when everything passed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import checks  # noqa: E402
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, Client, Server, free_port, image_manifest, pseudo_random  # noqa: E402
from push import push_blob, put_manifest  # noqa: E402

REPO = "metrics/scraped"
MANIFEST_GETS, BLOB_HEADS, MISSING, BLOB_GETS = 12, 9, 4, 3
DEADLINE = 90  # seconds for the whole run after both processes are up


def curl(method, url, headers=()):
    """The status code curl got."""
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
    args += ["-I"] if method == "HEAD" else []
    for h in headers:
        args += ["-H", h]
    return int(subprocess.run(args + [url], capture_output=True, check=False).stdout or 0)


class Prometheus:
    """`prometheus` scraping one target every second, on a free loopback port."""

    def __init__(self, workdir, target):
        self.port = free_port()
        self.workdir = workdir
        self.config = os.path.join(workdir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: onsen\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self.log_path = os.path.join(workdir, "prometheus.log")
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={self.config}",
                 f"--storage.tsdb.path={os.path.join(self.workdir, 'tsdb')}",
                 f"--web.listen-address={HOST}:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, path, **params):
        url = f"http://{HOST}:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())["data"]

    def value(self, query):
        """The query's single value, None when it has no result."""
        result = self.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def last_scrape(self):
        """When the onsen target was last scraped (Prometheus' RFC 3339 time, as a string)."""
        targets = self.api("targets")["activeTargets"]
        return targets[0]["lastScrape"] if targets else None

    def log_tail(self, n=3000):
        with open(self.log_path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")


def wait_scrapes(prom, count, deadline):
    """Waits until the target has been scraped `count` more times (False at the deadline)."""
    seen, last = 0, prom.last_scrape()
    while seen < count and time.monotonic() < deadline:
        time.sleep(0.2)
        now = prom.last_scrape()
        if now != last:
            seen, last = seen + 1, now
    return seen >= count


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="onsen-prometheus-")
    server = Server(binary, workdir=os.path.join(tmp, "onsen"), debug=True)
    server.http_extra += "    prometheus:\n      enabled: true\n"  # under http.debug
    prom = Prometheus(tmp, f"{HOST}:{server.debug_port}")
    try:
        server.start()
        check("prometheus starts", prom.start(), prom.log_tail() if prom.proc else "")
        deadline = time.monotonic() + DEADLINE

        # An image to pull: a config and one layer.
        c = Client(server.port)
        layer = pseudo_random(300_000, b"metrics")
        config = b'{"architecture":"amd64","os":"linux"}'
        push_blob(c, REPO, config)
        layer_digest = push_blob(c, REPO, layer)
        put_manifest(c, REPO, "v1", image_manifest(config, [layer]))
        c.close()

        base = f"http://{HOST}:{server.port}/v2/{REPO}"
        accept = "Accept: application/vnd.oci.image.manifest.v1+json"
        statuses = [curl("GET", f"{base}/manifests/v1", [accept]) for _ in range(MANIFEST_GETS)]
        statuses += [curl("HEAD", f"{base}/blobs/{layer_digest}") for _ in range(BLOB_HEADS)]
        missing = [curl("GET", f"{base}/manifests/absent", [accept]) for _ in range(MISSING)]
        statuses += [curl("GET", f"{base}/blobs/{layer_digest}") for _ in range(BLOB_GETS)]
        check("curl's requests answered 200 (and 404 for the unknown tag)",
              statuses == [200] * len(statuses) and missing == [404] * MISSING,
              (statuses, missing))

        expected = {
            'onsen_http_requests_total{route="manifest",method="get",code="200"}': MANIFEST_GETS,
            'onsen_http_requests_total{route="blob",method="head",code="200"}': BLOB_HEADS,
            'onsen_http_requests_total{route="manifest",method="get",code="404"}': MISSING,
            'onsen_http_requests_total{route="blob",method="get",code="200"}': BLOB_GETS,
            'onsen_http_requests_total{route="manifest",method="put",code="201"}': 1,
            'onsen_http_response_bytes_total{route="blob"}': BLOB_GETS * len(layer),
            # The manifest's PUT too.
            'onsen_http_request_duration_seconds_count{route="manifest"}':
                MANIFEST_GETS + MISSING + 1,
            'onsen_http_request_duration_seconds_bucket{route="manifest",le="+Inf"}':
                MANIFEST_GETS + MISSING + 1,
        }
        # Until Prometheus has scraped what was sent (a scrape may start before the last count).
        got = {}
        while time.monotonic() < deadline:
            got = {q: prom.value(q) for q in expected}
            if got == expected:
                break
            time.sleep(0.5)
        check("Prometheus' API reports the requests curl sent, by route, method and code",
              got == expected, json.dumps(got, indent=1))
        check("two scrapes later", wait_scrapes(prom, 2, deadline), prom.log_tail())
        again = {q: prom.value(q) for q in expected}
        check("the counts are unchanged (nothing counted twice)", again == expected,
              json.dumps(again, indent=1))
        check("the target is up", prom.value('up{job="onsen"}') == 1)
        check("storage operations were scraped (filesystem get_content > 0)",
              (prom.value('onsen_storage_operations_total{driver="filesystem",'
                          'operation="get_content"}') or 0) > 0)

        try:
            with urllib.request.urlopen(f"http://{HOST}:{server.debug_port}/metrics",
                                        timeout=5) as r:
                exposition = r.read()
        except OSError as e:  # HTTPError included
            exposition = b""
            check("GET /metrics answers", False, e)
        lint = subprocess.run(["promtool", "check", "metrics"], input=exposition,
                              capture_output=True, check=False, timeout=30)
        check("promtool check metrics accepts the exposition without a complaint",
              lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(),
              (lint.stdout + lint.stderr).decode(errors="replace"))
    finally:
        prom.stop()
        server.stop()
    if checks.failures:
        print(f"kept {tmp} (onsen/server.log, prometheus.log)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
