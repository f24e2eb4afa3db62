"""Scenario clock-jumps: the daemon's wall clock set an hour forward, then ten minutes back.

`ferry serve` and its workers run with the suite's clockshift library preloaded
(native/clockshift.c, compiled here with cc): their wall clock (Foundation's Date,
clock_gettime(CLOCK_REALTIME), gettimeofday, time) is moved by the seconds in a file the suite
rewrites, while CLOCK_MONOTONIC stays real. (Debian's libfaketime does the same but, preloaded
into a Swift program, leaves it without its command-line arguments on most starts.)

Downloads whose first attempt gets a 500 wait 15 s for their retry; the clock steps +1 h while
the first batch waits, and -10 min while a second batch waits. Each retry must come 15 s (real
time) after its failure: not at once after the step forward, not ten minutes late after the step
back. Meanwhile no worker may be judged hung or replaced, every check of the system health but
the machine's own (load, memory, disks) must pass with an uptime on the monotonic clock, and every
download must end byte-identical. The event log's times show the step (they are wall-clock, as
documented). `--tamper` moves CLOCK_MONOTONIC too, so the daemon cannot tell a step from time
passing, and the run must fail. Skipped without a C compiler.
"""
import shutil
import subprocess
import time
from pathlib import Path

from ..daemon import Ferry, base_config, free_port
from ..database import FINAL_PHASES, query
from ..invariants import check_database, file_sha256
from ..origin import Origin, origin_sha256
from ..processes import wait_until
from ..report import REPORT, log

SCENARIO = "clock-jumps"
ON_TIME = "retries wait their real delay across wall-clock steps: none early after +1 h, none late after -10 min"
HEALTHY = ("no worker judged hung or replaced, system health passes (but the machine's load) with a monotonic uptime, "
           "every download whole")

CLOCKSHIFT = Path(__file__).resolve().parent.parent / "native" / "clockshift.c"
DELAY = 15
SIZE = 200_000
MACHINE = ("cpu:", "memory:", "disk:")
RETRIES = f"""  download:
    max_attempts: 5
    initial_delay: {DELAY}s
    max_delay: {DELAY}s
    jitter: none
"""


def run(args, binary, scratch, lifecycles):
    if not shutil.which("cc"):
        REPORT.skip(SCENARIO, ON_TIME, "needs a C compiler (cc, from build-essential) for the clockshift library")
        return
    library = scratch / "clockshift.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(library), str(CLOCKSHIFT), "-ldl"],
                   check=True)
    control = scratch / "clock-jumps.offset"
    control.write_text("0\n")
    env = {"LD_PRELOAD": str(library), "CLOCKSHIFT_FILE": str(control)}
    if args.tamper:
        env["CLOCKSHIFT_MONOTONIC"] = "1"
    origin = Origin(scratch)
    state = scratch / "clock-jumps-state"
    database = state / "ferry.sqlite"
    config = base_config(state, free_port(), "workers:\n  download:\n    processes: 2\n    concurrency: 4\n")
    default_retries = "  download:\n    max_attempts: 60\n    initial_delay: 200ms\n    max_delay: 2s\n"
    assert default_retries in config, "base_config's download retries changed; update clock_jumps.py"
    ferry = Ferry(binary, scratch, config.replace(default_retries, RETRIES), "clock-jumps", env)
    ferry.start()
    began = time.monotonic()
    health = Health(ferry, began)
    early_late = []
    for batch, step, offset in ((0, "+1 h", "3600"), (1, "-10 min", "3000")):
        ids = submit(ferry, origin, args.seed, batch)
        failed_at = wait_failures(database, ids, health)
        control.write_text(offset + "\n")
        stepped = time.monotonic()
        log(f"{SCENARIO}: batch {batch}: {len(failed_at)} first attempts failed; wall clock stepped {step}")
        retried_at = wait_retries(database, ids, health, DELAY + 20)
        if batch == 0:
            # The step did act: the retries' claims carry the daemon's wall clock, an hour ahead.
            claims = query(database, "SELECT max(at) FROM job_events WHERE cause = 'claim' AND attempt = 2")[0][0]
            faked = (claims or 0) / 1000 - time.time()
            REPORT.check(SCENARIO, ON_TIME, 3500 < faked < 3700,
                         f"the daemon's wall clock was {faked:.0f} s off the real one after the +1 h step: "
                         "clockshift did not act")
        for job in ids:
            if job not in failed_at or job not in retried_at:
                REPORT.violate(SCENARIO, ON_TIME, f"batch {batch} ({step}): job {job} failed at "
                               f"{failed_at.get(job)}, retried at {retried_at.get(job)} (never within {DELAY + 20} s)")
                continue
            waited = retried_at[job] - failed_at[job]
            early_late.append(waited)
            REPORT.check(SCENARIO, ON_TIME, DELAY - 1.5 <= waited <= DELAY + 5,
                         f"batch {batch} ({step}, {stepped - failed_at[job]:.1f} s after its failure): job {job} "
                         f"retried {waited:.1f} s after its failure, its delay is {DELAY} s")
    if early_late:
        REPORT.detail(SCENARIO, ON_TIME, f"{len(early_late)} retries {min(early_late):.1f}–{max(early_late):.1f} s "
                      f"after their failure (delay {DELAY} s)")

    done = wait_until(lambda: settled(database), 60, 0.5)
    jobs = query(database, "SELECT id, state, result_location, last_error FROM jobs")
    bad = [tuple(r) for r in jobs if r["state"] != "succeeded"
           or file_sha256(r["result_location"]) != origin_sha256(SIZE)]
    REPORT.check(SCENARIO, HEALTHY, done and not bad, f"downloads not succeeded byte-identical: {bad}")
    exits = query(database, "SELECT id, exit_reason FROM workers WHERE exited_at IS NOT NULL")
    REPORT.check(SCENARIO, HEALTHY, not exits, f"workers exited while the clock stepped: {[tuple(r) for r in exits]}")
    health.look()
    REPORT.check(SCENARIO, HEALTHY, not health.problems, f"system health: {health.problems[:3]}")
    REPORT.detail(SCENARIO, HEALTHY, f"{len(jobs)} downloads, {health.looks} health looks")
    status = ferry.stop()
    REPORT.check(SCENARIO, HEALTHY, status == 0, f"the supervisor's stop exited {status}")
    check_database(SCENARIO, database, lifecycles)


