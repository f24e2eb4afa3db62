"""What the host checks on the guest's disk after each power cut, and once more at the end.

The disk image is mounted on the host (its ext4 journal replayed, as the guest's next boot would);
the database is checked on a copy (with its -wal: SQLite's own recovery then runs as Ferry's next
open would run it), so nothing here changes what the guest will find.
"""
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from ...database import open_database
from ...invariants import check_database, file_sha256
from ...mounts import MOUNTS, unmount
from ...origin import origin_sha256
from ...report import REPORT
from .image import GUEST_STATE

SCENARIO = "power"
ACKED_INPUT = "every acknowledged submission is in the database, with its input, once"
ACKED_EVENTS = "every acknowledged transition is in the event log (the job is in that state or later)"
FILES = "every file a record points to exists with its recorded size and SHA-256"
PARTIAL = "no partial or foreign file at a final path (downloads/, videos/, the target folder)"
RECONCILE = "reconciliation after each cut finds nothing a record had promised (no damaged record, no refetch)"
BACKUPS = "every database backup at its final name is whole (PRAGMA integrity_check)"
RESENT = "a submission sent again after a cut gets the job it got before"
SETTLED = "after the last cut the run settles: every job ends well, Ferry stops cleanly, nothing stray"
FINAL = {"succeeded", "stored", "cleaned", "failed", "cancelled"}


class Mounted:
    """The guest's disk mounted on the host for the checks (journal replayed), undone on exit."""

    def __init__(self, disk, point):
        self.disk, self.point = disk, point

    def __enter__(self):
        self.point.mkdir(exist_ok=True)
        subprocess.run(["mount", "-o", "loop,nodev,nosuid", str(self.disk), str(self.point)], check=True,
                       capture_output=True)
        MOUNTS.append(self.point)
        return self.point

    def __exit__(self, *_):
        unmount(self.point)
        MOUNTS.remove(self.point)


def host_path(mount, location):
    return mount / location.lstrip("/")


def url_size(url):
    match = re.search(r"/file/(\d+)", url or "")
    return int(match[1]) if match else None


def copy_database(mount, destination):
    """The database and its WAL (never the -shm, which a boot rebuilds), copied for checking."""
    state = host_path(mount, GUEST_STATE) / "state"
    destination.mkdir(parents=True, exist_ok=True)
    found = None
    for suffix in ("", "-wal"):
        source = state / f"ferry.sqlite{suffix}"
        if source.exists():
            shutil.copy(source, destination / f"ferry.sqlite{suffix}")
            found = destination / "ferry.sqlite"
    if found:
        # Opening it read-write once runs SQLite's recovery of the WAL, as Ferry's next start would.
        connection = sqlite3.connect(found)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.close()
    return found


def check_disk(label, mount, ledger, lifecycles, scratch):
    """Every invariant on the disk as the cut left it; `label` (e.g. "cut 3") starts each message."""
    prefix = f"{label}: "
    database = copy_database(mount, scratch / label.replace(" ", "-"))
    for name in (ACKED_INPUT, ACKED_EVENTS, FILES, PARTIAL, BACKUPS):
        REPORT.declare(SCENARIO, name)
    if database is None:
        if ledger.acknowledged():
            REPORT.violate(SCENARIO, ACKED_INPUT, prefix + "the database is gone, yet Ferry had acknowledged work")
        return None
    check_database(SCENARIO, database, lifecycles, prefix)
    connection = open_database(database)
    try:
        facts = read_facts(connection)
    finally:
        connection.close()
    check_acknowledgements(prefix, facts, ledger)
    check_files(prefix, mount, facts)
    check_final_paths(prefix, mount, facts)
    check_backups(prefix, mount, scratch / label.replace(" ", "-"))
    return facts


def read_facts(connection):
    facts = {
        "jobs": {r["id"]: dict(r) for r in connection.execute("SELECT * FROM jobs")},
        "downloads": {r["job_id"]: dict(r) for r in connection.execute("SELECT * FROM downloads")},
        "uploads": {r["job_id"]: dict(r) for r in connection.execute("SELECT * FROM uploads")},
        "videos": {r["job_id"]: dict(r) for r in connection.execute("SELECT * FROM videos")},
        "events": {r["id"]: dict(r) for r in connection.execute("SELECT id, job_id, to_state, cause FROM job_events")},
        "cleanup_runs": [dict(r) for r in connection.execute("SELECT id, state FROM cleanup_runs")],
    }
    return facts


