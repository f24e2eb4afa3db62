"""An S3-compatible server without conditional writes, for the tests: passes every request on to
the S3 test server (moto) at UPSTREAM_PORT, except a write carrying `If-None-Match` or `If-Match`,
which it refuses with 501 NotImplemented as such servers do. Counts the refusals at GET /_refused.

    unconditional_proxy.py PORT_FILE UPSTREAM_PORT
"""
import http.client
import http.server
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Origin"))
from loopback import HOP_BY_HOP, pass_on, serve  # noqa: E402

UPSTREAM = int(sys.argv[2])
refused = []
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_refused":
            with lock:
                count = len(refused)
            return pass_on(self, 200, [], str(count).encode())
        if self.command in ("PUT", "POST") and ("If-None-Match" in self.headers or "If-Match" in self.headers):
            with lock:
                refused.append(self.path)
            return pass_on(self, 501, [("Content-Type", "application/xml")],
                           b"<Error><Code>NotImplemented</Code><Message>A header you provided implies "
                           b"functionality that is not implemented</Message></Error>")
        connection = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            pass_on(self, response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


serve(Handler, sys.argv[1])
