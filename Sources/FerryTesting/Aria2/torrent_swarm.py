"""A BitTorrent swarm on loopback for the aria2 tests: an HTTP tracker, a torrent made with torf,
and a second aria2c seeding it. Nothing leaves the machine: DHT, local peer discovery and peer
exchange are off, and the only tracker is this one.

Arguments: <content> <work folder> <info file> [--rate BYTES_PER_S] [--more CONTENT]...
  <content>       a file or a folder (a multi-file torrent) to seed
  --rate R        the seeder uploads at most R bytes per second (per torrent)
  --more C        one more file or folder to seed, as a torrent of its own (repeatable): one
                  tracker and one seeder serve them all
Once the seeder runs it writes the info file (atomically, by rename) as JSON: "tracker" (the
announce URL), "torrent" (the .torrent file's path), "torrent_url" (where the tracker serves
it over HTTP), "magnet" (with the tracker) and "info_hash", all of the first content, and
"torrents", the same four for every content in order; it serves until killed or orphaned.
GET /announce answers with every peer that announced the info hash (compact form); GET
/file.torrent serves the first torrent, GET /file-<n>.torrent the n-th (from 0), GET
/bad.torrent a file that is not one, GET /escaping.torrent a well-formed torrent (hand-written
bencoding) whose file name climbs out of its folder.
"""
import argparse
import ctypes
import hashlib
import http.server
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse

import torf

arguments = argparse.ArgumentParser()
arguments.add_argument("content")
arguments.add_argument("work")
arguments.add_argument("info_file")
arguments.add_argument("--rate", type=int, default=0)
arguments.add_argument("--more", action="append", default=[])
options = arguments.parse_args()

peers = {}
lock = threading.Lock()
torrent_bytes = []  # each content's .torrent file, in order


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, str):
        return bencode(value.encode())
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(key) + bencode(value[key]) for key in sorted(value)) + b"e"
    raise TypeError(type(value))


def escaping_torrent():
    content = b"x" * 1000
    info = {
        "name": "pack", "piece length": 16384, "pieces": hashlib.sha1(content + content).digest(),
        "files": [{"length": 1000, "path": ["..", "..", "escaped.bin"]}, {"length": 1000, "path": ["ok.bin"]}],
    }
    return bencode({"announce": announce, "info": info})


class Tracker(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/file.torrent":
            return self.answer(torrent_bytes[0], "application/x-bittorrent")
        number = url.path[len("/file-"):-len(".torrent")]
        if url.path.startswith("/file-") and url.path.endswith(".torrent") and number.isdigit() \
                and int(number) < len(torrent_bytes):
            return self.answer(torrent_bytes[int(number)], "application/x-bittorrent")
        if url.path == "/bad.torrent":
            return self.answer(b"d8:announce5:this is not bencoding", "application/x-bittorrent")
        if url.path == "/escaping.torrent":
            return self.answer(escaping_torrent(), "application/x-bittorrent")
        if url.path != "/announce":
            return self.answer(b"not found", "text/plain", 404)
        # The info hash is raw bytes, percent-encoded: decoded by hand, never as text.
        query = {}
        for pair in url.query.split("&"):
            key, _, value = pair.partition("=")
            query[key] = urllib.parse.unquote_to_bytes(value)
        info_hash = query["info_hash"]
        port = int(query["port"])
        with lock:
            known = peers.setdefault(info_hash, set())
            if query.get("event") == b"stopped":
                known.discard(port)
            else:
                known.add(port)
            others = [p for p in known if p != port]
        compact = b"".join(socket.inet_aton("127.0.0.1") + struct.pack(">H", p) for p in others)
        self.answer(bencode({"interval": 5, "min interval": 1, "peers": compact}), "text/plain")

    def answer(self, body, content_type, status=200):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def die_with_parent():
    # PR_SET_PDEATHSIG: the seeder must not outlive this script.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


tracker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tracker)
announce = "http://127.0.0.1:%d/announce" % tracker.server_address[1]
threading.Thread(target=tracker.serve_forever, daemon=True).start()

contents = [options.content] + options.more
torrents = []
session_lines = []
for index, content in enumerate(contents):
    torrent = torf.Torrent(path=content, trackers=[announce], private=False, piece_size=16384 * 4)
    torrent.generate()
    torrent_path = os.path.join(options.work, "seed.torrent" if index == 0 else "seed-%d.torrent" % index)
    torrent.write(torrent_path, overwrite=True)
    with open(torrent_path, "rb") as handle:
        torrent_bytes.append(handle.read())
    torrents.append({
        "torrent": torrent_path,
        "torrent_url": "http://127.0.0.1:%d/%s" % (
            tracker.server_address[1], "file.torrent" if index == 0 else "file-%d.torrent" % index),
        "magnet": str(torrent.magnet(name=True, size=False, trackers=True)),
        "info_hash": torrent.infohash,
    })
    # Each content is seeded from the folder that holds it.
    session_lines += [torrent_path, "  dir=" + os.path.dirname(os.path.abspath(content))]
input_file = os.path.join(options.work, "seeder-input.txt")
with open(input_file, "w") as handle:
    handle.write("\n".join(session_lines) + "\n")

seeder_port = free_port()
seeder = subprocess.Popen(
    [
        "aria2c", "--seed-ratio=0.0",
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
        "--check-integrity=true", "--bt-seed-unverified=false", "--listen-port=%d" % seeder_port,
        "--max-upload-limit=%d" % options.rate, "--max-concurrent-downloads=%d" % (len(contents) + 5),
        "--bt-tracker-interval=1", "--console-log-level=warn", "--summary-interval=0",
        "--input-file=" + input_file,
    ],
    stdout=subprocess.DEVNULL, preexec_fn=die_with_parent)

info = dict(torrents[0], tracker=announce, torrents=torrents)
temporary = options.info_file + ".tmp"
with open(temporary, "w") as handle:
    json.dump(info, handle)
os.rename(temporary, options.info_file)

parent = os.getppid()
while os.getppid() == parent and seeder.poll() is None:
    time.sleep(0.5)
seeder.kill()
