#!/usr/bin/env python3
"""Stop signals at random moments of start-up: 200 runs of `onsen serve`, each sent SIGTERM (or
SIGINT) 0-1.5 s after it was started, often before it listens. Every run must exit with status 0
within the drain timeout (plus the 1 s force stage and slack for a loaded machine), never hang
and never die of the signal.

Runs vary: plain HTTP, or TLS + htpasswd + upload purging every second (so a purge pass may be
running); nothing connected, an idle keep-alive connection, a silent connection (nothing sent;
over TLS: no handshake), or an upload in flight whose body stalls (the drain timeout must cut it
off); and in some runs a second signal 0.2 s after the first (must exit at once).

Half the runs start onsen with SIGTERM and SIGINT blocked (inherited across exec, as from some
supervisors): the signal is then pending from the first instruction, so exit 0 is required at
every moment. In the other half a signal that reaches the process while the default action is
still in place (before main(), or nothing has blocked or caught it yet, read from
/proc/PID/status just before sending) may kill it: nothing in the process can prevent that,
and registry:2 dies the same way.

On a failure: the run's seed and parameters and the server's log. STOP_SIGNAL_RUNS and
STOP_SIGNAL_SEED change the number of runs and the first seed."""

import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from stress_lib import free_port, log, main_wrapper, skip

RUNS = int(os.environ.get("STOP_SIGNAL_RUNS", "200"))
FIRST_SEED = int(os.environ.get("STOP_SIGNAL_SEED", str(int(time.time()))))
PARALLEL = 4
DRAIN = 1.0  # http.draintimeout
EXIT_LIMIT = DRAIN + 1.0 + 4.0  # drain, the force stage, slack for a loaded 2-core machine
HANG_LIMIT = 20.0  # then the run is killed and reported
MODES = ["none", "idle", "silent", "inflight"]
SIGNALS = [signal.SIGTERM, signal.SIGINT]


class Fixture:
    """Files shared by all runs: a certificate, an htpasswd file."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="onsen-stop-")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out",
                        self.cert, "-subj", "/CN=localhost", "-days", "1"],
                       check=True, capture_output=True)
        self.htpasswd = os.path.join(self.dir, "htpasswd")
        line = subprocess.run(["htpasswd", "-Bbn", "-C", "4", "alice", "secret"], check=True,
                              capture_output=True).stdout.decode().strip()
        with open(self.htpasswd, "w") as f:
            f.write(line + "\n")

    def config(self, run_dir, port, tls):
        root = os.path.join(run_dir, "data")
        text = ("version: 0.1\nlog:\n  level: info\n"
                f"storage:\n  filesystem:\n    rootdirectory: {root}\n")
        if tls:
            text += ("  maintenance:\n    uploadpurging:\n      enabled: true\n"
                     "      age: 1h\n      interval: 1s\n      dryrun: false\n"
                     f"auth:\n  htpasswd:\n    realm: r\n    path: {self.htpasswd}\n")
        text += f"http:\n  addr: 127.0.0.1:{port}\n  draintimeout: {DRAIN:g}s\n"
        if tls:
            text += f"  tls:\n    certificate: {self.cert}\n    key: {self.key}\n"
        path = os.path.join(run_dir, "config.yml")
        with open(path, "w") as f:
            f.write(text)
        return path


def term_state(pid):
    """'caught', 'blocked' or 'default': what SIGTERM would meet in the process now."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return "gone"
    bit = 1 << (signal.SIGTERM - 1)
    if int(fields["SigCgt"], 16) & bit:
        return "caught"
    if int(fields["SigBlk"], 16) & bit:
        return "blocked"
    return "default"


