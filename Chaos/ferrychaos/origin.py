"""The services a transfer talks to: the fault-injecting test origin and moto's S3 server.

The origin is the repository's Sources/FerryTesting/Origin/test_origin.py; its faults (cuts,
500s, 429s, trickles, changing content, …) are chosen per request in the URL's query, and its
content is a known pattern, so the suite knows every SHA-256 it served without downloading it.
"""
import hashlib
import http.client
import json
import socket
import sys
import time

from . import REPO
from .daemon import free_port
from .processes import spawn, wait_until

ORIGIN_SCRIPT = REPO / "Sources/FerryTesting/Origin/test_origin.py"


BUCKET = "chaos"


def origin_content(size, seed=0):
    """What test_origin.py serves for /file/<size> on a request with this seed."""
    pattern = bytes(i % 251 for i in range(502))
    start = seed % 251
    return (pattern[start:start + 251] * (size // 251 + 1))[:size]


_hashes = {}


def origin_sha256(size, seed=0):
    if (size, seed) not in _hashes:
        _hashes[(size, seed)] = hashlib.sha256(origin_content(size, seed)).hexdigest()
    return _hashes[(size, seed)]


def s3_target(name, endpoint, secret, multipart_threshold="5MiB", part_size="5MiB"):
    """A `targets:` entry (indented to sit under it) for the chaos bucket at `endpoint`."""
    return f"""  {name}:
    type: s3
    endpoint: {endpoint}
    bucket: {BUCKET}
    access_key_id: testing
    secret_key_file: {secret}
    multipart_threshold: {multipart_threshold}
    part_size: {part_size}
"""


class Origin:
    def __init__(self, scratch, port=0):
        self.scratch = scratch
        self.start(port)

    def start(self, port=0):
        """Starts the origin, on `port` when given (a killed origin comes back where it was)."""
        port_file = self.scratch / f"origin-{time.monotonic_ns()}.port"  # one per origin: scenarios share the folder
        self.process = spawn([sys.executable, str(ORIGIN_SCRIPT), str(port_file), str(port)], self.scratch / "origin.log")
        if not wait_until(lambda: port_file.exists() or self.process.poll() is not None, 15):
            raise SystemExit("chaos: the test origin did not start")
        if self.process.poll() is not None:
            raise SystemExit(f"chaos: the test origin exited with {self.process.returncode} (port {port} taken?)")
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"

    def kill(self):
        """SIGKILLs the origin: its connections end at once, mid-body, and its request log is lost."""
        self.process.kill()
        self.process.wait()

    def url(self, size, **faults):
        query = "&".join(f"{k}={v}" for k, v in faults.items())
        return f"{self.base}/file/{size}" + ("?" + query if query else "")

    def requests(self, key):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", f"/log/{key}")
        return json.loads(connection.getresponse().read())


class Moto:
    def __init__(self, scratch):
        import boto3  # noqa: PLC0415 — only the scenarios with S3 need it

        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = spawn(["moto_server", "-H", "127.0.0.1", "-p", str(port)], scratch / "moto.log")

        def accepts():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        if not wait_until(accepts, 30):
            raise SystemExit("chaos: moto_server did not start")
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")
        self.client.create_bucket(Bucket=BUCKET)

    def objects(self):
        """{key: (size, sha256 of the body, x-amz-meta-sha256)}, and the unfinished multipart uploads."""
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                got = self.client.get_object(Bucket=BUCKET, Key=item["Key"])
                body = got["Body"].read()
                found[item["Key"]] = (len(body), hashlib.sha256(body).hexdigest(),
                                      got.get("Metadata", {}).get("sha256"))
        uploads = self.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        return found, [(u["Key"], u["UploadId"]) for u in uploads]
