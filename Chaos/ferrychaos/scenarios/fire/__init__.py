"""Scenario fire: hundreds of transfers from a faulty origin while workers and the supervisor die.

Downloads (to a folder and to moto's S3 server) and video stores meet origin faults while the
monkey does its damage; then the run settles and every invariant is checked. `plans` makes the
submissions, `monkey` does the damage, `checks` judges the result.
"""
import random
import sqlite3
import threading
import time

from ...daemon import Ferry, base_config, free_port, survivors
from ...database import query
from ...invariants import check_database
from ...processes import in_threads
from ...origin import BUCKET, Moto, Origin
from ...report import REPORT, log
from .checks import check_fire_results, tamper
from .monkey import Monkey, OwnerWatch
from .plans import make_plans, submit


def settle(ferry, database, timeout):
    """Waits until nothing runs and nothing waiting is due, three looks in a row; False on timeout."""
    calm = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now_ms = int(time.time() * 1000)
        try:
            busy = query(database, "SELECT count(*) FROM jobs WHERE state IN ('running', 'storing') "
                         "OR (state IN ('queued', 'temporary') AND due_at <= ?)", (now_ms + 2500,))[0][0]
            undeleted = query(database, """SELECT count(*) FROM downloads d JOIN jobs j ON j.id = d.job_id
                WHERE d.delete_after_upload = 1 AND j.state = 'succeeded'
                AND EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = d.job_id)
                AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                                WHERE u.download_id = d.job_id AND uj.state <> 'cleaned')""")[0][0]
        except sqlite3.Error:
            busy, undeleted = 1, 0
        if ferry.process.poll() is not None:
            return False
        calm = calm + 1 if busy == 0 else 0
        if calm >= 3:
            return True
        time.sleep(1)
    return False