def check_acknowledgements(prefix, facts, ledger):
    jobs, downloads, videos = facts["jobs"], facts["downloads"], facts["videos"]
    for key, submission in ledger.submissions.items():
        job_id = submission.get("job")
        if job_id is None:
            continue
        job = jobs.get(job_id)
        if job is None or job["kind"] != submission["kind"]:
            REPORT.violate(SCENARIO, ACKED_INPUT, f"{prefix}{submission['kind']} {key} was acknowledged as job "
                           f"{job_id} (boot {submission['acked_boot']}), which the database does not have")
            continue
        body = submission["body"]
        if submission["kind"] == "download":
            row = downloads.get(job_id)
            if job["idempotency_key"] != key or row is None or row["url"] != body["url"]:
                REPORT.violate(SCENARIO, ACKED_INPUT, f"{prefix}download {job_id} ({key}) has the key "
                               f"{job['idempotency_key']} and URL {row and row['url']}, not the request's")
        else:
            row = videos.get(job_id)
            if row is None or row["external_request_id"] != key or row["source_url"] != body["url"]:
                REPORT.violate(SCENARIO, ACKED_INPUT, f"{prefix}video {job_id} ({key}) differs from the request")
    per_key = {}
    for job in jobs.values():
        if job["kind"] == "download" and job["state"] not in ("failed", "cancelled"):
            per_key.setdefault(job["idempotency_key"], []).append(job["id"])
    for video in videos.values():
        per_key.setdefault(("video", video["user_id"], video["external_request_id"]), []).append(video["job_id"])
    for key, ids in per_key.items():
        if len(ids) > 1:
            REPORT.violate(SCENARIO, ACKED_INPUT, f"{prefix}{key} has {len(ids)} jobs: {ids}")
    REPORT.detail(SCENARIO, ACKED_INPUT, f"{ledger.acknowledged()} submissions acknowledged over the run")
    events = facts["events"]
    for event_id, (job_id, to_state, cause, boot) in ledger.events.items():
        row = events.get(event_id)
        if row is None or (row["job_id"], row["to_state"], row["cause"]) != (job_id, to_state, cause):
            REPORT.violate(SCENARIO, ACKED_EVENTS, f"{prefix}event {event_id} (job {job_id} -{cause}-> {to_state}, "
                           f"streamed in boot {boot}) is " + ("missing" if row is None else
                                                              f"now job {row['job_id']} -{row['cause']}-> {row['to_state']}"))
    refetched = sorted({r["job_id"] for r in events.values() if r["cause"] == "refetch"})
    if refetched:
        REPORT.violate(SCENARIO, RECONCILE, f"{prefix}jobs sent back to be fetched again (their file was missing "
                       f"or wrong): {refetched[:20]}")
    REPORT.detail(SCENARIO, ACKED_EVENTS, f"{len(ledger.events)} transitions acknowledged over the run")


def expected_sha(facts, download_id):
    row = facts["downloads"].get(download_id)
    size = url_size(row["url"]) if row else None
    return (size, origin_sha256(size)) if size is not None else None


def check_files(prefix, mount, facts):
    jobs, downloads, uploads = facts["jobs"], facts["downloads"], facts["uploads"]
    uploads_of = {}
    for upload in uploads.values():
        uploads_of.setdefault(upload["download_id"], []).append(jobs[upload["job_id"]])
    checked = 0
    for job in jobs.values():
        location = job["result_location"]
        if location is None:
            continue
        if job["kind"] == "download":
            ups = uploads_of.get(job["id"], [])
            if downloads[job["id"]]["delete_after_upload"] and ups and all(u["state"] == "cleaned" for u in ups):
                continue  # delivered, then removed (records first; the file may still be there)
        path = host_path(mount, location)
        if not path.is_file():
            REPORT.violate(SCENARIO, FILES, f"{prefix}{job['kind']} {job['id']} ({job['state']}): {location} is missing")
            continue
        size, sha = path.stat().st_size, file_sha256(path)
        checked += 1
        if (size, sha) != (job["result_size"], job["result_sha256"]):
            REPORT.violate(SCENARIO, FILES, f"{prefix}{job['kind']} {job['id']}: {location} has {size} bytes "
                           f"{sha[:12]}…, the record says {job['result_size']} {job['result_sha256'][:12]}…")
        elif job["kind"] == "download" and expected_sha(facts, job["id"]) != (size, sha):
            REPORT.violate(SCENARIO, FILES, f"{prefix}download {job['id']}: {location} is not what the origin served")
    REPORT.detail(SCENARIO, FILES, f"{checked} files hashed at the last look")


