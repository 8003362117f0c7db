#!/usr/bin/env python3
"""`onsen htpasswd` and `onsen CONFIG.yml` as processes.

The lines `onsen htpasswd` prints (password from -b, from standard input, and typed at a no-echo
prompt on a pseudo-terminal) must verify with Apache's `htpasswd -vb` and log in to a real
`onsen` serving that file, which is started the registry:2 way: `onsen CONFIG.yml` with no
subcommand. Errors exit with Apache htpasswd's codes and print nothing on stdout.

usage: htpasswd_process_test.py ONSEN_BINARY
"""

import base64
import http.client
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import NotReady, clean_env, free_port, wait_ready  # noqa: E402

BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit(__doc__)
APACHE = shutil.which("htpasswd") or sys.exit("htpasswd (apache2-utils) is not installed")
# Servers read REGISTRY_* variables as configuration overrides: none leak in.
ENV = clean_env()
LINE = re.compile(r"^([^:]+):(\$2y\$(\d\d)\$[./A-Za-z0-9]{53})\n$")


def htpasswd(*args, stdin=b""):
    """Runs `onsen htpasswd ARGS` with STDIN (bytes, or a file object); (rc, stdout, stderr)."""
    kw = {"input": stdin} if isinstance(stdin, bytes) else {"stdin": stdin}
    r = subprocess.run([BINARY, "htpasswd", *args], capture_output=True, timeout=60, env=ENV, **kw)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def apache_verifies(line, user, password, tmp):
    path = os.path.join(tmp, "apache-verify")
    with open(path, "w") as f:
        f.write(line)
    r = subprocess.run([APACHE, "-vb", path, user, password], capture_output=True, timeout=60)
    return r.returncode == 0


def get_v2(port, user=None, password=None):
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/v2/", headers=headers)
    r = c.getresponse()
    r.read()
    return r.status, r.getheader("WWW-Authenticate", "")


