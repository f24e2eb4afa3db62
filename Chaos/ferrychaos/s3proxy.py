"""A fault-injecting proxy in front of moto's S3 server, on loopback: what a real object store does
on a bad day, chosen per request by a seeded random draw.

Faults (each counted in `S3FaultProxy.counts`):
  500           500 InternalError, the request never reaches the server
  503           503 SlowDown (throttling), the request never reaches the server
  cut           a PUT (a whole object or a part) is read halfway, then the connection is closed
                without an answer
  trickle       the request body is read at about 200 KiB/s before it is passed on (a slow link)
  lost-complete CompleteMultipartUpload reaches the server, which completes the object, then the
                client gets a 500 (or, half the time, a 200 whose body is an <Error> document, as
                S3 may send)
  lost-create   CreateMultipartUpload reaches the server, which begins the upload, then the client
                gets a 500: an upload the client never learned the id of
Requests are passed on byte for byte (moto does not check SigV4 signatures, so the Host header the
client signed is kept). HEAD, GET and DELETE always pass, so the client can see what is there.
Every write the server carried out (a whole-object PUT or a completed multipart upload) is noted in
`S3FaultProxy.writes` with its key and time, faulty or not: with `rate=0` the proxy is a plain
recorder of who wrote which object when (the cluster scenario gives each node one), and
`write_delay` makes every write wait, as a slow object store would.
"""
import http.client
import http.server
import random
import socket
import sys
import threading
import time
import urllib.parse

from . import REPO

sys.path.insert(0, str(REPO / "Sources/FerryTesting/Origin"))
from loopback import HOP_BY_HOP, pass_on  # noqa: E402  (the test servers' own answer, shared)

ERROR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>"
         "<RequestId>chaos</RequestId></Error>")


def classify(method, query):
    if method == "PUT":
        return "upload-part" if "partNumber" in query and "uploadId" in query else "put-object"
    if method == "POST":
        if "uploads" in query:
            return "create-multipart"
        if "uploadId" in query:
            return "complete-multipart"
    return "read-or-abort"


def object_key(path):
    """The key a path-style request names (/bucket/key?query), unquoted."""
    parts = urllib.parse.unquote(urllib.parse.urlsplit(path).path).lstrip("/").split("/", 1)
    return parts[1] if len(parts) == 2 else ""


class S3FaultProxy:
    def __init__(self, upstream_port, seed, rate=0.25, complete_rate=0.6, write_delay=0.0):
        self.upstream_port = upstream_port
        self.write_delay = write_delay  # seconds each PUT and CompleteMultipartUpload waits (a slow store)
        self.rng = random.Random(seed)
        self.rate = rate  # the chance that a request which can fail does
        self.complete_rate = complete_rate  # the same for CompleteMultipartUpload, the rarest request
        self.counts = {}
        self.requests = {}
        self.writes = []  # (epoch seconds, "put-object" or "complete-multipart", key) the server carried out
        # The writes the server refused because the object was not as the writer had seen it (412:
        # Ferry's writes are conditional), e.g. a dead node's PUT arriving after another delivered.
        self.refused = []  # (epoch seconds, kind, key)
        self.lock = threading.Lock()
        self.inflight = {}  # thread id -> (monotonic start, method, key) of each request being handled
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                proxy.handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def choose(self, kind):
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            rate = self.complete_rate if kind == "complete-multipart" else self.rate
            if kind == "read-or-abort" or self.rng.random() >= rate:
                return None
            if kind == "complete-multipart":
                return self.rng.choice(["lost-complete", "lost-complete", "500", "503"])
            if kind in ("upload-part", "put-object"):
                return self.rng.choice(["500", "503", "cut", "cut", "trickle"])
            if kind == "create-multipart":
                return self.rng.choice(["500", "503", "lost-create", "lost-create"])
            return self.rng.choice(["500", "503"])

    def handle(self, handler):
        with self.lock:
            self.inflight[threading.get_ident()] = (time.monotonic(), handler.command, object_key(handler.path))
        try:
            self.serve(handler)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up on this request; it will retry
        finally:
            with self.lock:
                self.inflight.pop(threading.get_ident(), None)

    def idle(self):
        """Whether no request is being handled (a killed client's whole request may still be)."""
        with self.lock:
            return not self.inflight

    def busy_with(self):
        """The requests being handled: [(seconds so far, method, key)]."""
        now = time.monotonic()
        with self.lock:
            return [(round(now - start), method, key) for start, method, key in self.inflight.values()]

    def serve(self, handler):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query, keep_blank_values=True)
        kind = classify(handler.command, query)
        fault = self.choose(kind)
        length = int(handler.headers.get("Content-Length") or 0)
        if fault in ("500", "503"):
            handler.rfile.read(length)
            self.count(fault)
            code, message = ("InternalError", "chaos: an internal error") if fault == "500" else \
                ("SlowDown", "chaos: please reduce your request rate")
            self.answer(handler, int(fault), ERROR.format(code=code, message=message).encode())
            return
        if fault == "cut":
            handler.rfile.read(length // 2)
            self.count(fault)
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "trickle":
            body = bytearray()
            while len(body) < length:
                chunk = handler.rfile.read(min(32768, length - len(body)))
                if not chunk:  # the client died before it had sent the whole body: nothing is written
                    handler.close_connection = True
                    return
                body += chunk
                time.sleep(32768 / 200_000)
            body = bytes(body)
            self.count(fault)
        else:
            body = handler.rfile.read(length) if length else b""
            if len(body) < length:
                # The client died mid-body: a server would drop the request (passing it on with its
                # Content-Length would hold the server, and this request, until their timeout).
                handler.close_connection = True
                return
        if kind in ("put-object", "upload-part", "complete-multipart"):
            time.sleep(self.write_delay)
        try:
            status, headers, answer = self.forward(handler, body)
        except OSError as error:
            self.answer(handler, 502, ERROR.format(code="BadGateway", message=str(error)).encode())
            return
        if kind in ("put-object", "complete-multipart"):
            carried_out = status == 200 and b"<Error>" not in answer
            if carried_out or status == 412:
                with self.lock:
                    (self.writes if carried_out else self.refused).append((time.time(), kind, object_key(handler.path)))
        if fault == "lost-create" and status == 200:
            self.count(fault)
            self.answer(handler, 500, ERROR.format(code="InternalError", message="chaos: created, then the "
                                                   "answer was lost").encode())
            return
        if fault == "lost-complete" and status == 200:
            self.count(fault)
            if self.rng.random() < 0.5:
                self.answer(handler, 500, ERROR.format(code="InternalError", message="chaos: completed, "
                                                       "then the answer was lost").encode())
            else:
                self.answer(handler, 200, ERROR.format(code="InternalError", message="chaos: an error "
                                                       "document in a 200").encode())
            return
        pass_on(handler, status, headers, answer)

    def forward(self, handler, body):
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(handler.command, handler.path, body=body if body else None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.getheaders(), data
        finally:
            connection.close()

    @staticmethod
    def answer(handler, status, body):
        handler.send_response(status)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
