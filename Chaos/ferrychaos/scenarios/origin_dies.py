"""Scenario origin-dies: the HTTP origin SIGKILLed mid-transfer, twice brought back, and one never.

Two origins trickle 4 MiB downloads at 400 KB/s. Origin A is SIGKILLed while its downloads are under way
and restarted on the same port 1.5 s later, twice: every download must resume where it was (a
Range request from its local size, validated by If-Range, answered 206) and end byte-identical.
Origin B is SIGKILLed the same way and never comes back: its downloads must end failed once
their attempts are used up, with a reason that names the refused connection. Meanwhile and after,
no worker may be stuck or replaced (the origin's death is the job's problem, not the worker's),
and no file may sit at a final path without being whole. `--tamper` damages a delivered file and
puts a partial file at a final path before the checks, which must then fail.
"""
import os
import time

from ..daemon import Ferry, base_config, free_port
from ..database import FINAL_PHASES, query
from ..invariants import check_database, file_sha256
from ..origin import Origin, origin_sha256
from ..processes import wait_until
from ..report import REPORT, log

SCENARIO = "origin-dies"
RESUMED = "downloads cut by the origin's death resume with Range once it is back and end byte-identical"
GONE = "downloads from an origin that never comes back fail for good after their attempts, with a clear reason"
NOT_STUCK = "no worker is stuck or replaced, no job left running, no partial file at a final path"

ATTEMPTS = 6
SIZE = 4 << 20
RETRIES = f"""  download:
    max_attempts: {ATTEMPTS}
    initial_delay: 500ms
    max_delay: 1s
    jitter: none
"""


def run(args, binary, scratch, lifecycles):
    back = Origin(scratch)
    gone = Origin(scratch)
    state = scratch / "origin-dies-state"
    database = state / "ferry.sqlite"
    workers = "workers:\n  download:\n    processes: 2\n    concurrency: 4\n"
    config = base_config(state, free_port(), workers)
    default_retries = "  download:\n    max_attempts: 60\n    initial_delay: 200ms\n    max_delay: 2s\n"
    assert default_retries in config, "base_config's download retries changed; update origin_dies.py"
    # Few, steady retries, and a short connect timeout (the HTTP client retries a refused connect
    # until it ends): an origin that never returns fails its jobs in about 15 s.
    config = config.replace(default_retries, RETRIES).replace("  idle_timeout: 10s\n",
                                                              "  idle_timeout: 10s\n  connect_timeout: 2s\n")
    ferry = Ferry(binary, scratch, config, "origin-dies")
    ferry.start()
    wanted = {}  # job id -> origin ("back" or "gone")
    for name, origin, count, rate in (("back", back, 8, 400_000), ("gone", gone, 4, 400_000)):
        for index in range(count):
            key = f"origin-{name}-{args.seed}-{index}"
            body = {"url": origin.url(SIZE, key=key, rate=rate), "file_name": f"{name}-{index}.bin", "size": SIZE,
                    "sha256": origin_sha256(SIZE)}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
            REPORT.check(SCENARIO, RESUMED, status == 201, f"submission {key} answered {status}: {answer}")
            if status == 201:
                wanted[answer["id"]] = name
    started_workers = worker_rows(database)

    def moved(minimum):
        """Whether most downloads from origin A are past `minimum` bytes."""
        rows = query(database, "SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'origin-back-%' "
                     "AND bytes_done >= ?", (minimum,))
        return rows[0][0] >= 6

    resumed = []  # (key, first byte asked) of the 206 answers to resumes, over every life of origin A
    for cut in range(2):
        # Kill while most downloads are under way: past 1 MiB, then past 2.5 MiB of their 4.
        wait_until(lambda: moved((1 << 20) if cut == 0 else (5 << 19)), 30, 0.2)
        resumed += resumes(back, wanted, database)
        back.kill()
        if cut == 0:
            gone.kill()
        log(f"{SCENARIO}: origins killed (cut {cut + 1}), "
            f"{query(database, 'SELECT sum(bytes_done) FROM jobs')[0][0]} bytes in")
        time.sleep(1.5)
        final_paths_whole(state, args)
        back.start(back.port)
    done = wait_until(lambda: settled(database, len(wanted)), 90, 0.5)
    resumed += resumes(back, wanted, database)
    REPORT.check(SCENARIO, RESUMED, done, "not every download was final 90 s after the origin came back")
    if args.tamper:
        tamper(database, state)

    jobs = {r["id"]: r for r in query(database, "SELECT * FROM jobs WHERE kind = 'download'")}
    for job_id, origin in wanted.items():
        job = jobs[job_id]
        if origin == "back":
            whole = (job["state"] == "succeeded" and job["result_location"]
                     and os.path.exists(job["result_location"])
                     and file_sha256(job["result_location"]) == origin_sha256(SIZE))
            REPORT.check(SCENARIO, RESUMED, whole, f"download {job_id} from the origin that came back is "
                         f"{job['state']} ({job['last_error_code']}: {job['last_error']}), file {job['result_location']}")
        else:
            clear = (job["state"] == "failed" and job["attempt"] == ATTEMPTS and job["last_error"]
                     and any(word in job["last_error"].lower() for word in ("refused", "connect")))
            REPORT.check(SCENARIO, GONE, clear, f"download {job_id} from the origin that never came back is "
                         f"{job['state']} after {job['attempt']} attempt(s): {job['last_error_code']}: {job['last_error']}")
    REPORT.check(SCENARIO, RESUMED, resumed, "no download resumed with a Range request after the origin came back")
    REPORT.detail(SCENARIO, RESUMED, f"{sum(1 for o in wanted.values() if o == 'back')} downloads, origin killed "
                  f"twice; {len(resumed)} resumes answered 206, from byte {min((r[1] for r in resumed), default=0)} "
                  f"to {max((r[1] for r in resumed), default=0)}")
    reasons = sorted({(jobs[i]["last_error_code"], jobs[i]["last_error"]) for i, o in wanted.items() if o == "gone"})
    REPORT.detail(SCENARIO, GONE, f"{len(reasons)} distinct reason(s): {reasons[:2]}")

    REPORT.declare(SCENARIO, NOT_STUCK)
    exits = [r for r in worker_rows(database) if r[2] is not None]
    REPORT.check(SCENARIO, NOT_STUCK, not exits and len(worker_rows(database)) == len(started_workers),
                 f"workers exited or were replaced while the origin died: {exits}")
    running = query(database, "SELECT id, state FROM jobs WHERE state NOT IN (%s)"
                    % ",".join(f"'{s}'" for s in FINAL_PHASES))
    REPORT.check(SCENARIO, NOT_STUCK, not running, f"jobs not final: {[tuple(r) for r in running]}")
    final_paths_whole(state, args)
    status = ferry.stop()
    REPORT.check(SCENARIO, NOT_STUCK, status == 0, f"the supervisor's stop exited {status}")
    check_database(SCENARIO, database, lifecycles)


