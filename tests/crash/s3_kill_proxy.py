"""A loopback HTTP proxy between onsen and the S3 gateway that SIGKILLs onsen at a chosen S3 call,
for the crash harness on S3 (crash_test.py): where a timer lands by chance, this lands on each step
of an operation in turn — between a PATCH's part and its tail, between an upload's final copy and
its delete, between the copies that make a manifest, a link or a tag.

arm(n, after, kill): the n-th request that changes the bucket (PUT, POST, DELETE) from now on is the
kill point: with after=False it is never forwarded, with after=True it is and its answer is not
returned; either way kill() is called then, and from that moment no request is forwarded (calls
the dying process had in flight beside it are cut off where they are, not let through by the
proxy's own threads). settle(), once the process is dead: forwards nothing more of it, waits
until the calls it already forwarded are answered, then lets everything through again (the
restarted server, `onsen check`). Requests are forwarded unchanged, Host header included, so SigV4
signatures stay valid.

Why settle: a call the gateway already has completes after the process that sent it died (also
without a proxy: the kernel delivers what was written), and the harness must see the storage as
the crash left it, not while those calls still land (a 4.5 MiB PUT of an upload's data landed
after the restarted server had reported the upload's offset, which then grew by itself).
"""

import http.client
import socket
import threading

MUTATING = ("PUT", "POST", "DELETE")


def call_kind(method, target, headers):
    """What an S3 request does, and where: "upload-part in _uploads", "copy to blobs", ..."""
    path, _, query = target.partition("?")
    params = {p.split("=", 1)[0] for p in query.split("&") if p}
    copy = "x-amz-copy-source" in headers
    if "partNumber" in params:
        kind = "upload-part-copy" if copy else "upload-part"
    elif method == "POST":
        kind = {"uploads": "create-multipart", "uploadId": "complete-multipart",
                "delete": "delete-objects"}.get(next(iter(params & {"uploads", "uploadId",
                                                                   "delete"}), ""), "post")
    elif method == "DELETE":
        kind = "abort-multipart" if "uploadId" in params else "delete"
    else:
        kind = "copy" if copy else "put"
    if "/_uploads/" in path:
        where = "_uploads"
    else:
        where = next((a for a in ("blobs", "_layers", "revisions", "tags", "_referrers")
                      if f"/{a}/" in path), "elsewhere")
    return f"{kind} {'to ' if copy else 'in '}{where}"


class KillProxy:
    def __init__(self, upstream_host, upstream_port):
        self.upstream = (upstream_host, upstream_port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Condition()
        self.inflight = 0  # forwarded calls not yet answered
        self.countdown = 0  # mutating requests until the kill point; 0: disarmed
        self.after = False
        self.kill = None
        self.dead = False  # the kill point was reached: forward nothing
        self.kill_points = {}  # "before|after <call kind> <where>" -> kills there
        threading.Thread(target=self.accept_loop, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def arm(self, n, after, kill):
        with self.lock:
            self.countdown, self.after, self.kill, self.dead = n, after, kill, False

    def settle(self, timeout=60):
        with self.lock:
            self.dead = True
            if not self.lock.wait_for(lambda: self.inflight == 0, timeout):
                raise RuntimeError(f"kill proxy: {self.inflight} calls unanswered after {timeout} s")
            self.countdown, self.kill, self.dead = 0, None, False

    def accept_loop(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def decide(self, method, target, kind):
        """None: drop the request; "forward"; "kill-before" / "kill-after"."""
        with self.lock:
            if self.dead:
                return None
            if self.countdown and method in MUTATING:
                self.countdown -= 1
                if self.countdown == 0:
                    self.dead = True
                    point = f"{'after' if self.after else 'before'} {kind}"
                    self.kill_points[point] = self.kill_points.get(point, 0) + 1
                    if not self.after:
                        return "kill-before"
                    self.inflight += 1
                    return "kill-after"
            self.inflight += 1
            return "forward"

    def answered(self):
        with self.lock:
            self.inflight -= 1
            self.lock.notify_all()

    def serve(self, conn):
        up = None
        rfile = conn.makefile("rb")
        try:
            while True:
                line = rfile.readline(65536)
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = []
                while True:
                    h = rfile.readline(65536).decode("latin-1")
                    if h in ("\r\n", "\n", ""):
                        break
                    name, value = h.split(":", 1)
                    headers.append((name.strip(), value.strip()))
                lower = {k.lower(): v for k, v in headers}
                if "chunked" in lower.get("transfer-encoding", ""):
                    raise RuntimeError("kill proxy: chunked request bodies are not supported")
                length = int(lower.get("content-length", "0"))
                body = rfile.read(length)
                if len(body) < length:
                    # onsen died while sending it: S3 would discard the incomplete request, and
                    # forwarding it would leave the gateway waiting for the rest.
                    return
                action = self.decide(method, target, call_kind(method, target, lower))
                if action is None:
                    return
                if action == "kill-before":
                    self.kill()
                    return
                try:
                    if up is None:
                        up = http.client.HTTPConnection(*self.upstream, timeout=60)
                    up.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                    for k, v in headers:
                        up.putheader(k, v)
                    up.endheaders(body)
                    r = up.getresponse()
                    data = r.read()
                finally:
                    self.answered()
                if action == "kill-after":
                    self.kill()
                    return
                out = [f"HTTP/1.1 {r.status} {r.reason}\r\n"]
                for k, v in r.getheaders():
                    if k.lower() == "transfer-encoding":
                        continue
                    if k.lower() == "content-length" and method != "HEAD":
                        continue
                    out.append(f"{k}: {v}\r\n")
                if method != "HEAD":
                    out.append(f"Content-Length: {len(data)}\r\n")
                conn.sendall("".join(out).encode("latin-1") + b"\r\n" + data)
                if r.will_close:
                    up.close()
                    up = None
                if lower.get("connection", "").lower() == "close":
                    return
        except (OSError, ValueError, http.client.HTTPException):
            return  # the process on either side went away
        finally:
            rfile.close()
            conn.close()
            if up is not None:
                up.close()
