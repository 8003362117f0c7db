#!/usr/bin/env python3
"""Logging as configured, in a real `onsen serve` process.

log.formatter json: every line onsen writes (startup, warnings, access log, shutdown) parses as
one JSON object with time, level, msg and the log.fields entries, even for a request target
holding quotes and backslashes (the access line's http.request.uri). log.accesslog.disabled: true: the same requests leave no access
line, the rest of the log stays.

usage: logging_process_test.py ONSEN_BINARY
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, clean_env, free_port, wait_ready  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)
ENV = clean_env()
TARGET = '/v2/a"b\\c/tags/list'


def serve_and_log(tmp, extra_log):
    """Starts onsen with log.formatter json and EXTRA_LOG, makes two requests, stops it (SIGTERM);
    returns (exit status, stdout lines)."""
    port = free_port()
    config = os.path.join(tmp, "config.yml")
    with open(config, "w") as f:
        f.write("version: 0.1\nlog:\n  formatter: json\n  fields:\n    service: registry\n"
                f"    environment: \"test \\\"quoted\\\"\"\n{extra_log}"
                f"storage:\n  inmemory:\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([BINARY, "serve", config], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_ready(proc, port, 10)
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", TARGET)
        conn.getresponse().read()
        conn.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def parse(lines):
    objects = []
    for line in lines.splitlines():
        try:
            objects.append(json.loads(line))
        except ValueError:
            return None, line
    return objects, None


with tempfile.TemporaryDirectory(prefix="onsen-logging-") as tmp:
    rc, out, err = serve_and_log(tmp, "")
    objects, bad = parse(out)
    check("json: exits 0 on SIGTERM", rc == 0, err)
    check("json: every line is one JSON object", objects is not None and len(objects) >= 4,
          bad or out)
    objects = objects or []
    check("json: every line has time, level, msg and the fields",
          bool(objects) and all({"time", "level", "msg"} <= o.keys() and o.get("service") == "registry"
              and o.get("environment") == 'test "quoted"' for o in objects), out)
    access = [o for o in objects if o.get("msg") == "response completed"]
    check("json: one access line per request", len(access) == 2, out)
    check("json: the target with quotes and a backslash survives",
          any(o.get("http.request.uri") == TARGET for o in access), out)
    check("json: each access line has its own request id",
          len({o.get("http.request.id") for o in access}) == 2, out)
    check("json: nothing on stderr", err == "", err)

    rc, out, err = serve_and_log(tmp, "  accesslog:\n    disabled: true\n")
    objects, bad = parse(out)
    objects = objects or []
    check("accesslog disabled: exits 0", rc == 0, err)
    check("accesslog disabled: no access line",
          objects and not any(o.get("msg") == "response completed" for o in objects), out)
    check("accesslog disabled: the rest of the log stays",
          any(o.get("msg", "").startswith("onsen serving") for o in objects), out)

sys.exit(finish())
