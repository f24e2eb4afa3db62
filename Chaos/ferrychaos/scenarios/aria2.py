"""Scenario aria2: mixed torrent, FTP and HTTP downloads while aria2c, the download workers and
the supervisor are SIGKILLed.

At least 100 downloads (more in a soak): torrents (single files and folders, as magnet links and
as .torrent URLs, a few torrents fetched by two jobs) from one loopback seeder and tracker
(Sources/FerryTesting/Aria2/torrent_swarm.py), files from a pyftpdlib server that cuts the first
transfer of each file (ftp_server.py), and files from the chaos origin with cuts, some fetched by
Ferry's own client and some by aria2. Meanwhile every few seconds one download worker's aria2c is
SIGKILLed, now and then a download worker, and the supervisor (then started again); and now and
then a task of nobody's is added to a running aria2c over its RPC (what another client or a stale
session would leave), which its worker must remove.

To look inside aria2 the suite names a wrapper as `aria2.program`: it notes each aria2c's pid,
RPC port and secret (from the options file Ferry hands aria2c) and execs the real aria2c. With
that the suite asks every live aria2c for its tasks, each of which names its job by its folder
(`<state_dir>/spool/job-<id>-aria2`). Checked while it runs (sampled each second, with grace for
what a reconcile round repairs): no task in aria2 that no running job of that worker owns, and no
running job waiting on a task its worker's running aria2c does not have. Checked at the end: every
job succeeded, byte-identical (SHA-256 of each file, also each file of a torrent's folder, against
the seed), aria2 holds no task at all, no aria2c outlives the daemon, and the database invariants.

The run lasts a third of --duration (30 s of fire in the short run) and then settles.
"""
import http.client
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import Path

from .. import REPO
from ..daemon import Ferry, base_config, free_port, survivors
from ..database import FINAL_PHASES, query
from ..invariants import check_database, file_sha256
from ..origin import Origin, origin_sha256
from ..processes import STRAYS, alive, in_threads, proc_stat, process_start_time, spawn, wait_until, worker_processes
from ..report import REPORT, log
from .fire.plans import submit

SCRIPTS = REPO / "Sources/FerryTesting/Aria2"
SCENARIO = "aria2"
OWNED = "no task in aria2 that no job owns (sampled during the run, and none at all at the end)"
WAITING = "no job waiting on a task aria2 does not have (sampled during the run)"
SUCCEEDED = "every download succeeded, byte-identical to its seed (SHA-256 of every file)"
KILLS = "aria2c, the download worker and the supervisor were SIGKILLed mid-run; no aria2c outlives them"
# Seconds a difference between the jobs and aria2 may last before it counts: a reconcile round
# (500 ms here) repairs it, but a restarted aria2c first reloads its session, and the supervisor
# learns of a dead worker only from its exit.
GRACE = 8.0


class Plan:
    """One submission (the shape fire's `submit` takes) and what its result must hold."""

    def __init__(self, key, body, via, expect):
        self.kind = "download"
        self.key, self.body, self.via = key, body, via
        # {relative path: sha256} of a folder result, or the sha256 of a single file.
        self.expect = expect
        self.answers, self.job_id, self.refused = [], None, None
        self.cancelled = set()


def missing_tools():
    missing = [tool for tool in ("aria2c",) if not shutil.which(tool)]
    missing += [module for module in ("torf", "pyftpdlib") if importlib.util.find_spec(module) is None]
    return missing


