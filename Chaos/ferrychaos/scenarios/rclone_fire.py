"""Scenario rclone-fire: uploads through rclone while rclone is SIGKILLed mid-copy and the remote fails.

Sixteen downloads are each delivered to two rclone targets: a local folder, and moto's S3 server
behind the fault proxy (s3proxy.py), which fails a quarter of the writes. rclone runs through a
wrapper that limits it to 4 MiB/s, so copies last long enough to be cut: for 20 s a random
running `rclone copyto` is SIGKILLed every 0.5–1.2 s. Once every job is final and the proxy idle, a
cleanup run removes the hidden copies that killed copies' requests, sent whole before the kill and
trickled in by the proxy, wrote after a later attempt delivered. Every upload must then be at its
target exactly once, byte-identical, with no temporary copy left; the local folder, watched five
times a second, must never show a file at a final name that is not whole (rclone writes local
files in place, so Ferry copies to a hidden name and moves it into place). `--tamper` cuts a
delivered file short before the checks, which must then fail.
"""
import os
import random
import signal
import threading
import time
from pathlib import Path

from ..daemon import Ferry, base_config, free_port
from ..database import FINAL_PHASES, query
from ..invariants import check_database, file_sha256
from ..origin import Moto, Origin, origin_sha256
from ..processes import wait_until
from ..report import REPORT, log
from ..s3proxy import S3FaultProxy

SCENARIO = "rclone-fire"
DELIVERED = "every rclone upload ends succeeded exactly once at its target, byte-identical, no temporary copy left"
WHOLE = "a folder remote never shows a partial file at a final name while rclone is killed mid-copy"


def run(args, binary, scratch, lifecycles):
    rng = random.Random(args.seed)
    origin = Origin(scratch)
    moto = Moto(scratch)
    proxy = S3FaultProxy(int(moto.endpoint.rsplit(":", 1)[1]), args.seed)
    folder = scratch / "rclone-remote"
    folder.mkdir()
    config = scratch / "rclone.conf"
    config.write_text(f"[chaos-s3]\ntype = s3\nprovider = Other\nendpoint = {proxy.endpoint}\nregion = us-east-1\n"
                      "access_key_id = testing\nsecret_access_key = testing\n\n[chaos-dir]\ntype = local\n")
    wrapper = scratch / "rclone-slow"
    # rclone 1.60's S3 backend refuses to start when AWS_CA_BUNDLE is set ("unsupported transport").
    wrapper.write_text('#!/bin/sh\nexec env -u AWS_CA_BUNDLE rclone --bwlimit 4M "$@"\n')
    wrapper.chmod(0o755)
    state = scratch / "rclone-fire-state"
    database = state / "ferry.sqlite"
    extra = f"""workers:
  upload:
    processes: 2
    concurrency: 3
targets:
  bucket:
    type: rclone
    remote: chaos-s3:chaos/rclone
    program: {wrapper}
    config_file: {config}
  folder:
    type: rclone
    remote: chaos-dir:{folder}
    program: {wrapper}
    config_file: {config}
"""
    ferry = Ferry(binary, scratch, base_config(state, free_port(), extra), "rclone-fire")
    try:
        ferry.start()
        wanted = {}  # download id -> (file name, size)
        for index in range(16):
            size = rng.randint(2 << 20, 8 << 20)
            key = f"rclone-{args.seed}-{index}"
            body = {"url": origin.url(size, key=key), "file_name": f"clip-{index}.bin", "size": size,
                    "sha256": origin_sha256(size), "upload_targets": ["bucket", "folder"]}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
            REPORT.check(SCENARIO, DELIVERED, status == 201, f"submission {index} answered {status}: {answer}")
            if status == 201:
                wanted[answer["id"]] = (f"clip-{index}.bin", size)
        REPORT.declare(SCENARIO, WHOLE)
        stop, finished = threading.Event(), threading.Event()
        kills = []
        watcher = threading.Thread(target=watch_folder, args=(folder, wanted, finished), daemon=True)
        killer = threading.Thread(target=kill_rclones, args=(rng, config, kills, stop), daemon=True)
        watcher.start()
        killer.start()
        time.sleep(20)
        stop.set()
        killer.join()
        log(f"{SCENARIO}: {len(kills)} rclone copies SIGKILLed; proxy faults {proxy.counts}")
        done = wait_until(lambda: settled(database, len(wanted)), 180, 0.5)
        finished.set()
        watcher.join()
        REPORT.check(SCENARIO, DELIVERED, done, "not every job was final 180 s after the kills stopped")
        # A killed rclone's request that was already sent whole may still be carried out by the
        # remote after a later attempt delivered (the proxy trickles bodies in): a cleanup run,
        # once the proxy is idle, removes the hidden copy it wrote.
        # (A trickled 8 MiB body takes about 42 s to pass; in practice the proxy is idle within 15 s.)
        calm = 0
        waited = time.monotonic()
        deadline = waited + 120
        while calm < 3 and time.monotonic() < deadline:
            calm = calm + 1 if proxy.idle() else 0
            if int(time.monotonic() - waited) % 15 == 14:
                log(f"{SCENARIO}: the proxy still handles {proxy.busy_with()}")
            time.sleep(1)
        log(f"{SCENARIO}: the proxy was {'idle' if calm >= 3 else 'STILL BUSY'} after "
            f"{time.monotonic() - waited:.0f} s; a cleanup run")
        swept = cleanup_run(ferry)
        if args.tamper:
            victim = next(folder.glob("*/*.bin"))
            with open(victim, "r+b") as handle:
                handle.truncate(1000)
            log(f"{SCENARIO}: tampered with {victim}")
        check_results(database, wanted, folder, moto, kills, swept)
        status = ferry.stop()
        REPORT.check(SCENARIO, DELIVERED, status == 0, f"the supervisor's stop exited {status}")
        check_database(SCENARIO, database, lifecycles)
    finally:
        proxy.stop()


