#!/usr/bin/env python3
"""The origin the in-container test downloads from (the container has no other network).

GET /file.bin   a fixed 4 MiB file, answered at once (any query: the same file)
GET /slow.bin   16 MiB at 32 KiB/s: a download still running while the test kills, stops and
                upgrades the daemon
"""

import hashlib
import http.server
import sys
import time

FILE = bytes((i * 7919) % 251 for i in range(4 * 1024 * 1024))
SLOW_SIZE = 16 * 1024 * 1024


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        # A query makes a URL (and so a job) of its own for the same content.
        path = self.path.split("?")[0]
        if path == "/file.bin":
            self.answer(len(FILE))
            self.wfile.write(FILE)
        elif path == "/slow.bin":
            self.answer(SLOW_SIZE)
            chunk = b"s" * 32 * 1024
            try:
                for _ in range(SLOW_SIZE // len(chunk)):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self.send_error(404)

    def answer(self, length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()


if __name__ == "__main__":
    if sys.argv[1:] == ["--sha256"]:
        print(hashlib.sha256(FILE).hexdigest())
    else:
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Origin).serve_forever()
