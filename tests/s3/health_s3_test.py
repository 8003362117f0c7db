#!/usr/bin/env python3
"""The storage health check on S3: Onsen and docker-registry (2.8.2) on a bucket served by a
radosgw of this test's own — a second gateway over the fixture's Ceph cluster, on its own port, so
that stopping it disturbs no other test — with health.storagedriver every 200ms, threshold 3.

    health_s3_test.py BINARY

- Gateway up: /debug/health 200 {} on both.
- Gateway stopped (SIGTERM, its port refuses): both turn 503 {"storagedriver_s3": ...} and their
  API answers 503 UNAVAILABLE; Onsen's /debug/ready is 503, /debug/live 200.
- Gateway started again on the same port: both back to 200 {}, the API to 200.
Needs ONSEN_TEST_S3_ENV (the ctest fixture's gateway.env, which names CEPH_CONF). Exit status 0
when everything passed.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import checks  # noqa: E402
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, Server, free_port, wait_status  # noqa: E402
from onsen_proc import get_json as get  # noqa: E402

ONSEN = sys.argv[1]


def gateway_env():
    """The fixture's variables (its export lines)."""
    env = {}
    with open(os.environ["ONSEN_TEST_S3_ENV"]) as f:
        for line in f:
            if line.startswith("export ") and "=" in line:
                name, value = line[len("export "):].strip().split("=", 1)
                env[name] = value
    return env


class Gateway:
    """radosgw as client.rgw.health over the fixture's cluster on 127.0.0.1:port, in the
    foreground (this test's child, stopped by its pid)."""

    def __init__(self, conf, workdir):
        self.conf = conf
        self.dir = os.path.join(workdir, "rgw")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def start(self, timeout=90):
        d = self.dir
        self.proc = subprocess.Popen(
            ["radosgw", "-c", self.conf, "-n", "client.rgw.health", "-f",
             "--rgw-frontends", f"beast endpoint={HOST}:{self.port} tcp_nodelay=1",
             "--rgw-data", d, "--pid-file", os.path.join(d, "pid"),
             "--admin-socket", os.path.join(d, "asok"), "--log-file", os.path.join(d, "log"),
             "--rgw-relaxed-s3-bucket-names", "true", "--rgw-enable-usage-log", "false",
             "--rgw-enable-ops-log", "false"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(d, "stderr"), "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"radosgw exited with {self.proc.returncode}")
            try:
                if get(self.port, "/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"radosgw did not answer on {self.port} within {timeout}s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class S3Server(Server):
    """A Server (onsen or docker-registry) on the test gateway's bucket."""

    def __init__(self, binary, name, workdir, gw, env):
        super().__init__(binary, workdir=workdir, name=name, debug=True,
                         env={"AWS_EC2_METADATA_DISABLED": "true"})
        self.env.pop("AWS_CA_BUNDLE", None)  # aws-sdk-go v1 refuses it on a plain-http endpoint
        self.yaml = (
            "version: 0.1\nlog:\n  level: info\n"
            "storage:\n  s3:\n"
            f"    accesskey: {env['AWS_ACCESS_KEY_ID']}\n"
            f"    secretkey: {env['AWS_SECRET_ACCESS_KEY']}\n"
            f"    region: {env.get('S3_REGION', 'us-east-1')}\n"
            f"    regionendpoint: http://{HOST}:{gw.port}\n"
            "    bucket: onsen-tests\n"
            f"    rootdirectory: /health-{name}-{os.getpid()}\n"
            "    secure: false\n    v4auth: true\n"
            "  redirect:\n    disable: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: {HOST}:{self.port}\n  secret: health\n"
            f"  debug:\n    addr: {HOST}:{self.debug_port}\n"
            "health:\n  storagedriver:\n    enabled: true\n    interval: 200ms\n"
            "    threshold: 3\n")

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(self.yaml)


def main():
    env = gateway_env()
    work = tempfile.mkdtemp(prefix="onsen-health-s3-")
    gw = Gateway(env["CEPH_CONF"], work)
    servers = []
    try:
        gw.start()
        servers.append(S3Server(ONSEN, "onsen", os.path.join(work, "onsen"), gw, env).start(60))
        if shutil.which("docker-registry"):
            servers.append(S3Server("docker-registry", "distribution",
                                    os.path.join(work, "distribution"), gw, env).start(60))
        seen = {s.name: [] for s in servers}
        for s in servers:
            seen[s.name].append(wait_status(s.debug_port, "/debug/health", 200, 60))
        gw.stop()
        for s in servers:
            status, body = wait_status(s.debug_port, "/debug/health", 503, 60)
            seen[s.name].append((status, sorted(body) if isinstance(body, dict) else body))
            v2 = get(s.port, "/v2/")
            seen[s.name].append((v2[0], v2[1]["errors"][0]["code"] if v2[0] == 503 else v2[1]))
        onsen = servers[0]
        check("gateway stopped: onsen /debug/ready 503",
              get(onsen.debug_port, "/debug/ready")[0] == 503)
        check("gateway stopped: onsen /debug/live 200",
              get(onsen.debug_port, "/debug/live") == (200, {}))
        gw.start()
        for s in servers:
            seen[s.name].append(wait_status(s.debug_port, "/debug/health", 200, 60))
            seen[s.name].append(get(s.port, "/v2/"))
        check("gateway restarted: onsen /debug/ready 200",
              wait_status(onsen.debug_port, "/debug/ready", 200, 60) == (200, {}))
        expected = [(200, {}), (503, ["storagedriver_s3"]), (503, "UNAVAILABLE"), (200, {}),
                    (200, {})]
        check("onsen: 200 {}, gateway stopped 503 storagedriver_s3 and API 503 UNAVAILABLE, "
              "restarted 200 {} and API 200", seen["onsen"] == expected, repr(seen["onsen"]))
        if "distribution" in seen:
            check("docker-registry answers alike", seen["distribution"] == seen["onsen"],
                  f"onsen {seen['onsen']}\ndistribution {seen['distribution']}")
    finally:
        for s in servers:
            s.stop()
        gw.stop()
        if checks.failures:
            for s in servers:
                print(f"--- {s.name} log tail\n{s.log_tail(2000)}")
        shutil.rmtree(work, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
