"""Scenario oom-kills: the upload worker moved into a 24 MiB memory cgroup, where the kernel's
OOM killer ends it mid-upload; another worker SIGKILLed by hand.

An upload below the S3 target's multipart threshold is sent as one PUT whose body the worker
holds in memory, so two 48 MiB uploads take the upload worker far past the group's limit (the
group counts what the worker allocates after its move). The supervisor must record that exit as
`oom` (in the API's recent exits, the workers table and `ferry_worker_restarts_total`), requeue
the upload, start a replacement (outside the group) and see the upload through: each object
exactly once, byte-identical. A download worker SIGKILLed by hand at the same time must be
recorded as `signal`, not `oom`: the supervisor tells the two apart by the OOM-kill counter of
the worker's memory cgroup. `--tamper` SIGKILLs the worker in the group by hand instead of
letting it run out of memory, and the run must fail. Needs root and a memory cgroup the suite
may make groups in; skipped otherwise.
"""
import os
import signal
import time

from ..cgroups import MemoryGroup, Unavailable
from ..daemon import Ferry, base_config, free_port
from ..database import FINAL_PHASES, query
from ..invariants import check_database
from ..origin import Moto, Origin, origin_sha256, s3_target
from ..processes import wait_until
from ..report import REPORT, log

SCENARIO = "oom-kills"
RECORDED = "a worker the OOM killer ended is recorded as oom (API, workers table, metric); a hand SIGKILL as signal"
FINISHED = "the OOM-killed worker's upload is requeued and ends succeeded: each object once, byte-identical"

SIZE = 48 << 20
LIMIT = 24 << 20


def run(args, binary, scratch, lifecycles):
    try:
        group = MemoryGroup(f"ferry-chaos-{os.getpid()}")
    except Unavailable as reason:
        REPORT.skip(SCENARIO, RECORDED, str(reason))
        return
    try:
        exercise(args, binary, scratch, lifecycles, group)
    finally:
        group.remove()


