"""A throw-away redis-server for the process suites that run onsen with `redis:` (listing changes
and cache invalidations between processes): a free loopback port, no persistence, its files in a
directory of the caller's, killed at stop(). And wait_until, the polling the suites need around
it. Import it after `sys.path.insert(0, <tests/lib>)`."""
import subprocess
import time

from onsen_proc import HOST, free_port


def wait_until(cond, timeout, interval=0.05):
    """Polls cond() until it is true or timeout seconds passed; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


class RedisServer:
    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.proc = None

    def start(self, timeout=10):
        """Starts it and waits until it answers PING; returns self."""
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", HOST,
                                      "--save", "", "--appendonly", "no", "--dir", self.workdir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ping = ["redis-cli", "-p", str(self.port), "ping"]
        if not wait_until(lambda: subprocess.run(ping, capture_output=True).stdout.strip()
                          == b"PONG", timeout):
            raise RuntimeError(f"redis-server on port {self.port} did not answer")
        return self

    def yaml(self):
        """The `redis:` section of an onsen configuration using it."""
        return f"redis:\n  addr: {HOST}:{self.port}\n"

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