class Health:
    """Looks at /api/health/system: every check but the machine's must pass, the uptime be the real one."""

    def __init__(self, ferry, began):
        self.ferry, self.began, self.problems, self.looks = ferry, began, [], 0

    def look(self):
        try:
            status, document, _ = self.ferry.api.call("GET", "/api/health/system", timeout=5)
        except OSError as error:
            self.problems.append(f"unreachable: {error}")
            return
        self.looks += 1
        if not isinstance(document, dict):
            self.problems.append(f"answered {status}: {document}")
            return
        # The machine's own checks (load, memory, disks) may warn on a busy machine, truthfully.
        failing = {name: [c.get("output") for c in checks if c.get("status") != "pass"]
                   for name, checks in document.get("checks", {}).items() if not name.startswith(MACHINE)}
        if any(failing.values()):
            self.problems.append(f"status {document.get('status')}: {({k: v for k, v in failing.items() if v})}")
        uptime = (document.get("checks", {}).get("uptime") or [{}])[0].get("observedValue")
        real = time.monotonic() - self.began
        if uptime is None or not 0 <= uptime <= real + 5:
            self.problems.append(f"uptime {uptime} s after {real:.0f} s")


def submit(ferry, origin, seed, batch):
    ids = []
    for index in range(4):
        key = f"clock-{seed}-{batch}-{index}"
        body = {"url": origin.url(SIZE, key=key, fail=500, failures=1), "file_name": f"clock-{batch}-{index}.bin",
                "size": SIZE, "sha256": origin_sha256(SIZE)}
        status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
        REPORT.check(SCENARIO, ON_TIME, status == 201, f"submission {key} answered {status}: {answer}")
        if status == 201:
            ids.append(answer["id"])
    return ids


def wait_failures(database, ids, health):
    """{job: real time its first attempt's failure was seen}."""
    return watch(database, ids, health, "SELECT job_id FROM job_events WHERE cause = 'schedule_retry' AND job_id IN", 20)


def wait_retries(database, ids, health, timeout):
    """{job: real time its second claim was seen}."""
    return watch(database, ids, health, "SELECT job_id FROM job_events WHERE cause = 'claim' AND attempt = 2 "
                 "AND job_id IN", timeout)


def watch(database, ids, health, sql, timeout):
    seen = {}
    deadline = time.monotonic() + timeout
    last_look = 0
    while len(seen) < len(ids) and time.monotonic() < deadline:
        now = time.monotonic()
        for row in query(database, f"{sql} ({','.join('?' * len(ids))})", ids):
            seen.setdefault(row[0], now)
        if now - last_look >= 1:
            health.look()
            last_look = now
        time.sleep(0.1)
    return seen


def settled(database):
    return all(r[0] in FINAL_PHASES for r in query(database, "SELECT state FROM jobs"))
