"""A webhook receiver for the notification tests: an http.server on 127.0.0.1 (a free port, its
own thread) that records every POST (headers and decoded JSON body) and answers as told: "ok"
(200), "fail" (500), "hang" (sleeps `hang_seconds` before answering 200, longer than the sender's
timeout). stop() closes the listening socket: the receiver is then down (connections refused).
With tls=(certificate file, key file) it answers https.
Python 3 standard library only."""
import http.server
import json
import ssl
import threading
import time


class Receiver:
    def __init__(self, port, tls=None):
        self.port = port
        self.tls = tls
        self.mode = "ok"
        self.hang_seconds = 5.0
        self.posts = []  # (headers as a lowercase dict, decoded body), in arrival order
        self.attempts = 0  # every POST, whatever the answer
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def url(self, path="/events"):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the senders use it

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.attempts += 1
                    mode = receiver.mode
                if mode == "hang":
                    time.sleep(receiver.hang_seconds)
                if mode == "fail":
                    self.answer(500, b"failing on purpose\n")
                    return
                try:
                    envelope = json.loads(body)
                except ValueError:
                    envelope = {"unparsed": body.decode(errors="replace")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    if mode != "hang":  # a hung answer reached nobody: the sender gave up
                        receiver.posts.append((headers, envelope))
                self.answer(200, b"ok\n")

            def answer(self, status, body):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        class QuietServer(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a sender that gave up or closed its kept-alive connection

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self):
        """Every event received so far, in order, each with the POST's headers beside it."""
        with self.lock:
            return [(h, e) for h, env in self.posts for e in env.get("events", [])]

    def wait_events(self, n, timeout):
        """The events once at least n arrived, or what arrived within timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.events()
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return self.events()