def start_bare(config, port, log):
    """`onsen CONFIG` (no subcommand); waits until /v2/ answers."""
    proc = subprocess.Popen([BINARY, config], env=ENV, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    try:
        # Any answer will do: with htpasswd configured it is a 401.
        wait_ready(proc, port, 20, ready=range(100, 600), probe=lambda p: get_v2(p)[0])
        return proc
    except NotReady:
        proc.kill()
        proc.wait()
        return None


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def read_until(fd, needle, timeout=20):
    """Reads the pty master until NEEDLE (bytes) has been seen; returns everything read."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def prompt_session(typed, signal_at=None):
    """Runs `onsen htpasswd -C 4 carol` with a pseudo-terminal as stdin and stderr, typing each
    of TYPED after its prompt (or sending SIGNAL_AT instead of the second). Returns (rc, stdout,
    everything the terminal showed, the terminal's echo flag afterwards)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([BINARY, "htpasswd", "-C", "4", "carol"], stdin=slave,
                            stdout=subprocess.PIPE, stderr=slave, env=ENV)
    shown = b""
    try:
        for i, (prompt, text) in enumerate(zip([b"New password: ", b"Re-type new password: "],
                                                typed)):
            shown += read_until(master, prompt)
            if signal_at is not None and i == 1:
                time.sleep(0.2)  # the prompt is written after echo went off
                proc.send_signal(signal_at)
                break
            os.write(master, text)
        out, _ = proc.communicate(timeout=60)
        shown += read_until(master, b"\0", timeout=0.5)
        echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    return proc.returncode, out.decode(), shown.decode(errors="replace"), echo


def main():
    tmp = tempfile.mkdtemp(prefix="onsen-cli-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


def run(tmp):
    entries = []  # (user, password) pairs whose lines go into the served file
    lines = []

    # ------------------------------------------------------------ -b, the default cost
    rc, out, err = htpasswd("-b", "alice", "s3cret pass")
    m = LINE.match(out)
    check("-b alice: exit 0, one user:$2y$10$ line, nothing on stderr",
          rc == 0 and m is not None and m.group(1) == "alice" and m.group(3) == "10" and err == "",
          f"rc {rc} stdout {out!r} stderr {err!r}")
    if m:
        check("Apache htpasswd -vb accepts the -b line", apache_verifies(out, "alice", "s3cret pass", tmp))
        check("Apache htpasswd -vb refuses a wrong password for it",
              not apache_verifies(out, "alice", "s3cret pasS", tmp))
        entries.append(("alice", "s3cret pass"))
        lines.append(out)
    rc2, out2, _ = htpasswd("-b", "alice", "s3cret pass")
    check("a fresh salt each run", rc2 == 0 and out2 != out)
    rc, out, err = htpasswd("-b", "alice", "--", "-dash-first")
    check("a password starting with '-' after --",
          rc == 0 and apache_verifies(out, "alice", "-dash-first", tmp), f"rc {rc} {err!r}")

    # ------------------------------------------------------------ Apache's spelling, -C
    rc, out, err = htpasswd("-Bbn", "dave", "pw-dave")
    m = LINE.match(out)
    check("-Bbn (Apache's flags, verbatim) works", rc == 0 and m is not None and m.group(3) == "10",
          f"rc {rc} stdout {out!r} stderr {err!r}")
    if m:
        entries.append(("dave", "pw-dave"))
        lines.append(out)
    for args, cost in ((["-b", "-C", "4"], "04"), (["-bC5"], "05"), (["-C", "12", "-b"], "12")):
        rc, out, err = htpasswd(*args, "erin", "pw-erin")
        m = LINE.match(out)
        check(f"{' '.join(args)}: cost {cost}", rc == 0 and m is not None and m.group(3) == cost,
              f"rc {rc} stdout {out!r} stderr {err!r}")
    if m:
        check("Apache htpasswd -vb accepts a -C 12 line", apache_verifies(out, "erin", "pw-erin", tmp))
        entries.append(("erin", "pw-erin"))
        lines.append(out)

    # ------------------------------------------------------------ standard input
    rc, out, err = htpasswd("-C", "4", "bob", stdin=b"pw with spaces\r\nsecond line\n")
    m = LINE.match(out)
    check("stdin: one line read (CR LF stripped), no prompt", rc == 0 and m is not None and err == "",
          f"rc {rc} stdout {out!r} stderr {err!r}")
    if m:
        check("Apache htpasswd -vb accepts the stdin line",
              apache_verifies(out, "bob", "pw with spaces", tmp))
        entries.append(("bob", "pw with spaces"))
        lines.append(out)
    rc, out, err = htpasswd("-C", "4", "-i", "frank", stdin=b"no-newline")
    check("stdin without a final newline (-i accepted)",
          rc == 0 and LINE.match(out) is not None and apache_verifies(out, "frank", "no-newline", tmp),
          f"rc {rc} stdout {out!r} stderr {err!r}")
    with open(os.devnull, "rb") as devnull:  # what `docker run` without -i gives
        rc, out, err = htpasswd("frank", stdin=devnull)
    check("stdin at end of file: exit 2, nothing on stdout",
          rc == 2 and out == "" and "standard input" in err, f"rc {rc} stdout {out!r} stderr {err!r}")

    # ------------------------------------------------------------ the terminal prompt
    rc, out, shown, echo = prompt_session([b"typed-pw\n", b"typed-pw\n"])
    m = LINE.match(out)
    check("prompt: both prompts shown, exit 0, a cost 4 line",
          rc == 0 and m is not None and m.group(3) == "04" and "Re-type new password: " in shown,
          f"rc {rc} stdout {out!r} terminal {shown!r}")
    check("prompt: the password is not echoed", "typed-pw" not in shown, repr(shown))
    check("prompt: echo is back on afterwards", echo)
    if m:
        check("Apache htpasswd -vb accepts the prompted line", apache_verifies(out, "carol", "typed-pw", tmp))
        entries.append(("carol", "typed-pw"))
        lines.append(out)
    rc, out, shown, echo = prompt_session([b"one\n", b"two\n"])
    check("prompt: different passwords: exit 3, nothing on stdout",
          rc == 3 and out == "" and "verification error" in shown, f"rc {rc} {out!r} {shown!r}")
    rc, out, shown, echo = prompt_session([b"one\n", None], signal_at=signal.SIGINT)
    check("prompt: SIGINT at the second prompt ends the process by SIGINT",
          rc == -signal.SIGINT and out == "", f"rc {rc} {out!r} {shown!r}")
    check("prompt: echo restored after SIGINT", echo)
    rc, out, shown, echo = prompt_session([b"\x04"])
    check("prompt: Ctrl-D at the first prompt: exit 4", rc == 4 and out == "", f"rc {rc} {shown!r}")

    # ------------------------------------------------------------ errors
    for name, args, stdin, want in [
        ("user with ':'", ["-b", "a:b", "pw"], b"", 6),
        ("empty user", ["-b", "", "pw"], b"", 6),
        ("user starting with '#'", ["-b", "#root", "pw"], b"", 6),
        ("user with a newline", ["-b", "a\nb", "pw"], b"", 6),
        ("user longer than 255 bytes", ["-b", "u" * 256, "pw"], b"", 5),
        ("-b without a password", ["-b", "alice"], b"", 2),
        ("a password without -b", ["alice", "pw"], b"", 2),
        ("empty password", ["-b", "alice", ""], b"", 2),
        ("empty password line on stdin", ["alice"], b"\n", 2),
        ("73-byte password", ["-b", "alice", "p" * 73], b"", 5),
        ("NUL byte in the password on stdin", ["alice"], b"a\0b\n", 2),
        ("-C 3", ["-b", "-C", "3", "alice", "pw"], b"", 2),
        ("-C 32", ["-b", "-C", "32", "alice", "pw"], b"", 2),
        ("-C x", ["-b", "-C", "x", "alice", "pw"], b"", 2),
        ("an unsupported Apache flag (-m, MD5)", ["-mb", "alice", "pw"], b"", 2),
        ("no user", [], b"", 2),
    ]:
        rc, out, err = htpasswd(*args, stdin=stdin)
        check(f"{name}: exit {want}, nothing on stdout, a message", rc == want and out == "" and err,
              f"rc {rc} stdout {out!r} stderr {err!r}")
    rc, out, err = htpasswd("-b", "-C", "4", "max", "p" * 72)
    check("72-byte password (bcrypt's limit) is accepted",
          rc == 0 and apache_verifies(out, "max", "p" * 72, tmp), f"rc {rc} {err!r}")

    # ------------------------------------------------------------ the server, started bare
    auth_file = os.path.join(tmp, "htpasswd")
    with open(auth_file, "w") as f:
        f.writelines(lines)
    port = free_port()
    config = os.path.join(tmp, "my.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {tmp}/data\nhttp:\n  addr: 127.0.0.1:{port}\n"
                f"auth:\n  htpasswd:\n    realm: bare-config-test\n    path: {auth_file}\n")
    with open(os.path.join(tmp, "server.log"), "wb") as log:
        proc = start_bare(config, port, log)
    check("`onsen CONFIG.yml` serves (as `onsen serve CONFIG.yml`)", proc is not None,
          open(os.path.join(tmp, "server.log")).read()[-2000:])
    if proc is not None:
        status, challenge = get_v2(port)
        check("the file's auth section applies: 401 with its realm",
              status == 401 and 'realm="bare-config-test"' in challenge, f"{status} {challenge!r}")
        for user, password in entries:
            check(f"the server accepts {user}'s line", get_v2(port, user, password)[0] == 200)
        check("the server refuses a wrong password", get_v2(port, "alice", "wrong")[0] == 401)
        check("SIGTERM: exit 0", stop(proc) == 0)
    check("the server verified all five kinds of line", len(entries) == 5, str(entries))

    port = free_port()
    yaml = os.path.join(tmp, "other.yaml")
    with open(yaml, "w") as f:
        f.write(f"version: 0.1\nstorage: inmemory\nhttp:\n  addr: 127.0.0.1:{port}\n")
    with open(os.path.join(tmp, "yaml.log"), "wb") as log:
        proc = start_bare(yaml, port, log)
    check("`onsen CONFIG.yaml` serves too", proc is not None and get_v2(port)[0] == 200)
    if proc is not None:
        stop(proc)
    r = subprocess.run([BINARY, os.path.join(tmp, "missing.yml")], capture_output=True, env=ENV,
                       timeout=30)
    check("`onsen MISSING.yml`: serve's configuration error (exit 2, names the file)",
          r.returncode == 2 and b"missing.yml" in r.stderr, r.stderr.decode())
    r = subprocess.run([BINARY, "my.conf"], capture_output=True, env=ENV, timeout=30)
    check("`onsen my.conf` (not .yml/.yaml) is a usage error, exit 2",
          r.returncode == 2 and b"subcommand is required" in r.stderr, r.stderr.decode())


if __name__ == "__main__":
    sys.exit(main())