def exercise(args, binary, scratch, lifecycles, group):
    origin = Origin(scratch)
    moto = Moto(scratch)
    secret = scratch / "oom-secret"
    secret.write_text("testing")
    state = scratch / "oom-kills-state"
    database = state / "ferry.sqlite"
    extra = """workers:
  download:
    processes: 2
    concurrency: 2
  upload:
    processes: 1
    concurrency: 2
targets:
""" + s3_target("bucket", moto.endpoint, secret, multipart_threshold="100MiB", part_size="16MiB")
    ferry = Ferry(binary, scratch, base_config(state, free_port(), extra), "oom-kills")
    ferry.start()
    upload = next(pid for pid, (role, _) in ferry.workers().items() if role == "upload")
    upload_id = worker_id(database, upload)
    group.limit(LIMIT)
    group.add(upload)
    # The supervisor notes each worker's cgroup on its metrics samples (every 2 s here).
    time.sleep(3)
    log(f"{SCENARIO}: upload worker {upload_id} (pid {upload}) in {group.path}, limit {LIMIT >> 20} MiB")
    if args.tamper:
        os.kill(upload, signal.SIGKILL)
        log(f"{SCENARIO}: tamper: SIGKILLed {upload_id} by hand instead")
    wanted = {}
    for index in range(2):
        key = f"oom-{args.seed}-{index}"
        body = {"url": origin.url(SIZE, key=key), "file_name": f"big-{index}.bin", "size": SIZE,
                "sha256": origin_sha256(SIZE), "upload_targets": ["bucket"]}
        status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
        REPORT.check(SCENARIO, FINISHED, status == 201, f"submission {index} answered {status}: {answer}")
        if status == 201:
            wanted[answer["id"]] = key
    # A download worker SIGKILLed by hand while the upload worker runs out of memory.
    wait_until(lambda: not alive(upload) or uploads_running(database), 60, 0.1)
    downloader = next((pid for pid, (role, _) in ferry.workers().items() if role == "download"), None)
    downloader_id = worker_id(database, downloader) if downloader else None
    if downloader:
        os.kill(downloader, signal.SIGKILL)
    died = wait_until(lambda: not alive(upload), 60, 0.2)
    log(f"{SCENARIO}: upload worker {'gone' if died else 'STILL ALIVE'}; group usage {group.usage() >> 20} MiB, "
        f"oom_kill {group.oom_kills()}")

    settled = wait_until(lambda: final(database, len(wanted)), 120, 0.5)
    REPORT.check(SCENARIO, FINISHED, settled, "not every job was final 120 s after the submissions")
    kills = group.oom_kills()
    REPORT.check(SCENARIO, RECORDED, died and kills >= 1,
                 f"the kernel's OOM killer did not end the upload worker (alive: {not died}, group oom_kill {kills})")
    causes = exit_causes(ferry)
    rows = {r["id"]: r for r in query(database, "SELECT id, exit_reason, exit_signal FROM workers")}
    REPORT.check(SCENARIO, RECORDED, causes.get(upload_id) == "oom" and rows.get(upload_id, {})["exit_reason"] == "oom",
                 f"the OOM-killed worker {upload_id}: API cause {causes.get(upload_id)}, "
                 f"workers table {dict(rows[upload_id]) if upload_id in rows else None}")
    if downloader_id:
        REPORT.check(SCENARIO, RECORDED, causes.get(downloader_id) == "signal",
                     f"the download worker SIGKILLed by hand, {downloader_id}: API cause {causes.get(downloader_id)}")
    status, metrics, _ = ferry.api.call("GET", "/metrics")
    oom_metric = [line for line in str(metrics).splitlines()
                  if line.startswith("ferry_worker_restarts_total") and 'cause="oom"' in line and 'role="upload"' in line]
    REPORT.check(SCENARIO, RECORDED, oom_metric and float(oom_metric[0].rsplit(" ", 1)[1]) >= 1,
                 f"/metrics has no ferry_worker_restarts_total{{cause=\"oom\",role=\"upload\"}} ≥ 1: {oom_metric}")
    REPORT.detail(SCENARIO, RECORDED, f"group oom_kill {kills}; exits {causes}")

    requeued = query(database, "SELECT job_id, reason FROM job_events WHERE cause = 'requeue' AND reason LIKE ?",
                     (f"%{upload_id}%(oom)%",))
    REPORT.check(SCENARIO, FINISHED, requeued, f"no job was requeued from the OOM-killed worker {upload_id}")
    jobs = query(database, "SELECT id, kind, state, last_error FROM jobs")
    bad = [tuple(r) for r in jobs if r["state"] != "succeeded"]
    REPORT.check(SCENARIO, FINISHED, not bad and len(jobs) == 2 * len(wanted), f"jobs not succeeded: {bad}")
    objects, unfinished = moto.objects()
    for download in wanted:
        copies = [(k, v) for k, v in objects.items() if k.split("/", 1)[0] == str(download)]
        REPORT.check(SCENARIO, FINISHED, len(copies) == 1 and copies[0][1][:2] == (SIZE, origin_sha256(SIZE)),
                     f"download {download}: objects {[(k, v[0]) for k, v in copies]}")
    REPORT.check(SCENARIO, FINISHED, not unfinished, f"unfinished multipart uploads: {unfinished}")
    REPORT.detail(SCENARIO, FINISHED, f"{len(wanted)} uploads of {SIZE >> 20} MiB, {len(requeued)} requeued "
                  "from the OOM-killed worker")
    status = ferry.stop()
    REPORT.check(SCENARIO, FINISHED, status == 0, f"the supervisor's stop exited {status}")
    check_database(SCENARIO, database, lifecycles)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_id(database, pid):
    found = wait_until(lambda: query(database, "SELECT id FROM workers WHERE pid = ? AND exited_at IS NULL", (pid,)), 10)
    return found[0][0] if found else None


def uploads_running(database):
    return query(database, "SELECT 1 FROM jobs WHERE kind = 'upload' AND state = 'running'")


def final(database, downloads):
    rows = query(database, "SELECT kind, state FROM jobs")
    return sum(1 for r in rows if r[0] == "upload") == downloads and all(r[1] in FINAL_PHASES for r in rows)


def exit_causes(ferry):
    """{worker id: cause} of the recent exits the API lists."""
    status, answer, _ = ferry.api.call("GET", "/api/workers")
    if status != 200 or not isinstance(answer, dict):
        return {}
    exits = answer.get("recent_exits", answer.get("recentExits", []))
    return {e["worker"]: e["cause"] for e in exits}