def run(args, binary, scratch, lifecycles):
    scenario = "fire"
    rng = random.Random(args.seed)
    origin = Origin(scratch)
    moto = Moto(scratch)
    state = scratch / "state"
    folder = scratch / "target-folder"
    folder.mkdir()
    secret = scratch / "s3-secret"
    secret.write_text("testing")
    port = free_port()
    targets = f"""workers:
  download:
    processes: 2
    concurrency: 6
  upload:
    processes: 2
    concurrency: 4
  store:
    processes: 1
    concurrency: 4
cleanup:
  sweep_interval: 5s
  pending_scan_interval: 5s
  pending_min_age: 2s
  run_interval: {args.cleanup_runs}
  settle_time: 10s
targets:
  folder:
    type: dir
    path: {folder}
  bucket:
    type: s3
    endpoint: {moto.endpoint}
    bucket: {BUCKET}
    access_key_id: testing
    secret_key_file: {secret}
    multipart_threshold: 5MiB
    part_size: 5MiB
"""
    text = base_config(state, port, targets)
    ferry = Ferry(binary, scratch, text)
    database = state / "ferry.sqlite"
    ferry.start()
    count = args.jobs or max(520, int(args.duration * 2))
    plans = make_plans(rng, count, origin, f"c{args.seed}")
    log(f"fire: {count} submissions over {args.duration:.0f} s; ferry on :{port}, origin :{origin.port}, "
        f"moto {moto.endpoint}; scratch {scratch}")
    started = time.monotonic()
    monkey = Monkey(ferry, scenario, args.duration, rng, {"text": text, "download processes": 2}, plans)
    watch = OwnerWatch(ferry, database, monkey, scenario)
    monkey.start()
    watch.start()

    # Submissions spread over the first 70 % of the run, from four threads.
    spacing = args.duration * 0.7 / len(plans)
    next_index = [0]
    index_lock = threading.Lock()
    submit_deadline = time.monotonic() + args.duration + 300

    def submitter():
        while True:
            with index_lock:
                if next_index[0] >= len(plans):
                    return
                index = next_index[0]
                next_index[0] += 1
            wait = started + index * spacing - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            submit(ferry, plans[index], submit_deadline)
            # Now and then the client repeats a request it already got an answer to.
            if rng.random() < 0.05:
                submit(ferry, plans[index], submit_deadline)

    in_threads(submitter)
    monkey.join()
    log(f"fire: submissions done, chaos over after {time.monotonic() - started:.0f} s: {monkey.counts}")
    if ferry.process.poll() is not None:
        REPORT.violate(scenario, "the supervisor only died when it was killed",
                       f"exited by itself with {ferry.process.returncode}: {ferry.log_tail()}")
        ferry.start()
    REPORT.declare(scenario, "the supervisor only died when it was killed")

    settled = settle(ferry, database, args.settle_timeout)
    watch.stop_event.set()
    watch.join()
    log(f"fire: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(scenario, "the run settles: nothing running, nothing due", settled,
                 f"still busy {args.settle_timeout} s after the chaos ended")
    if ferry.process.poll() is not None:
        REPORT.violate(scenario, "the supervisor only died when it was killed",
                       f"exited by itself with {ferry.process.returncode}: {ferry.log_tail()}")
        ferry.start()

    # At rest, with the supervisor up: every running job has a live owner (there should be none).
    rows = query(database, "SELECT j.id, j.owner, w.pid, w.exited_at FROM jobs j LEFT JOIN workers w "
                 "ON w.id = j.owner WHERE j.state IN ('running', 'storing')")
    children = ferry.workers()
    for row in rows:
        if row["exited_at"] is not None or row["pid"] not in children:
            REPORT.violate(scenario, "no job runs without a live owner (sampled during the run, and at the end)",
                           f"at rest: job {row['id']} running for {row['owner']}, not a live worker")
    try:
        _, health, _ = ferry.api.call("GET", "/api/health/sync")
        REPORT.check(scenario, "no job runs without a live owner (sampled during the run, and at the end)",
                     health["running_without_live_owner"] == 0,
                     f"/api/health/sync says {health['running_without_live_owner']} at rest")
    except OSError as error:
        REPORT.violate(scenario, "the supervisor only died when it was killed", f"the API is gone: {error}")

    # A graceful stop; its workers must go with it.
    workers = ferry.workers()
    status = ferry.stop()
    REPORT.check(scenario, "SIGTERM stops the supervisor cleanly (exit 0) and its workers with it",
                 status == 0, f"exit status {status}; {ferry.log_tail(8)}")
    left = survivors(workers)
    REPORT.check(scenario, "SIGTERM stops the supervisor cleanly (exit 0) and its workers with it", not left,
                 f"workers left after the stop: {left}")
    REPORT.check(scenario, "no worker survives its supervisor's SIGKILL (checked in /proc)",
                 monkey.counts["supervisor SIGKILLs"] >= 3,
                 f"only {monkey.counts['supervisor SIGKILLs']} supervisor SIGKILLs happened")

    if args.tamper:
        tamper(database, state, folder, moto)
    check_fire_results(scenario, plans, database, state, folder, moto, origin, monkey)
    check_database(scenario, database, lifecycles)
    states = query(database, "SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
    log("fire: jobs by kind and state: " + ", ".join(f"{r['kind']} {r['state']} {r['n']}" for r in states))
    causes = query(database, "SELECT cause, count(*) AS n FROM job_events GROUP BY cause ORDER BY n DESC")
    log("fire: transitions by cause: " + ", ".join(f"{r['cause']} {r['n']}" for r in causes))
    log(f"fire: chaos done: {monkey.counts}; "
        f"faults: { {f: sum(1 for p in plans if p.fault == f) for f in sorted({p.fault for p in plans})} }")
    REPORT.detail(scenario, "the chaos driver ran to the end",
                  ", ".join(f"{v} {k}" for k, v in monkey.counts.items()))
    REPORT.check(scenario, "the chaos driver ran to the end", monkey.counts["worker SIGKILLs"] >= 5,
                 f"only {monkey.counts['worker SIGKILLs']} worker SIGKILLs")