def client(port, tls, mode, stop, opened):
    """Connects as soon as the server listens and holds the connection the mode asks for."""
    sock = None
    while not stop.is_set() and sock is None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        except OSError:
            time.sleep(0.01)
    if sock is None:
        return
    try:
        sock.settimeout(5)
        if mode != "silent" and tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        auth = "Authorization: Basic YWxpY2U6c2VjcmV0\r\n" if tls else ""
        if mode == "idle":
            sock.sendall(f"GET /v2/ HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            sock.recv(4096)
        elif mode == "inflight":
            digest = "sha256:" + "0" * 64
            sock.sendall((f"POST /v2/stop/test/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
                          f"Host: x\r\n{auth}Content-Length: 1000000\r\n\r\n").encode() +
                         b"x" * 1000)
        opened.set()
        stop.wait(HANG_LIMIT)
    except OSError:
        pass
    finally:
        sock.close()


def one_run(fixture, seed):
    rng = random.Random(seed)
    tls = rng.random() < 0.5
    mode = rng.choice(MODES)
    sig = rng.choice(SIGNALS)
    delay = rng.uniform(0, 1.5)
    second = mode == "inflight" and rng.random() < 0.5
    held = rng.random() < 0.5
    what = (f"seed {seed}: {'tls+htpasswd+purging' if tls else 'plain'}, {mode}, "
            f"{signal.Signals(sig).name} at {delay:.3f}s{', twice' if second else ''}"
            f"{', signals blocked at exec' if held else ''}")

    run_dir = tempfile.mkdtemp(prefix="run-", dir=fixture.dir)
    port = free_port()
    config = fixture.config(run_dir, port, tls)
    log_path = os.path.join(run_dir, "onsen.log")

    stop = threading.Event()
    opened = threading.Event()
    # The child inherits the mask of the thread that starts it (this pool thread; Python takes
    # signals on its main thread only, so blocking them here changes nothing else).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK if held else signal.SIG_UNBLOCK, SIGNALS)
    try:
        with open(log_path, "wb") as out:
            started = time.monotonic()
            proc = subprocess.Popen([BINARY, "serve", config], stdout=out,
                                    stderr=subprocess.STDOUT)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    worker = None
    if mode != "none":
        worker = threading.Thread(target=client, args=(port, tls, mode, stop, opened))
        worker.start()
    try:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        state = term_state(proc.pid)
        connected = opened.is_set()
        proc.send_signal(sig)
        signalled = time.monotonic()
        if second:
            time.sleep(0.2)
            if proc.poll() is None:
                proc.send_signal(sig)
        try:
            status = proc.wait(HANG_LIMIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            status = None
        took = time.monotonic() - signalled
    finally:
        stop.set()
        if worker:
            worker.join()
    with open(log_path, "rb") as f:
        server_log = f.read().decode(errors="replace")
    what += f" (state {state}, {'connected' if connected else 'not connected'})"
    verdict = None
    if status is None:
        verdict = f"{what}: still running {HANG_LIMIT:g}s after the signal\n{server_log}"
    elif status == -sig and state == "default" and not held:
        verdict = KILLED_EARLY
    elif status != 0:
        verdict = f"{what}: exit status {status}\n{server_log}"
    elif took > EXIT_LIMIT:
        verdict = f"{what}: exited after {took:.2f}s (limit {EXIT_LIMIT:g}s)\n{server_log}"
    if verdict in (None, KILLED_EARLY):
        shutil.rmtree(run_dir, ignore_errors=True)
    return verdict, connected, took


def main(binary):
    global BINARY
    BINARY = binary
    for tool in ("openssl", "htpasswd"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed (scripts/install-deps.sh test)")
    fixture = Fixture()
    log(f"{RUNS} runs, seeds {FIRST_SEED}..{FIRST_SEED + RUNS - 1}, {PARALLEL} at a time")
    started = time.monotonic()
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda s: one_run(fixture, s),
                                range(FIRST_SEED, FIRST_SEED + RUNS)))
    failures = [r for r, _, _ in results if r not in (None, KILLED_EARLY)]
    early = sum(r == KILLED_EARLY for r, _, _ in results)
    connected = sum(c for _, c, _ in results)
    slowest = max((t for r, _, t in results if r is None), default=0.0)
    log(f"{RUNS} runs in {time.monotonic() - started:.1f}s: {len(failures)} failed, "
        f"{early} killed by a signal that came before any handler could exist, "
        f"{connected} with a connection open when signalled; slowest clean exit {slowest:.2f}s "
        "after the signal")
    for i, failure in enumerate(failures):  # every failed run, the first ones with their log
        print(failure if i < 3 else failure.split("\n", 1)[0], flush=True)
    if failures:
        raise AssertionError(f"{len(failures)} of {RUNS} runs did not stop cleanly")
    shutil.rmtree(fixture.dir, ignore_errors=True)


BINARY = None
KILLED_EARLY = "killed before main"

if __name__ == "__main__":
    main_wrapper(main)
