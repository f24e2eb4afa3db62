"""A real HTTP origin on loopback for the supervisor's end-to-end tests.

GET /file/<size>?rate=<bytes per second> serves <size> deterministic bytes, trickled at the given
rate so a test can kill a worker mid-transfer; with ?stall=<n> it sends about n bytes (whole
16 KiB chunks) and then nothing, keeping the connection open. Once listening it writes its port to the file named
by its first argument (atomically, by rename) and serves until killed or orphaned. The content of /file/<n> is bytes(i % 251 for i in range(n)).
"""
import http.server
import os
import signal
import sys
import threading
import time
import urllib.parse


def content(size):
    pattern = bytes(i % 251 for i in range(251))
    return (pattern * (size // 251 + 1))[:size]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "file" or not parts[1].isdigit():
            self.send_error(404)
            return
        body = content(int(parts[1]))
        query = urllib.parse.parse_qs(url.query)
        rate = int(query.get("rate", ["0"])[0])
        # stall=<n>: send n bytes, then keep the connection open and send nothing more.
        stall = int(query.get("stall", ["-1"])[0])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        chunk = 16384
        try:
            for offset in range(0, len(body), chunk):
                if 0 <= stall <= offset:
                    time.sleep(3600)
                self.wfile.write(body[offset:offset + chunk])
                self.wfile.flush()
                if rate:
                    time.sleep(chunk / rate)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def exit_with_parent(parent):
    """The test process may die without stopping us; never outlive it."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


# The test runner may have blocked or ignored SIGTERM, and both are inherited across exec.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
signal.signal(signal.SIGTERM, signal.SIG_DFL)
threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()

class Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 refuses connections when a benchmark opens 50 at once.
    request_queue_size = 256


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as port_file:
    port_file.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
