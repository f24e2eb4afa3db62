"""Scenario fire: hundreds of transfers from a faulty origin while workers and the supervisor die.

Downloads (to a folder and to moto's S3 server) and video stores meet origin faults while the
monkey does its damage; then the run settles and every invariant is checked. `plans` makes the
submissions, `monkey` does the damage, `checks` judges the result.
"""
import random
import threading
import time

from ...daemon import Ferry, base_config, check_alive, check_graceful_stop, free_port, wait_calm
from ...database import query
from ...invariants import check_database
from ...processes import in_threads
from ...origin import Moto, Origin, s3_target
from ...report import REPORT, log
from .checks import check_fire_results, tamper
from .monkey import Monkey, OwnerWatch
from .plans import make_plans, submit


def settle(ferry, database, timeout):
    """Waits until nothing runs and nothing waiting is due, three looks in a row; False on timeout."""
    def busy():
        return query(database, "SELECT count(*) FROM jobs WHERE state IN ('running', 'storing') "
                     "OR (state IN ('queued', 'temporary') AND due_at <= ?)",
                     (int(time.time() * 1000) + 2500,))[0][0]

    return wait_calm(ferry, busy, timeout)


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
""" + s3_target("bucket", moto.endpoint, secret)
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
    check_alive(scenario, ferry)

    settled = settle(ferry, database, args.settle_timeout)
    watch.stop_event.set()
    watch.join()
    log(f"fire: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(scenario, "the run settles: nothing running, nothing due", settled,
                 f"still busy {args.settle_timeout} s after the chaos ended")
    check_alive(scenario, ferry)

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
    check_graceful_stop(scenario, ferry)
    REPORT.check(scenario, "no worker survives its supervisor's SIGKILL (checked in /proc)",
                 monkey.counts["supervisor SIGKILLs"] >= 3,
                 f"only {monkey.counts['supervisor SIGKILLs']} supervisor SIGKILLs happened")

    if args.tamper:
        tamper(database, state, folder, moto)
    check_fire_results(scenario, plans, database, [state], folder, moto, origin, monkey.hung_jobs)
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