def worker_rows(database):
    return [tuple(r) for r in query(database, "SELECT id, role, exited_at, exit_reason FROM workers")]


def settled(database, count):
    rows = query(database, "SELECT state FROM jobs WHERE kind = 'download'")
    return len(rows) == count and all(r[0] in FINAL_PHASES for r in rows)


def resumes(origin, wanted, database):
    """The resumes this life of `origin` answered: (key, first byte) of each 206 to a Range
    request that asked from a byte past 0 (the log is lost with the process, so read it before
    each kill)."""
    found = []
    keys = [r[0] for r in query(database, "SELECT idempotency_key FROM jobs WHERE idempotency_key LIKE 'origin-back-%'")]
    for key in keys:
        try:
            entries = origin.requests(key)
        except OSError:
            continue
        for entry in entries:
            asked = (entry.get("range") or "").removeprefix("bytes=").split("-")[0]
            if entry.get("status") == 206 and entry.get("if_range") and asked.isdigit() and int(asked) > 0:
                found.append((key, int(asked)))
    return found


def final_paths_whole(state, args):
    """Every file under downloads/ is whole: the bytes of its size, as the origin serves them."""
    REPORT.declare(SCENARIO, NOT_STUCK)
    folder = state / "downloads"
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            if name.startswith("."):
                continue
            if os.path.getsize(path) != SIZE or file_sha256(path) != origin_sha256(SIZE):
                REPORT.violate(SCENARIO, NOT_STUCK, f"{path} is at a final path but not whole "
                               f"({os.path.getsize(path)} bytes)")


def tamper(database, state):
    """--tamper: a delivered file gains a byte and a half file appears at a failed job's final path."""
    rows = query(database, "SELECT id, state, result_location FROM jobs WHERE kind = 'download' ORDER BY id")
    delivered = next(r for r in rows if r["state"] == "succeeded")
    with open(delivered["result_location"], "ab") as handle:
        handle.write(b"x")
    failed = next(r for r in rows if r["state"] == "failed")
    half = state / "downloads" / str(failed["id"]) / "gone.bin"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"\0" * (SIZE // 2))
    log(f"{SCENARIO}: tampered with {delivered['result_location']} and {half}")
