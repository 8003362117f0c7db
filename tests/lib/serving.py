"""An `onsen serve` process for the Python process tests: a free loopback port and the wait until
it answers. (The test-support consolidation of issue 10 may fold this into its shared library.)"""

import http.client
import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(proc, port, seconds=10):
    """Waits until GET /v2/ on PORT gets any answer; returns the open connection. Raises OSError
    when PROC exits first or SECONDS pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v2/")
            conn.getresponse().read()
            return conn
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.05)
