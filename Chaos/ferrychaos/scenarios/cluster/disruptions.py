"""The cluster scenario's damage, on a schedule across the run, with what each leaves to check.

At a fifth of the run node-b dies whole (SIGKILL of everything it runs) and stays dead; at 40 %
node-c's supervisor is SIGSTOPped for two leases, SIGCONTed, must fence itself, and is started
again (a new incarnation, as systemd would); at 65 %, while submissions still arrive, PostgreSQL
is stopped (fast) and started again on its port.
"""
import threading
import time

from ...report import REPORT, log

KILLED = "a whole node SIGKILLed leaves no process behind"
FENCED = ("a supervisor SIGSTOPped past its lease fences itself on SIGCONT: it says it lost its lease, "
          "exits 75 and its workers with it")


class Disruptions(threading.Thread):
    def __init__(self, scenario, nodes, postgres, store, duration, lease):
        super().__init__(daemon=True)
        self.scenario, self.nodes, self.postgres, self.store = scenario, nodes, postgres, store
        self.duration, self.lease = duration, lease
        self.kill = None  # (node, epoch ms of the kill, jobs it held and files whose uploads waited just before)
        self.fence = None  # (node, incarnation, ms of SIGSTOP, ms of SIGCONT, seconds to exit, status, jobs held)
        self.outage = None  # (ms PostgreSQL went down, ms it accepted connections again)

    def run(self):
        try:
            start = time.monotonic()
            self.at(start + self.duration * 0.20)
            self.kill_node(self.to_kill())
            self.at(start + self.duration * 0.40)
            self.stop_node(self.to_freeze())
            self.at(start + self.duration * 0.65)
            self.restart_postgres()
        except Exception as error:  # noqa: BLE001 — reported, the run then fails
            REPORT.violate(self.scenario, "the chaos driver ran to the end", repr(error))

    def to_kill(self):
        """The node SIGKILLed for good (node-b here; a scenario may choose by what a node does)."""
        return self.nodes[1]

    def to_freeze(self):
        """The node frozen past its lease, chosen once the kill is done."""
        return self.nodes[2]

    @staticmethod
    def at(moment):
        time.sleep(max(0.0, moment - time.monotonic()))

    def kill_node(self, node):
        # Up to 30 s more for a moment when it holds jobs and files whose uploads wait (both must be taken over).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (node.held_jobs(self.store) and node.waiting_files(self.store)):
            time.sleep(0.1)
        held, waiting = node.held_jobs(self.store), node.waiting_files(self.store)
        at, left = node.kill_whole()
        self.kill = (node, at, held, waiting)
        log(f"cluster: SIGKILLed all of {node.name} ({node.incarnations[-1]}), which held {len(held)} job(s) and "
            f"{len(waiting)} file(s) whose uploads wait")
        REPORT.check(self.scenario, KILLED, not left, f"{node.name}: {len(left)} worker(s) alive 10 s after the "
                     f"SIGKILL: {left}")

    def stop_node(self, node):
        # Up to 15 s more for a moment when its workers hold jobs: their reports are the late ones.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not node.held_jobs(self.store):
            time.sleep(0.2)
        held = node.held_jobs(self.store)
        incarnation = node.incarnations[-1]
        log(f"cluster: SIGSTOP {node.name}'s supervisor ({incarnation}, holding {len(held)} job(s)) "
            f"for {2 * self.lease} s")
        stopped, resumed, took, status, left = node.stop_past_lease(2 * self.lease)
        self.fence = (node, incarnation, stopped, resumed, took, status, held)
        said = "this node lost its lease" in node.ferry.log.read_text(errors="replace")
        log(f"cluster: {node.name} SIGCONTed; " + (f"exited {status} {took:.1f} s later" if took is not None
                                                   else "still running 60 s later"))
        REPORT.check(self.scenario, FENCED, status == 75 and said and not left,
                     f"{node.name}: exit status {status} (None: still running 60 s after SIGCONT), says it lost its "
                     f"lease: {said}, workers left: {left}; {node.ferry.log_tail(8)}")
        if took is None:
            node.ferry.stop(timeout=10)
        node.start(self.store)

    def restart_postgres(self):
        down = int(time.time() * 1000)
        self.postgres.stop()
        time.sleep(1)
        self.postgres.start()
        self.outage = (down, int(time.time() * 1000))
        log(f"cluster: PostgreSQL restarted (fast shutdown, down {(self.outage[1] - down) / 1000:.1f} s)")
