"""The telegram scenario's damage: SIGKILLed workers and supervisor, and a Bot API that misbehaves.

Every second or two a worker dies (the telegram worker most, then download and upload workers),
the supervisor is SIGKILLed and restarted a few times, and one bot's fake Bot API is told to fail
its next call of a method: a 429 with retry_after, a 5xx, a connection cut before the work, a
send cut after the work (a lost answer), or a file body cut short.
"""
import os
import signal
import threading
import time

from ...daemon import kill_and_restart
from ...report import REPORT

POLL_FAULTS = [("getUpdates", {"status": 429, "retry_after": 1}), ("getUpdates", {"cut": True}),
               ("getUpdates", {"status": 502}),
               ("getFile", {"status": 502}), ("getFile", {"status": 429, "retry_after": 1}), ("getFile", {"cut": True})]
SEND_FAULTS = [{"status": 429, "retry_after": 1}, {"status": 429, "retry_after": 3}, {"status": 500},
               {"cut": True}, {"cut_after": True}]


class Monkey(threading.Thread):
    def __init__(self, ferry, scenario, duration, rng, bots):
        super().__init__(daemon=True)
        self.ferry, self.scenario, self.duration, self.rng, self.bots = ferry, scenario, duration, rng, bots
        self.stop_event = threading.Event()
        self.lock = threading.Lock()  # held while the supervisor is down or being replaced
        self.counts = {"worker SIGKILLs": 0, "telegram worker SIGKILLs": 0, "supervisor SIGKILLs": 0,
                       "Bot API faults": 0, "lost send answers": 0}
        # Wall-clock times of the SIGKILLs that may have taken a send's answer with them (a
        # sending worker's or the supervisor's, whose workers die with it).
        self.sender_deaths = []

    def run(self):
        try:
            self.act()
        except Exception as error:  # noqa: BLE001 — reported, the run then fails
            REPORT.violate(self.scenario, "the chaos driver ran to the end", repr(error))

    def act(self):
        start = time.monotonic()
        end = start + self.duration
        restarts = [start + self.duration * f for f in (0.2, 0.5, 0.75)]
        restarts += [start + t for t in range(120, int(self.duration), 90)]  # a soak: every 90 s more
        restarts.sort()
        while time.monotonic() < end and not self.stop_event.is_set():
            if restarts and time.monotonic() >= restarts[0]:
                restarts.pop(0)
                self.restart()
            if self.stop_event.wait(self.rng.uniform(0.6, 1.6)):
                break
            self.kill_worker()
            self.fault()

    def kill_worker(self):
        workers = self.ferry.workers()
        if not workers:
            return
        weights = {"telegram": 4, "download": 4, "upload": 2}
        pids = [p for p in workers if workers[p][0] in weights]
        if not pids:
            return
        pid = self.rng.choices(pids, [weights[workers[p][0]] for p in pids])[0]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if workers[pid][0] in ("telegram", "upload"):
            self.sender_deaths.append(time.time())
        self.counts["worker SIGKILLs"] += 1
        if workers[pid][0] == "telegram":
            self.counts["telegram worker SIGKILLs"] += 1

    def fault(self):
        bot = self.rng.choice(self.bots)
        if bot.send_method and self.rng.random() < 0.5:
            method, kind = bot.send_method, self.rng.choice(SEND_FAULTS)
            if kind.get("cut_after"):
                self.counts["lost send answers"] += 1
        elif self.rng.random() < 0.25:
            method, kind = "file", {"cut_after_bytes": self.rng.randint(100, 50_000)}
        else:
            method, kind = self.rng.choice(POLL_FAULTS)
        bot.api.fault(method, **kind)
        self.counts["Bot API faults"] += 1

    def restart(self):
        with self.lock:
            self.counts["supervisor SIGKILLs"] += 1
            self.sender_deaths.append(time.time())
            kill_and_restart(self.scenario, self.ferry, lambda: self.stop_event.wait(self.rng.uniform(0.3, 1.5)))
