"""A real FTP server on loopback for the aria2 tests (pyftpdlib), serving one folder read-only to
anonymous users, with the faults a hostile network brings on request.

Arguments: <folder> <port file> [--cut-after N] [--rate BYTES_PER_S]
  --cut-after N   the first RETR of each file closes its data connection after about N bytes
  --rate R        every data connection sends at most R bytes per second
Once listening it writes its port to the port file (atomically, by rename) and serves until
killed or orphaned.
"""
import argparse
import logging
import os
import threading
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
from pyftpdlib.servers import FTPServer

arguments = argparse.ArgumentParser()
arguments.add_argument("folder")
arguments.add_argument("port_file")
arguments.add_argument("--cut-after", type=int, default=0)
arguments.add_argument("--rate", type=int, default=0)
options = arguments.parse_args()

cut_done = set()
lock = threading.Lock()


class CuttingDTPHandler(ThrottledDTPHandler):
    """Closes the first transfer of each file after --cut-after bytes, like a dropped link."""

    read_limit = 0
    write_limit = options.rate
    # sendfile(2) would bypass send(), where the cut and the rate are applied.
    def use_sendfile(self):
        return False

    def __init__(self, sock, cmd_channel):
        super().__init__(sock, cmd_channel)
        self.sent_bytes = 0
        self.cut_this = None

    def send(self, data):
        if self.cut_this is None:
            # Decided at the first byte: the data connection is opened (PASV) before RETR names the file.
            path = getattr(self.cmd_channel, "_ferry_last_file", None)
            with lock:
                self.cut_this = bool(options.cut_after) and path not in cut_done
                cut_done.add(path)
        sent = super().send(data)
        self.sent_bytes += sent or 0
        if self.cut_this and self.sent_bytes >= options.cut_after:
            self.cut_this = False
            self.close()
        return sent


class Handler(FTPHandler):
    dtp_handler = CuttingDTPHandler

    def ftp_RETR(self, file):
        self._ferry_last_file = file
        return super().ftp_RETR(file)


def exit_with_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


# Only problems reach standard error (which the test runner shows), not every command.
logging.basicConfig(level=logging.WARNING)
authorizer = DummyAuthorizer()
authorizer.add_anonymous(options.folder)
Handler.authorizer = authorizer
Handler.passive_ports = None
server = FTPServer(("127.0.0.1", 0), Handler)
port = server.socket.getsockname()[1]
temporary = options.port_file + ".tmp"
with open(temporary, "w") as handle:
    handle.write(str(port))
os.rename(temporary, options.port_file)
threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
server.serve_forever(handle_exit=False)
