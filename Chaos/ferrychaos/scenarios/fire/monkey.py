"""The fire scenario's damage, and what can only be checked while it happens.

`Monkey` SIGKILLs workers and the supervisor, SIGSTOPs a worker until it is declared hung,
reloads a changed and then an invalid configuration, and pauses, resumes and cancels jobs as an
operator would. `OwnerWatch` samples the database meanwhile: a running job must have a live owner.
"""
import os
import signal
import sqlite3
import threading
import time

from ...daemon import kill_and_restart
from ...database import query
from ...processes import STRAYS, alive, process_start_time, wait_until, worker_processes
from ...report import REPORT


class Monkey(threading.Thread):
    """Does the damage while the submissions run, and checks what it can only check on the spot."""

    def __init__(self, ferry, scenario, duration, rng, configs, plans):
        super().__init__(daemon=True)
        self.ferry, self.scenario, self.duration, self.rng, self.configs = ferry, scenario, duration, rng, configs
        self.plans = plans
        self.paused = {}  # job id -> when an operator paused it
        self.stop_event = threading.Event()
        self.counts = {"worker SIGKILLs": 0, "supervisor SIGKILLs": 0, "hung workers": 0, "SIGHUPs": 0,
                       "cancels": 0, "pauses": 0}
        self.hung_jobs = {}  # worker id -> job ids it held when it was stopped
        self.error = None
        self.lock = threading.Lock()  # held while the supervisor is down or being replaced

    def run(self):
        try:
            self.act()
        except Exception as error:  # noqa: BLE001 — reported, the run then fails
            self.error = repr(error)
            REPORT.violate(self.scenario, "the chaos driver ran to the end", repr(error))

    def sleep(self, seconds):
        return self.stop_event.wait(seconds)

    def act(self):
        start = time.monotonic()
        end = start + self.duration
        restarts = max(4, int(self.duration // 30))
        events = [("restart", start + self.duration * (i + 1) / (restarts + 1)) for i in range(restarts)]
        events += [("hang", start + self.duration * 0.30), ("reload", start + self.duration * 0.15),
                   ("reload-back", start + self.duration * 0.55), ("reload-invalid", start + self.duration * 0.62)]
        if self.duration > 400:
            events += [("hang", start + self.duration * f) for f in (0.5, 0.8)]
        events.sort(key=lambda e: e[1])
        while time.monotonic() < end and not self.stop_event.is_set():
            due = [e for e in events if e[1] <= time.monotonic()]
            for event in due:
                events.remove(event)
                getattr(self, event[0].replace("-", "_"))()
            if self.sleep(self.rng.uniform(1.0, 3.0)):
                break
            self.kill_worker()
            self.operate()
        # Whatever an operator paused is let go again.
        wait_until(lambda: self.resume_paused(0) or not self.paused, 60, 1)

    def operate(self):
        """An operator at work: pauses and later resumes, or cancels, a recently submitted download."""
        self.resume_paused(1.5)
        if self.rng.random() < 0.2:
            return
        state = self.rng.choice(["running", "running", "queued"])
        try:
            status, page, _ = self.ferry.api.call("GET", f"/api/downloads?state={state}&limit=50", timeout=10)
        except OSError:
            return
        ours = {p.job_id: p for p in self.plans if p.kind == "download" and p.job_id is not None}
        candidates = [ours[job["id"]] for job in (page or {}).get("jobs", []) if job["id"] in ours] \
            if status == 200 else []
        if not candidates:
            return
        plan = self.rng.choice(candidates)
        action = "cancel" if self.rng.random() < 0.25 else "pause"
        try:
            status, _, _ = self.ferry.api.call("POST", f"/api/jobs/{plan.job_id}/{action}", timeout=10)
        except OSError:
            return
        if status == 200 and action == "cancel":
            plan.cancelled.add(plan.job_id)
            self.counts["cancels"] += 1
        elif status == 200:
            self.paused[plan.job_id] = time.monotonic()
            self.counts["pauses"] += 1

    def resume_paused(self, after):
        for job_id, at in list(self.paused.items()):
            if time.monotonic() - at < after:
                continue
            try:
                status, _, _ = self.ferry.api.call("POST", f"/api/jobs/{job_id}/resume", timeout=10)
            except OSError:
                continue
            if status in (200, 409):  # 409: no longer paused (cancelled meanwhile)
                del self.paused[job_id]

    def kill_worker(self):
        workers = self.ferry.workers()
        if not workers:
            return
        weights = {"download": 5, "upload": 4, "store": 3, "cleanup": 1}
        pids = list(workers)
        pid = self.rng.choices(pids, [weights.get(workers[p][0], 1) for p in pids])[0]
        try:
            os.kill(pid, signal.SIGKILL)
            self.counts["worker SIGKILLs"] += 1
        except ProcessLookupError:
            pass

    def restart(self):
        with self.lock:
            self.counts["supervisor SIGKILLs"] += 1
            kill_and_restart(self.scenario, self.ferry, lambda: self.sleep(self.rng.uniform(0.5, 3.0)))
            REPORT.detail(self.scenario, "no worker survives its supervisor's SIGKILL (checked in /proc)",
                          f"{self.counts['supervisor SIGKILLs']} supervisor SIGKILLs")

    def hang(self):
        name = "a SIGSTOPped worker is declared hung, killed and replaced, its jobs requeued"
        REPORT.declare(self.scenario, name)
        try:
            status, workers, _ = self.ferry.api.call("GET", "/api/workers")
        except OSError:
            return
        live = [w for w in workers.get("workers", []) if w["role"] == "download" and w.get("pid")]
        if not live:
            return
        busy = [w for w in live if w["jobs"]] or live
        victim = self.rng.choice(busy)
        pid = victim["pid"]
        started = process_start_time(pid)
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return  # it exited (recycled, scaled down) since the answer: pick another next time
        self.hung_jobs[victim["id"]] = (int(time.time() * 1000), list(victim["jobs"]))
        STRAYS.append((pid, started))
        self.counts["hung workers"] += 1
        # hang_timeout 4s + kill_grace 0.5s, with room for a loaded machine.
        gone = wait_until(lambda: not alive(pid, started), 30)
        if not gone:
            REPORT.violate(self.scenario, name, f"worker {victim['id']} (pid {pid}) stopped 30 s ago is still there")
            for stop in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(pid, stop)
                except ProcessLookupError:
                    pass
        replaced = wait_until(lambda: sum(1 for r, _ in self.ferry.workers().values() if r == "download")
                              >= self.configs["download processes"], 20)
        if not replaced:
            REPORT.violate(self.scenario, name, "the hung download worker was not replaced within 20 s")
        REPORT.detail(self.scenario, name, f"{self.counts['hung workers']} worker(s) stopped, "
                      f"holding {sum(len(j) for _, j in self.hung_jobs.values())} job(s)")

    def reload_to(self, processes, valid=True):
        name = "SIGHUP applies a changed configuration and keeps the running one on an invalid file"
        REPORT.declare(self.scenario, name)
        with self.lock:
            if valid:
                self.configs["download processes"] = processes
                text = self.configs["text"].replace("download:\n    processes: 2",
                                                    f"download:\n    processes: {processes}")
            else:
                text = self.configs["text"].replace("workers:", "workers:\n  nonsense: [") + "\n\0garbage"
            self.ferry.config.write_text(text)
            os.kill(self.ferry.pid, signal.SIGHUP)
            self.counts["SIGHUPs"] += 1
            if valid:
                def applied():
                    try:
                        _, answer, _ = self.ferry.api.call("GET", "/api/workers", timeout=5)
                    except OSError:
                        return False
                    role = [r for r in answer["roles"] if r["role"] == "download"]
                    return role and role[0]["wanted"] == processes
                if not wait_until(applied, 20, 0.5):
                    REPORT.violate(self.scenario, name, f"download processes {processes} not applied 20 s after SIGHUP")
            else:
                time.sleep(3)
                if self.ferry.process.poll() is not None or not self.ferry.api.ready():
                    REPORT.violate(self.scenario, name, "the supervisor did not survive SIGHUP with an invalid file: "
                                   + self.ferry.log_tail(5))
                    if self.ferry.process.poll() is not None:
                        self.ferry.config.write_text(self.configs["text"])
                        self.ferry.start()
                # Put the valid file back, as an operator would.
                self.ferry.config.write_text(self.configs["text"].replace(
                    "download:\n    processes: 2", f"download:\n    processes: {self.configs['download processes']}"))

    def reload(self):
        self.reload_to(3)

    def reload_back(self):
        self.reload_to(2)

    def reload_invalid(self):
        self.reload_to(0, valid=False)


class OwnerWatch(threading.Thread):
    """Samples the database: a running job must have a live owner that is the supervisor's child."""

    def __init__(self, ferry, database, monkey, scenario):
        super().__init__(daemon=True)
        self.ferry, self.database, self.monkey, self.scenario = ferry, database, monkey, scenario
        self.stop_event = threading.Event()
        self.samples = 0
        self.suspects = {}

    def run(self):
        name = "no job runs without a live owner (sampled during the run, and at the end)"
        REPORT.declare(self.scenario, name)
        while not self.stop_event.wait(2.0):
            with self.monkey.lock:
                pid = self.ferry.pid
                starts = self.ferry.starts
                if not pid or not self.database.exists():
                    continue
                try:
                    rows = query(self.database, "SELECT j.id, j.owner, w.pid, w.exited_at FROM jobs j "
                                 "LEFT JOIN workers w ON w.id = j.owner WHERE j.state IN ('running', 'storing')")
                except sqlite3.Error:
                    continue
                children = worker_processes(pid)
            self.samples += 1
            now_suspects = {}
            for row in rows:
                if row["exited_at"] is None and row["pid"] in children:
                    continue
                key = (row["id"], row["owner"])
                now_suspects[key] = (starts, time.monotonic(), row)
                first = self.suspects.get(key)
                # A worker that just died is requeued at once; one still orphaned 15 s later is a bug.
                if first and first[0] == starts and time.monotonic() - first[1] > 15:
                    REPORT.violate(self.scenario, name, f"job {row['id']} running for owner {row['owner']} "
                                   f"(pid {row['pid']}, exited_at {row['exited_at']}) which is not a live worker")
                    now_suspects[key] = (starts, time.monotonic() + 1e9, row)  # report once
                elif first:
                    now_suspects[key] = first
            self.suspects = now_suspects
        REPORT.detail(self.scenario, name, f"{self.samples} samples")
