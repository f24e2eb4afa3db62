"""Scenario bad-api: malformed API requests get a 4xx JSON error and create nothing."""
import json

from ..daemon import Ferry, base_config, free_port
from ..database import query
from ..report import REPORT, log


def run(args, binary, scratch, lifecycles):
    scenario = "bad-api"
    name = "malformed API input gets a 4xx with a JSON error code and message, and creates nothing"
    state = scratch / "api-state"
    port = free_port()
    ferry = Ferry(binary, scratch, base_config(state, port, "targets:\n  folder:\n    type: dir\n    path: /tmp\n"),
                  "bad-api")
    ferry.start()
    url = "http://127.0.0.1:9/file/10"
    cases = [
        ("POST", "/api/downloads", b"{", {}, 400),
        ("POST", "/api/downloads", b"", {}, 400),
        ("POST", "/api/downloads", b"[1,2]", {}, 400),
        ("POST", "/api/downloads", b"\xff\xfe\x00garbage", {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": 12}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"file_name": "x"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "ftp://example.com/x"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "not a url"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "file_name": "../etc/passwd"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "sha256": "xyz"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "size": -5}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "upload_targets": ["nowhere"]}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "upload_targets": "folder"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "priority": 10 ** 30}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "max_attempts": 0}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "surprise": True}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url}).encode(), {"Idempotency-Key": "k" * 300}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "http://x/" + "a" * 9000}).encode(), {}, 400),
        ("POST", "/api/downloads", b"{" + b'"url":"' + b"a" * 70_000 + b'"}', {}, 400),  # room for a .torrent
        ("POST", "/api/downloads", b"{" + b'"torrent":"' + b"A" * 23_000_000 + b'"}', {}, 413),
        ("POST", "/api/videos", b"{" + b'"url":"' + b"a" * 70_000 + b'"}', {}, 413),
        ("POST", "/api/videos", json.dumps({"user_id": "", "external_request_id": "r", "url": url}).encode(), {}, 400),
        ("POST", "/api/videos", json.dumps({"user_id": "u", "url": url}).encode(), {}, 400),
        ("POST", "/api/videos", b"null", {}, 400),
        ("GET", "/api/downloads/abc", None, {}, 400),
        ("GET", "/api/downloads/99999999999999999999999", None, {}, 400),
        ("GET", "/api/downloads/424242", None, {}, 404),
        ("GET", "/api/downloads?limit=-1", None, {}, 400),
        ("GET", "/api/downloads?state=bogus", None, {}, 400),
        ("GET", "/api/user/videos?user_id=u&orderBy=nonsense", None, {}, 400),
        ("POST", "/api/jobs/abc/cancel", b"", {}, 400),
        ("POST", "/api/jobs/424242/retry", b"", {}, 404),
        ("POST", "/api/workers/wizard/restart", b"", {}, 400),
        ("DELETE", "/api/downloads", None, {}, 405),
        ("GET", "/api/nothing/here", None, {}, 404),
    ]
    for method, path, body, headers, expected in cases:
        try:
            status, answer, _ = ferry.api.call(method, path, headers=headers, raw=body)
        except OSError as error:
            REPORT.violate(scenario, name, f"{method} {path}: no answer ({error})")
            continue
        shaped = isinstance(answer, dict) and isinstance(answer.get("error"), dict) \
            and answer["error"].get("code") and answer["error"].get("message")
        ok = 400 <= status < 500 and shaped and (status == expected or expected == 400 and status in (400, 404, 422))
        label = (body[:60] if body else b"").decode("latin-1")
        log(f"bad-api: {method} {path[:50]} {label[:40]!r} -> {status} "
            f"{answer.get('error', {}).get('code') if isinstance(answer, dict) else answer!r:.60}")
        REPORT.check(scenario, name, ok, f"{method} {path} {label!r}: expected {expected}, got {status} {answer!r:.200}")
    REPORT.check(scenario, name, ferry.api.ready() and ferry.process.poll() is None,
                 "the server is not ready after the malformed requests")
    jobs = query(state / "ferry.sqlite", "SELECT count(*) FROM jobs")[0][0]
    REPORT.check(scenario, name, jobs == 0, f"{jobs} job(s) were created by malformed requests",
                 f"{len(cases)} malformed requests, each refused with its code")
    status = ferry.stop()
    REPORT.check(scenario, name, status == 0, f"the stop exited {status}")