def check_job_files(prefix, base, label, facts, owner, skip_hidden):
    """Files at `<base>/<job id>/<name>` (downloads, or a dir target's copies): each whole, as the
    download it belongs to asked. Returns how many it looked at."""
    found = 0
    for root, _, names in os.walk(base):
        for name in names:
            if skip_hidden and name.startswith("."):
                continue  # a copy under its temporary name, never visible at the final one
            path = Path(root) / name
            relative = path.relative_to(base)
            found += 1
            if len(relative.parts) != 2 or not relative.parts[0].isdigit():
                REPORT.violate(SCENARIO, PARTIAL, f"{prefix}{label}/{relative}: a name Ferry does not write")
                continue
            want = expected_sha(facts, int(relative.parts[0]))
            have = (path.stat().st_size, file_sha256(path))
            if want != have:
                REPORT.violate(SCENARIO, PARTIAL, f"{prefix}{label}/{relative} has {have[0]} bytes {have[1][:12]}…, "
                               f"{owner} {relative.parts[0]} asked for {want}")
    return found


def check_final_paths(prefix, mount, facts):
    state = host_path(mount, GUEST_STATE) / "state"
    found = check_job_files(prefix, state / "downloads", "downloads", facts, "job", skip_hidden=False)
    for root, _, names in os.walk(state / "videos"):
        if Path(root).relative_to(state / "videos").parts[:1] == ("incoming",):
            continue  # a fetch's lock folder, not a final path
        for name in names:
            path = Path(root) / name
            found += 1
            if file_sha256(path) != name:
                REPORT.violate(SCENARIO, PARTIAL, f"{prefix}videos/{path.relative_to(state / 'videos')}: its content "
                               f"hashes to {file_sha256(path)[:12]}…, not its name")
    target = host_path(mount, GUEST_STATE) / "target"
    found += check_job_files(prefix, target, "target", facts, "download", skip_hidden=True)
    REPORT.detail(SCENARIO, PARTIAL, f"{found} files at final paths at the last look")


def check_backups(prefix, mount, scratch):
    folder = host_path(mount, GUEST_STATE) / "backups"
    count = 0
    for path in sorted(folder.glob("ferry-*.sqlite")) if folder.exists() else []:
        count += 1
        copy = scratch / f"backup-{path.name}"
        shutil.copy(path, copy)
        try:
            connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            result = [r[0] for r in connection.execute("PRAGMA integrity_check")]
            connection.close()
        except sqlite3.Error as error:
            result = [str(error)]
        if result != ["ok"]:
            REPORT.violate(SCENARIO, BACKUPS, f"{prefix}{path.name}: {'; '.join(result[:5])}")
    REPORT.detail(SCENARIO, BACKUPS, f"{count} backups at the last look")


def check_cleanup(label, run):
    """The cleanup run the driver asked for right after the boot: nothing promised was missing."""
    REPORT.declare(SCENARIO, RECONCILE)
    if run is None:
        return  # the cut came before it ended
    report = run.get("report") or {}
    if run.get("state") != "succeeded":
        REPORT.violate(SCENARIO, RECONCILE, f"{label}: cleanup run {run.get('run')} ended {run.get('state')}: "
                       f"{run.get('error')}")
    damaged = report.get("damaged_records") or []
    if damaged:
        REPORT.violate(SCENARIO, RECONCILE, f"{label}: cleanup run {run.get('run')} found records whose file is "
                       f"missing or wrong: {damaged[:10]}")
    if report.get("uninterpretable"):
        REPORT.violate(SCENARIO, RECONCILE, f"{label}: files the cleanup cannot interpret: "
                       f"{report['uninterpretable'][:10]}")
