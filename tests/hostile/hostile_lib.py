"""Shared pieces of the hostile-input suite (python3 stdlib only): tests/lib's Server run as Onsen
or as CNCF Distribution's docker-registry for comparison, and raw-socket HTTP exchanges that
tolerate anything the server does (close, reset, silence), with a small parser into tests/lib's
Response. The raw sockets stay here: the shared Client (http.client) cannot send malformed bytes.

Nothing here trusts the server: every read is bounded by a deadline, every parse is defensive,
and a server that hangs shows up as a timeout in the case that caused it.
"""
import hashlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import onsen_proc  # noqa: E402
from onsen_proc import HOST, Response, sha256  # noqa: E402,F401 (sha256: for the suites)


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def b(text):
    """str -> bytes, byte for byte (latin-1), so tests can put any byte on the wire."""
    return text if isinstance(text, bytes) else text.encode("latin-1")


# ---------------------------------------------------------------------------------------------
# Requests and responses


def request(method, target, headers=(), body=b"", version="HTTP/1.1", host=True, close=True,
            length=True):
    """One raw request. headers: (name, value) pairs, sent as given (bytes allowed). length adds
    Content-Length for a non-empty body unless the headers already frame it."""
    lines = [b(method) + b" " + b(target) + b" " + b(version)]
    names = [b(k).lower() for k, _ in headers]
    if host:
        lines.append(b"Host: " + b(HOST))
    for k, v in headers:
        lines.append(b(k) + b": " + b(v))
    if length and body and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + b(body)


def chunked(*chunks):
    """A chunked body of the given chunks plus the last chunk."""
    out = b""
    for c in chunks:
        out += b"%x\r\n" % len(c) + b(c) + b"\r\n"
    return out + b"0\r\n\r\n"


class Incomplete(Exception):
    pass


def parse_one(data, head_request):
    """Parses one response from the front of data: (Response, rest), or raises Incomplete.
    A response without framing runs to the end of data (the caller reads until close)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete()
    lines = data[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("not an HTTP response: %r" % data[:80])
    status = int(parts[1])
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip().lower(), v.strip()))
    rest = data[end + 4:]
    hdr = dict(headers)
    if status == 100:
        return Response(status, headers, b"", parts[2] if len(parts) > 2 else ""), rest
    if head_request or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b""), rest
    if "chunked" in hdr.get("transfer-encoding", "").lower():
        body = b""
        while True:
            nl = rest.find(b"\r\n")
            if nl < 0:
                raise Incomplete()
            size = int(rest[:nl].split(b";")[0], 16)
            if len(rest) < nl + 2 + size + 2:
                raise Incomplete()
            body += rest[nl + 2:nl + 2 + size]
            rest = rest[nl + 2 + size + 2:]
            if size == 0:
                return Response(status, headers, body), rest
    if "content-length" in hdr:
        n = int(hdr["content-length"])
        if len(rest) < n:
            raise Incomplete()
        return Response(status, headers, rest[:n]), rest[n:]
    raise Incomplete()  # until close


class Exchange:
    """What came back for one connection: the parsed responses (in order), whether the server
    closed the connection, and whether we gave up waiting (timed_out)."""

    def __init__(self):
        self.responses = []
        self.closed = False
        self.timed_out = False
        self.raw = b""
        self.error = None

    @property
    def first(self):
        return self.responses[0] if self.responses else None


def exchange(port, data, expect=1, heads=(), timeout=10.0, half_close=False, abort=False,
             pieces=None, pause=0.0):
    """Sends data (or the list `pieces`, pausing between them) on a fresh connection and reads
    until `expect` responses are parsed, the server closes, or the timeout. heads: indexes of
    responses that answer HEAD requests. half_close: shut our sending side after the data.
    abort: close the connection right after sending, without reading (a client that goes away
    mid-request)."""
    ex = Exchange()
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError as e:
        ex.error = "connect: %s" % e
        return ex
    with sock:
        try:
            for i, piece in enumerate(pieces if pieces is not None else [data]):
                if i and pause:
                    time.sleep(pause)
                sock.sendall(piece)
            if abort:
                # RST-free close: the kernel sends FIN; unread data on our side is dropped.
                sock.shutdown(socket.SHUT_RDWR)
                ex.closed = True
                return ex
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            ex.error = "send: %s" % e  # the server may close before reading it all: fine
        buf = b""
        while len(ex.responses) < expect:
            left = deadline - time.monotonic()
            if left <= 0:
                ex.timed_out = True
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                ex.timed_out = True
                break
            except OSError as e:  # reset
                ex.error = ex.error or "recv: %s" % e
                ex.closed = True
                chunk = b""
            ex.raw += chunk
            buf += chunk
            if not chunk:
                ex.closed = True
            # Parse whatever is complete.
            while len(ex.responses) < expect:
                try:
                    r, buf = parse_one(buf, len(ex.responses) in heads)
                except Incomplete:
                    if ex.closed and buf:
                        # Unframed body (HTTP/1.0 style): runs to the close.
                        end = buf.find(b"\r\n\r\n")
                        if end >= 0:
                            r, _ = parse_one(buf[:end + 4], True)
                            r.body = buf[end + 4:]
                            ex.responses.append(r)
                            buf = b""
                    break
                except ValueError as e:
                    ex.error = str(e)
                    ex.closed = True
                    break
                if r.status == 100:
                    continue  # interim
                ex.responses.append(r)
            if ex.closed:
                break
        # After the expected answers, note whether the server closed (briefly).
        if not ex.closed and not ex.timed_out:
            sock.settimeout(0.05)
            try:
                ex.closed = sock.recv(1) == b""
            except (socket.timeout, OSError):
                pass
    return ex


def call(port, method, target, headers=(), body=b"", timeout=10.0):
    """One ordinary request; the Response (or None if the server answered nothing)."""
    ex = exchange(port, request(method, target, headers, body), heads=(0,) if method == "HEAD"
                  else (), timeout=timeout)
    return ex.first


# ---------------------------------------------------------------------------------------------
# Server process


class Server(onsen_proc.Server):
    """onsen serve (kind "onsen") or docker-registry serve (kind "distribution") on a free
    loopback port with a fresh storage directory under workdir/name; htpasswd: the file of an
    htpasswd auth section (then a 401 on /v2/ means ready too)."""

    def __init__(self, kind, binary, workdir, name, htpasswd=None, log_level="info"):
        auth = ('auth:\n  htpasswd:\n    realm: "Onsen Registry"\n    path: %s\n' % htpasswd
                if htpasswd else "")
        super().__init__(binary, os.path.join(workdir, name), log_level=log_level,
                         http_extra="  secret: hostile-suite-secret\n", config_extra=auth,
                         ready=(200, 401), name=kind)
        os.makedirs(self.root)  # fresh: a name used twice is a mistake
        self.kind = kind
        self.auth = htpasswd is not None
