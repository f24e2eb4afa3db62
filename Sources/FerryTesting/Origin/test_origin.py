"""A real HTTP origin on loopback for the end-to-end tests, with faults on request.

GET /file/<size> serves <size> deterministic bytes: bytes((i + seed) % 251 for i in range(size)).
It answers a Range request, open or closed (206 with Content-Range, validated by If-Range against its ETag and
Last-Modified) unless told not to. Query parameters:
  rate=<bytes/s>      trickle the body at this rate
  stall=<n>           send about n bytes (whole 16 KiB chunks), then nothing, keeping the connection
  key=<k>             name the resource: requests with the same key are counted and logged
  cut=<n>             on the first request of the key, send the headers of the whole answer but
                      close the connection after n body bytes
  changing=1          the content (seed) and ETag change with every request of the key
  fail=<status>&failures=<k>  answer the first k requests of the key with this status
                      (with Retry-After: 1 for 429 and 503)
  ranges=0            ignore Range headers (always 200 with the whole body)
  weak=1              send only a weak ETag and no Last-Modified (nothing to validate a resume)
  disposition=<name>  send Content-Disposition: attachment; filename*=UTF-8''<name>
  redirect=<n>        redirect n times before answering
GET /log/<key> answers the JSON list of the key's requests: {"range", "if_range", "status"}.
GET /metalink/<size>.meta4 answers a Metalink 4 document (RFC 5854) naming one file, clip-<size>.bin,
at /file/<size> here, with its size and SHA-256; GET /metalink/bad.meta4 one that is not XML.
Once listening it writes its port to the file named by its first argument (atomically, by
rename) and serves until killed or orphaned; a second argument names the port (the chaos suite
restarts a killed origin where it was).
"""
import hashlib
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

from loopback import content, serve

LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT"
lock = threading.Lock()
requests = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if len(parts) == 2 and parts[0] == "log":
            with lock:
                body = json.dumps(requests.get(parts[1], [])).encode()
            self.answer_small(200, body, "application/json")
            return
        if len(parts) == 2 and parts[0] == "metalink":
            self.answer_small(200, self.metalink(parts[1]), "application/metalink4+xml")
            return
        if len(parts) != 2 or parts[0] != "file" or not parts[1].isdigit():
            self.send_error(404)
            return
        key = query.get("key")
        with lock:
            log = requests.setdefault(key, []) if key else []
            number = len(log)
            entry = {"range": self.headers.get("Range"), "if_range": self.headers.get("If-Range")}
            log.append(entry)
        redirects = int(query.get("redirect", "0"))
        if redirects > 0:
            query["redirect"] = str(redirects - 1)
            entry["status"] = 302
            self.send_response(302)
            self.send_header("Location", url.path + "?" + urllib.parse.urlencode(query))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        failures = int(query.get("failures", "0"))
        if "fail" in query and number < failures:
            status = int(query["fail"])
            entry["status"] = status
            extra = {"Retry-After": "1"} if status in (429, 503) else {}
            self.answer_small(status, b"<html>an error page</html>", "text/html", extra)
            return
        seed = number if query.get("changing") == "1" else 0
        body = content(int(parts[1]), seed)
        etag = '"v%d-%d"' % (seed, len(body))
        weak = query.get("weak") == "1"
        start = 0
        end = len(body)
        status = 200
        requested = self.headers.get("Range")
        validator = self.headers.get("If-Range")
        # One range, open ("bytes=N-", as Ferry asks) or closed ("bytes=N-M", as aria2 asks).
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", requested or "")
        if wanted and query.get("ranges") != "0":
            first = int(wanted[1])
            fresh = validator is None or (not weak and validator in (etag, LAST_MODIFIED))
            if fresh:
                if first >= len(body):
                    entry["status"] = 416
                    self.answer_small(416, b"", "text/plain", {"Content-Range": "bytes */%d" % len(body)})
                    return
                start = first
                end = min(len(body), int(wanted[2]) + 1) if wanted[2] else len(body)
                status = 206
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Length", str(end - start))
        self.send_header("Content-Type", "application/octet-stream")
        if weak:
            self.send_header("ETag", "W/" + etag)
        else:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
        self.send_header("Accept-Ranges", "none" if query.get("ranges") == "0" else "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, len(body)))
        if "disposition" in query:
            self.send_header(
                "Content-Disposition", "attachment; filename*=UTF-8''" + urllib.parse.quote(query["disposition"]))
        self.end_headers()
        rate = int(query.get("rate", "0"))
        # stall=<n>: send n bytes, then keep the connection open and send nothing more.
        stall = int(query.get("stall", "-1"))
        cut = int(query["cut"]) if "cut" in query and number == 0 else -1
        chunk = 16384
        try:
            for offset in range(start, end, chunk):
                if 0 <= stall <= offset:
                    time.sleep(3600)
                piece = body[offset:min(end, offset + chunk)]
                if cut >= 0 and offset + len(piece) > cut:
                    self.wfile.write(body[offset:max(offset, cut)])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(piece)
                self.wfile.flush()
                if rate:
                    time.sleep(len(piece) / rate)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def metalink(self, name):
        size = name[:-len(".meta4")] if name.endswith(".meta4") else ""
        if not size.isdigit():
            return b"<metalink this is not xml"
        digest = hashlib.sha256(content(int(size))).hexdigest()
        host = "127.0.0.1:%d" % self.server.server_address[1]
        return ("""<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="clip-%s.bin">
    <size>%s</size>
    <hash type="sha-256">%s</hash>
    <url>http://%s/file/%s</url>
  </file>
</metalink>
""" % (size, size, digest, host, size)).encode()

    def answer_small(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


serve(Handler, sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
