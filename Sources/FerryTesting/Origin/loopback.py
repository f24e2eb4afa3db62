"""What the loopback test servers share: their deterministic content, and how they start.

`pass_on(handler, status, headers, body)` answers as the server behind a proxy answered.
`serve(handler, port_file, port)` listens on 127.0.0.1 (`port`, or any free port when 0), writes
the port to `port_file` atomically (by rename) once listening, and serves until killed or orphaned.
"""
import http.server
import os
import signal
import threading
import time


def content(size, seed=0):
    """bytes((i + seed) % 251 for i in range(size)), built without a Python loop per byte."""
    pattern = bytes(i % 251 for i in range(251 + 251))
    start = seed % 251
    return (pattern[start:start + 251] * (size // 251 + 1))[:size]


def exit_with_parent(parent):
    """The test process may die without stopping us; never outlive it."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def pass_on(handler, status, headers, body):
    """Answers `handler` with what the server behind a proxy answered: its hop-by-hop headers
    dropped, and Content-Length that of `body` (a HEAD's is the object's, with no body)."""
    handler.send_response(status)
    head = handler.command == "HEAD"
    for name, value in headers:
        if name.lower() not in HOP_BY_HOP and (head or name.lower() != "content-length"):
            handler.send_header(name, value)
    if not head:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if not head:
        handler.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 refuses connections when a benchmark opens 50 at once.
    request_queue_size = 256


def serve(handler, port_file, port=0):
    # The test runner may have blocked or ignored SIGTERM, and both are inherited across exec.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    server = Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as file:
        file.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()