def write_random(path, size, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.randbytes(size)
    path.write_bytes(data)
    return file_sha256(path)


def start_script(scratch, script, arguments, name):
    """Starts one of the aria2 tests' servers (None in `arguments` stands for its ready file's
    path); returns what it wrote to its ready file."""
    ready = scratch / f"{name}.ready"
    command = [sys.executable, str(SCRIPTS / script)] + [str(ready if a is None else a) for a in arguments]
    spawn(command, scratch / f"{name}.log")
    if not wait_until(ready.exists, 60, 0.1):
        raise SystemExit(f"chaos: {script} did not start; see {scratch / (name + '.log')}")
    return ready.read_text()


def spy_program(scratch):
    """The `aria2.program` the daemon runs: notes pid, port and secret, then execs aria2c."""
    notes = scratch / "aria2c-spy.txt"
    notes.touch()
    wrapper = scratch / "aria2c-spy"
    wrapper.write_text(f"""#!/bin/sh
# The chaos suite's window into aria2: pid, RPC port and secret of each aria2c, then aria2c itself.
conf=; port=
for argument in "$@"; do
  case "$argument" in
    --conf-path=*) conf="${{argument#--conf-path=}}" ;;
    --rpc-listen-port=*) port="${{argument#--rpc-listen-port=}}" ;;
  esac
done
secret=$(sed -n 's/^rpc-secret=//p' "$conf")
echo "$$ $port $secret" >> {notes}
exec {shutil.which("aria2c")} "$@"
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, notes


class Aria2c:
    """One aria2c the daemon started, as the spy noted it."""

    def __init__(self, pid, port, secret):
        self.pid, self.port, self.secret = pid, port, secret
        self.started = process_start_time(pid)

    def alive(self):
        return self.started is not None and alive(self.pid, self.started)

    def parent(self):
        stat_line = proc_stat(self.pid)
        return stat_line[1] if stat_line else None

    def call(self, method, *params):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            body = json.dumps({"jsonrpc": "2.0", "id": "chaos", "method": method,
                               "params": [f"token:{self.secret}", *params]})
            connection.request("POST", "/jsonrpc", body=body, headers={"Content-Type": "application/json"})
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        if "error" in answer:
            raise ConnectionError(str(answer["error"]))
        return answer["result"]

    def tasks(self):
        """Every task aria2 holds (active, waiting, stopped); raises OSError when it does not answer."""
        keys = ["gid", "status", "dir", "infoHash", "errorCode", "completedLength", "totalLength"]
        return (self.call("aria2.tellActive", keys) + self.call("aria2.tellWaiting", 0, 10_000, keys)
                + self.call("aria2.tellStopped", 0, 10_000, keys))


def known_aria2cs(notes, seen):
    """Every aria2c the spy noted, by pid (new ones are remembered so that exit kills them)."""
    for line in notes.read_text().splitlines():
        fields = line.split()
        if len(fields) != 3 or not fields[0].isdigit() or int(fields[0]) in seen:
            continue
        process = Aria2c(int(fields[0]), int(fields[1]), fields[2])
        seen[process.pid] = process
        if process.started is not None:
            STRAYS.append((process.pid, process.started))
    return seen


def job_of(task):
    match = re.search(r"/spool/job-(\d+)-aria2/?$", task.get("dir") or "")
    return int(match[1]) if match else None


def make_plans(rng, count, swarm, ftp_base, origin, prefix):
    """The submissions: about a third torrents, a third FTP, a third HTTP (half of it through aria2)."""
    plans = []
    torrents, contents = swarm
    # A few torrents are asked for by two jobs: a worker's aria2 takes one torrent once.
    for index in range(count):
        key = f"{prefix}-{index}"
        kind = index % 3
        if kind == 0:
            number = (index // 3) % len(torrents)
            torrent = torrents[number]
            if rng.random() < 0.5:
                body = {"url": torrent["magnet"]}
                via = "magnet"
            else:
                body = {"url": torrent["torrent_url"], "engine": "aria2"}
                via = "torrent url"
            plans.append(Plan(key, body, via, contents[number]))
        elif kind == 1:
            name, sha = ftp_base[1][(index // 3) % len(ftp_base[1])]
            plans.append(Plan(key, {"url": f"{ftp_base[0]}/{name}"}, "ftp", sha))
        else:
            size = rng.randint(300_000, 1_500_000)
            faults = {"key": key, "rate": 400_000}
            if rng.random() < 0.4:
                faults["cut"] = rng.randint(50_000, size // 2)
            body = {"url": origin.url(size, **faults)}
            via = "http"
            if rng.random() < 0.5:
                body["engine"] = "aria2"
                via = "http through aria2"
            plans.append(Plan(key, body, via, origin_sha256(size)))
    rng.shuffle(plans)
    return plans


class Monkey(threading.Thread):
    """SIGKILLs aria2c every few seconds, a download worker now and then, the supervisor twice or
    more; and now and then adds a task of nobody's to a running aria2c (as another client of its
    RPC, or a stale session, would), which the worker must remove."""

    def __init__(self, ferry, notes, duration, rng, stray_url, stray):
        super().__init__(daemon=True)
        self.stray = stray  # the folder stray tasks write into (no job's)
        self.ferry, self.notes, self.duration, self.rng, self.stray_url = ferry, notes, duration, rng, stray_url
        self.lock = threading.Lock()  # held while the supervisor is down
        self.seen = {}
        self.counts = {"aria2c SIGKILLs": 0, "download worker SIGKILLs": 0, "supervisor SIGKILLs": 0,
                       "stray tasks added": 0}
        self.error = None

    def run(self):
        try:
            self.act()
        except Exception as error:  # noqa: BLE001 — reported, the run then fails
            self.error = repr(error)
            REPORT.violate(SCENARIO, KILLS, f"the chaos driver crashed: {error!r}")

    def live_aria2cs(self):
        workers = {pid for pid, (role, _) in self.ferry.workers().items() if role == "download"}
        known_aria2cs(self.notes, self.seen)
        return [p for p in self.seen.values() if p.alive() and p.parent() in workers]

    def act(self):
        start = time.monotonic()
        end = start + self.duration
        events = [("worker", start + self.duration * f) for f in (0.3, 0.75)]
        restarts = max(2, int(self.duration // 40))
        events += [("supervisor", start + self.duration * (i + 1) / (restarts + 1) + 1) for i in range(restarts)]
        if self.duration > 120:
            events += [("worker", start + t) for t in range(30, int(self.duration), 25)]
        events.sort(key=lambda e: e[1])
        rounds = 0
        while time.monotonic() < end:
            for event in [e for e in events if e[1] <= time.monotonic()]:
                events.remove(event)
                self.kill_worker() if event[0] == "worker" else self.kill_supervisor()
            time.sleep(self.rng.uniform(1.5, 3.0))
            candidates = self.live_aria2cs()
            rounds += 1
            if candidates and self.counts["stray tasks added"] < rounds // 3:
                try:
                    self.rng.choice(candidates).call("aria2.addUri", [self.stray_url(self.counts["stray tasks added"])],
                                                     {"dir": str(self.stray)})
                    self.counts["stray tasks added"] += 1
                except (OSError, ValueError):
                    pass
            if candidates:
                victim = self.rng.choice(candidates)
                try:
                    os.kill(victim.pid, signal.SIGKILL)
                    self.counts["aria2c SIGKILLs"] += 1
                except ProcessLookupError:
                    pass

    def kill_worker(self):
        workers = [pid for pid, (role, _) in self.ferry.workers().items() if role == "download"]
        if workers:
            os.kill(self.rng.choice(workers), signal.SIGKILL)
            self.counts["download worker SIGKILLs"] += 1

    def kill_supervisor(self):
        with self.lock:
            aria2cs = self.live_aria2cs()
            workers = self.ferry.kill()
            self.counts["supervisor SIGKILLs"] += 1
            left = survivors(workers)
            REPORT.check(SCENARIO, KILLS, not left, f"workers outlived the supervisor's SIGKILL by 10 s: {left}")
            # aria2c notices its worker is gone (--stop-with-process) within a second or so.
            wait_until(lambda: not any(p.alive() for p in aria2cs), 10)
            stayed = [p.pid for p in aria2cs if p.alive()]
            REPORT.check(SCENARIO, KILLS, not stayed, f"aria2c outlived its worker by 10 s: {stayed}")
            time.sleep(self.rng.uniform(0.3, 1.5))
            self.ferry.start()


class Watch(threading.Thread):
    """Samples aria2 against the database each second: no unowned task, no job without its task."""

    def __init__(self, ferry, database, monkey, aria2_jobs):
        super().__init__(daemon=True)
        self.ferry, self.database, self.monkey, self.aria2_jobs = ferry, database, monkey, aria2_jobs
        self.stop_event = threading.Event()
        self.samples = 0
        self.tasks_seen = 0
        self.unowned = {}  # (aria2c pid, gid) -> first seen unowned
        self.missing = {}  # (job, owner, attempt, aria2c pid) -> first seen without a task
        self.reported = set()

    def run(self):
        REPORT.declare(SCENARIO, OWNED)
        REPORT.declare(SCENARIO, WAITING)
        while not self.stop_event.wait(1.0):
            try:
                self.sample()
            except Exception as error:  # noqa: BLE001 — one bad sample is not a finding; count it
                log(f"aria2: a sample failed: {error!r}")

    def sample(self):
        with self.monkey.lock:
            if not self.ferry.pid or not self.database.exists():
                return
            children = {pid for pid, (role, _) in worker_processes(self.ferry.pid).items() if role == "download"}
            workers = {r["pid"]: r["id"] for r in query(
                self.database, "SELECT id, pid FROM workers WHERE exited_at IS NULL AND role = 'download'")}
            running = {r["id"]: r for r in query(
                self.database, "SELECT id, owner, attempt FROM jobs WHERE state = 'running' AND kind = 'download'")}
            listings = {}
            for process in self.monkey.live_aria2cs():
                parent = process.parent()
                if parent not in children or parent not in workers:
                    continue
                try:
                    listings[process.pid] = (workers[parent], process.tasks())
                except (OSError, ValueError):
                    continue  # just killed, or not answering yet: nothing to compare
            # The jobs read again after aria2: a job that ended between the two reads is not running.
            still = {r["id"] for r in query(self.database, "SELECT id FROM jobs WHERE state = 'running'")}
        now = time.monotonic()
        self.samples += 1
        unowned, missing = {}, {}
        for pid, (worker, tasks) in listings.items():
            self.tasks_seen += len(tasks)
            have = set()
            for task in tasks:
                job = job_of(task)
                have.add(job)
                row = running.get(job)
                if row is not None and row["owner"] == worker:
                    continue
                key = (pid, task["gid"])
                unowned[key] = self.unowned.get(key, now)
                if now - unowned[key] > GRACE and key not in self.reported:
                    self.reported.add(key)
                    REPORT.violate(SCENARIO, OWNED, f"aria2c {pid} of worker {worker} has held task {task['gid']} "
                                   f"({task['status']}, folder {task.get('dir')}) for {now - unowned[key]:.0f} s, "
                                   f"but job {job} is not running there")
            for job, row in running.items():
                if row["owner"] != worker or job not in self.aria2_jobs or job in have or job not in still:
                    continue
                key = (job, worker, row["attempt"], pid)
                missing[key] = self.missing.get(key, now)
                if now - missing[key] > GRACE and key not in self.reported:
                    self.reported.add(key)
                    REPORT.violate(SCENARIO, WAITING, f"job {job} (attempt {row['attempt']}) has run on worker "
                                   f"{worker} for {now - missing[key]:.0f} s while its aria2c {pid} has no task of it")
        self.unowned, self.missing = unowned, missing


def check_results(plans, database, scratch, tamper):
    rows = {r["id"]: r for r in query(database, "SELECT * FROM jobs WHERE kind = 'download'")}
    if tamper:
        victim = next(r for r in rows.values() if r["result_location"] and os.path.isfile(r["result_location"]))
        data = bytearray(Path(victim["result_location"]).read_bytes())
        data[len(data) // 2] ^= 0xFF
        Path(victim["result_location"]).write_bytes(bytes(data))
        log(f"aria2: TAMPERED with {victim['result_location']} on purpose")
    REPORT.declare(SCENARIO, SUCCEEDED)
    files = folders = 0
    by_way = {}
    for plan in plans:
        if plan.refused or plan.job_id is None:
            REPORT.violate(SCENARIO, SUCCEEDED, f"{plan.via} {plan.key} was not accepted: {plan.refused}")
            continue
        row = rows[plan.job_id]
        by_way[plan.via] = by_way.get(plan.via, 0) + 1
        if row["state"] != "succeeded":
            REPORT.violate(SCENARIO, SUCCEEDED, f"{plan.via} job {plan.job_id} ({plan.body['url'][:90]}) is "
                           f"{row['state']}: {row['last_error_code']}: {row['last_error']}")
            continue
        location = Path(row["result_location"])
        if isinstance(plan.expect, dict):
            folders += 1
            found = {str(p.relative_to(location)): file_sha256(p) for p in location.rglob("*") if p.is_file()} \
                if location.is_dir() else {}
            if found != plan.expect:
                REPORT.violate(SCENARIO, SUCCEEDED, f"{plan.via} job {plan.job_id}: the folder {location} holds "
                               f"{sorted(found)}, not byte-identical to the seed's {sorted(plan.expect)}")
        else:
            files += 1
            actual = file_sha256(location) if location.is_file() else None
            if actual != plan.expect or row["result_sha256"] != plan.expect:
                REPORT.violate(SCENARIO, SUCCEEDED, f"{plan.via} job {plan.job_id}: {location} has SHA-256 "
                               f"{actual} (recorded {row['result_sha256']}), the seed {plan.expect}")
    REPORT.detail(SCENARIO, SUCCEEDED, f"{files} files and {folders} folders checked; "
                  + ", ".join(f"{n} {way}" for way, n in sorted(by_way.items())))


def run(args, binary, scratch, lifecycles):
    missing = missing_tools()
    if missing:
        for name in (SUCCEEDED, OWNED, WAITING, KILLS):
            REPORT.skip(SCENARIO, name, f"needs {', '.join(missing)}")
        return
    rng = random.Random(args.seed)
    duration = max(20.0, args.duration / 3)
    count = max(100, int(duration * 3.4))
    began = time.monotonic()
    work = scratch / "aria2"
    # The seeds: torrents of one file or of a folder (two files, one in a subfolder), FTP files.
    torrent_count = max(8, min(40, count // 4))
    contents, paths = [], []
    for number in range(torrent_count):
        folder = work / "seed" / f"t{number}"
        if number % 3 == 2:
            top = folder / f"pack-{number}"
            expect = {}
            for relative in (f"a-{number}.bin", f"sub/b-{number}.bin"):
                expect[relative] = write_random(top / relative, rng.randint(150_000, 700_000), rng)
            contents.append(expect)
            paths.append(top)
        else:
            path = folder / f"movie-{number}.bin"
            contents.append(write_random(path, rng.randint(300_000, 1_200_000), rng))
            paths.append(path)
    ftp_files = []
    for number in range(max(10, count // 6)):
        name = f"clip-{number}.bin"
        ftp_files.append((name, write_random(work / "ftp" / name, rng.randint(300_000, 1_200_000), rng)))
    swarm = json.loads(start_script(
        scratch, "torrent_swarm.py",
        [paths[0], work / "seed", None, "--rate", "400000"] + [a for p in paths[1:] for a in ("--more", p)],
        "aria2-swarm"))
    ftp_port = int(start_script(scratch, "ftp_server.py", [work / "ftp", None, "--cut-after", "150000",
                                                            "--rate", "400000"], "aria2-ftp"))
    origin = Origin(scratch)
    program, notes = spy_program(scratch)
    state = scratch / "aria2-state"
    port = free_port()
    text = base_config(state, port, f"""workers:
  download:
    processes: 2
    concurrency: 16
aria2:
  program: {program}
  reconcile_interval: 500ms
""").replace("downloads:\n", "downloads:\n  allowed_schemes: http,https,ftp,magnet\n", 1)
    ferry = Ferry(binary, scratch, text, "aria2")
    database = state / "ferry.sqlite"
    ferry.start()
    plans = make_plans(rng, count, (swarm["torrents"], contents), (f"ftp://127.0.0.1:{ftp_port}", ftp_files),
                       origin, f"a{args.seed}")
    log(f"aria2: {count} downloads ({torrent_count} torrents, {len(ftp_files)} FTP files) over {duration:.0f} s "
        f"of kills; ferry on :{port}; set up in {time.monotonic() - began:.1f} s")
    stray = scratch / "aria2-stray"
    monkey = Monkey(ferry, notes, duration, rng,
                    lambda n: origin.url(5_000_000, key=f"stray-{n}", rate=100_000), stray)
    aria2_jobs = set()
    watch = Watch(ferry, database, monkey, aria2_jobs)
    started = time.monotonic()
    monkey.start()
    watch.start()
    # Submissions over the first half, from four threads; each is retried until answered.
    spacing = duration * 0.5 / len(plans)
    queue = list(enumerate(plans))
    queue_lock = threading.Lock()

    def submitter():
        while True:
            with queue_lock:
                if not queue:
                    return
                index, plan = queue.pop(0)
            wait = started + index * spacing - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            submit(ferry, plan, started + duration + 120)
            if plan.job_id is not None and plan.via != "http":
                aria2_jobs.add(plan.job_id)

    in_threads(submitter)
    monkey.join()
    log(f"aria2: kills over after {time.monotonic() - started:.0f} s: {monkey.counts}")
    if ferry.process.poll() is not None:
        REPORT.violate(SCENARIO, KILLS, f"the supervisor exited by itself: {ferry.log_tail()}")
        ferry.start()
    ids = [p.job_id for p in plans if p.job_id is not None]
    placeholders = ",".join("?" * len(ids))

    def finished():
        try:
            return all(r[0] in FINAL_PHASES for r in query(
                database, f"SELECT state FROM jobs WHERE id IN ({placeholders})", ids))
        except Exception:  # noqa: BLE001 — the database may be busy; look again
            return False

    settled = wait_until(finished, args.settle_timeout, 0.5)
    log(f"aria2: {'every job ended' if settled else 'NOT every job ended'} after {time.monotonic() - started:.0f} s")
    REPORT.check(SCENARIO, SUCCEEDED, settled, f"jobs still not ended {args.settle_timeout:.0f} s after the kills")
    # At rest aria2 holds nothing: every job ended, so any task would be one no job owns.
    def empty():
        listings = {}
        for process in monkey.live_aria2cs():
            try:
                listings[process.pid] = process.tasks()
            except (OSError, ValueError):
                return None
        return listings if not any(listings.values()) else None

    at_rest = wait_until(empty, 10, 0.5)
    if at_rest is None:
        leftovers = {}
        for process in monkey.live_aria2cs():
            try:
                leftovers[process.pid] = [(t["gid"], t["status"], t.get("dir")) for t in process.tasks()]
            except (OSError, ValueError) as error:
                leftovers[process.pid] = repr(error)
        REPORT.violate(SCENARIO, OWNED, f"at rest, 10 s after every job ended, aria2 still holds {leftovers}")
    watch.stop_event.set()
    watch.join()
    REPORT.detail(SCENARIO, OWNED, f"{watch.samples} samples, {watch.tasks_seen} tasks looked at; "
                  f"at rest {len(at_rest or {})} aria2c, empty")
    REPORT.detail(SCENARIO, WAITING, f"{watch.samples} samples of {len(aria2_jobs)} jobs aria2 fetched")
    aria2cs = list(known_aria2cs(notes, monkey.seen).values())
    workers = ferry.workers()
    status = ferry.stop()
    REPORT.check(SCENARIO, KILLS, status == 0, f"SIGTERM: exit status {status}; {ferry.log_tail(8)}")
    left = survivors(workers)
    wait_until(lambda: not any(p.alive() for p in aria2cs), 10)
    stayed = [p.pid for p in aria2cs if p.alive()]
    REPORT.check(SCENARIO, KILLS, not left and not stayed,
                 f"after the daemon's stop, workers {left} and aria2c {stayed} are still there")
    REPORT.check(SCENARIO, OWNED, monkey.counts["stray tasks added"] >= 1, "no stray task was added to aria2, so the "
                 "removal of tasks no job owns was not put to the test")
    REPORT.check(SCENARIO, KILLS, monkey.counts["aria2c SIGKILLs"] >= 5 and monkey.counts["supervisor SIGKILLs"] >= 1
                 and monkey.counts["download worker SIGKILLs"] >= 1, f"too few kills: {monkey.counts}",
                 ", ".join(f"{v} {k}" for k, v in monkey.counts.items()) + f"; {len(aria2cs)} aria2c started")
    check_results(plans, database, scratch, args.tamper)
    check_database(SCENARIO, database, lifecycles)
    causes = query(database, "SELECT cause, count(*) AS n FROM job_events GROUP BY cause ORDER BY n DESC")
    log("aria2: transitions by cause: " + ", ".join(f"{r['cause']} {r['n']}" for r in causes))
    errors = query(database, "SELECT last_error_code AS code, count(*) AS n FROM jobs WHERE last_error_code IS NOT NULL "
                   "GROUP BY code ORDER BY n DESC")
    log("aria2: last errors of retried jobs: " + (", ".join(f"{r['code']} {r['n']}" for r in errors) or "none"))
    log(f"aria2: the scenario took {time.monotonic() - began:.0f} s")