def kill_rclones(rng, config, kills, stop):
    """SIGKILLs a random running `rclone copyto` of ours every 0.5–1.2 s until `stop`."""
    while not stop.wait(rng.uniform(0.5, 1.2)):
        copies = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if command and command[0].endswith(b"rclone") and b"copyto" in command and str(config).encode() in command:
                copies.append(int(entry))
        if copies:
            victim = rng.choice(copies)
            try:
                os.kill(victim, signal.SIGKILL)
                kills.append(victim)
            except ProcessLookupError:
                pass


def watch_folder(folder, wanted, finished):
    """Looks at the folder remote five times a second until everything is final: a file at a
    final name must have its download's size (hashes are checked at the end)."""
    sizes = {str(download): (name, size) for download, (name, size) in wanted.items()}
    while not finished.is_set():
        for path in folder.glob("*/*"):
            if path.name.startswith("."):
                continue
            expected = sizes.get(path.parent.name)
            try:
                actual = path.stat().st_size
            except FileNotFoundError:
                continue
            if not expected or path.name != expected[0] or actual != expected[1]:
                REPORT.violate(SCENARIO, WHOLE, f"{path} at a final name has {actual} bytes, expected "
                               f"{expected[1] if expected else 'no such file'}")
                return
        time.sleep(0.2)


def settled(database, downloads):
    rows = query(database, "SELECT kind, state FROM jobs")
    return sum(1 for r in rows if r[0] == "upload") == 2 * downloads and all(r[1] in FINAL_PHASES for r in rows)


def cleanup_run(ferry):
    """Runs a cleanup run through the API and returns the hidden copies it removed."""
    status, answer, _ = ferry.api.call("POST", "/api/health/sync/cleanup", {"dry_run": False})
    REPORT.check(SCENARIO, DELIVERED, status in (200, 202), f"the cleanup run request answered {status}: {answer}")
    if status not in (200, 202):
        return []
    run = answer["run"]
    deadline = time.monotonic() + 120
    while run["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        status, run, _ = ferry.api.call("GET", f"/api/cleanup/runs/{run['id']}")
    REPORT.check(SCENARIO, DELIVERED, run.get("state") == "succeeded", f"the cleanup run ended {run}")
    return (run.get("report") or {}).get("hidden_copies", [])


def check_results(database, wanted, folder, moto, kills, swept):
    uploads = query(database, "SELECT j.id, j.state, j.last_error, u.target, u.download_id FROM jobs j "
                    "JOIN uploads u ON u.job_id = j.id")
    bad = [tuple(r) for r in uploads if r["state"] != "succeeded"]
    REPORT.check(SCENARIO, DELIVERED, not bad and len(uploads) == 2 * len(wanted), f"uploads not succeeded: {bad}")
    objects, unfinished = moto.objects()
    for download, (name, size) in wanted.items():
        sha = origin_sha256(size)
        copies = [(k, v) for k, v in objects.items() if k.startswith(f"rclone/{download}/")]
        REPORT.check(SCENARIO, DELIVERED, len(copies) == 1 and copies[0][0] == f"rclone/{download}/{name}"
                     and copies[0][1][:2] == (size, sha), f"download {download} in the bucket: "
                     f"{[(k, v[0], v[1][:12]) for k, v in copies]}")
        local = folder / str(download) / name
        REPORT.check(SCENARIO, DELIVERED, local.exists() and file_sha256(local) == sha,
                     f"{local} is missing or not byte-identical")
        others = [p.name for p in (folder / str(download)).iterdir() if p.name != name] \
            if (folder / str(download)).is_dir() else []
        REPORT.check(SCENARIO, DELIVERED, not others, f"{folder / str(download)} also holds {others}")
    REPORT.check(SCENARIO, DELIVERED, not unfinished, f"unfinished multipart uploads: {unfinished}")
    retries = query(database, "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id "
                    "WHERE j.kind = 'upload' AND e.cause = 'schedule_retry'")[0][0]
    REPORT.check(SCENARIO, DELIVERED, kills, "no rclone copy was running to be killed")
    REPORT.detail(SCENARIO, DELIVERED, f"{len(uploads)} uploads, {len(kills)} rclone copies SIGKILLed, "
                  f"{retries} retries, {len(objects)} objects"
                  + (f"; the cleanup run removed {len(swept)} hidden copies a killed rclone's request wrote after "
                     f"the delivery: {swept}" if swept else ""))
