"""The cluster scenario's nodes: three `ferry serve` on one PostgreSQL database, and what is done to them.

Each node has its own state folder, admin port and S3 recorder (a fault-free `S3FaultProxy` in
front of the one moto server, so every object write is known with its writer and time; node-b's
is slow, so that files wait there for their uploads when it dies). The damage:
a whole node SIGKILLed (its process group and every worker), a supervisor SIGSTOPped past its
lease and then SIGCONTed (it must fence itself: exit 75), and PostgreSQL restarted under them.
"""
import os
import signal
import subprocess
import time

from ...daemon import Ferry, base_config, free_port, run_ferry, survivors
from ...database import READ_ERRORS, PostgresStore, query
from ...origin import s3_target
from ...postgres import PostgresReadError
from ...processes import STRAYS
from ...report import REPORT, log
from ...s3proxy import S3FaultProxy

NAMES = ("node-a", "node-b", "node-c")
FENCED_STATUS = 75  # EX_TEMPFAIL: the node lost its lease and stopped itself
MIGRATED = "`ferry db migrate` creates the PostgreSQL schema"


def open_cluster(scratch, postgres, moto, database, prefix):
    """Starts PostgreSQL with a fresh `database` and makes the nodes' shared folder target and S3
    secret: (database URL, its store, folder, secret file, moto's port)."""
    postgres.start()
    url = postgres.create_database(database)
    folder = scratch / f"{prefix}-folder"
    folder.mkdir()
    secret = scratch / f"{prefix}-s3-secret"
    secret.write_text("testing")
    return url, PostgresStore(postgres, database), folder, secret, int(moto.endpoint.rsplit(":", 1)[1])


def lost_incarnations(nodes):
    """The node ids gone for good with their files (the last incarnation of each node SIGKILLed and
    not started again): a download they had delivered but not yet removed stays so."""
    return frozenset(n.incarnations[-1] for n in nodes if n.down)


def start_nodes(scenario, binary, nodes, store):
    """Migrates the database once with `ferry db migrate` and starts every node; False (reported) when
    the migration failed."""
    status, output = run_ferry(binary, ["db", "migrate", "--config", str(nodes[0].ferry.config)], timeout=300)
    REPORT.check(scenario, MIGRATED, status == 0, f"exit status {status}: {output[-1500:]}")
    if status != 0:
        return False
    for node in nodes:
        node.start(store)
    return True


def stop_cluster(scenario, nodes, postgres, database, tables):
    """Stops the nodes and their recorders, keeps `tables` as CSV in the scratch folder and removes the server."""
    for node in nodes:
        node.recorder.stop()
    for node in nodes:
        node.ferry.stop(timeout=20)
    try:
        postgres.dump(database, tables)
    except (PostgresReadError, OSError) as error:
        log(f"{scenario}: could not keep the database's tables in the scratch folder: {error}")
    postgres.remove()


def node_config(state, port, database_url, name, lease, endpoint, secret, folder, cleanup_runs, extra=""):
    """A node's configuration; `extra` is appended (more `targets:` entries, then other sections)."""
    workers = f"""workers:
  download:
    processes: 1
    concurrency: 6
  upload:
    processes: 1
    concurrency: 4
  store:
    processes: 1
    concurrency: 3
cleanup:
  sweep_interval: 5s
  pending_scan_interval: 5s
  pending_min_age: 2s
  run_interval: {cleanup_runs}
  settle_time: 10s
database:
  url: {database_url}
cluster:
  node_name: {name}
  lease: {lease}s
targets:
  folder:
    type: dir
    path: {folder}
"""
    return base_config(state, port, workers + s3_target("bucket", endpoint, secret) + extra)


class Node:
    """One `ferry serve` of the cluster: its daemon, state folder, S3 recorder and incarnations."""

    def __init__(self, binary, scratch, name, moto_port, database_url, lease, secret, folder, cleanup_runs,
                 write_delay=0.0, extra=""):
        self.name = name
        self.state = scratch / f"{name}-state"
        self.recorder = S3FaultProxy(moto_port, 0, rate=0, complete_rate=0, write_delay=write_delay)
        text = node_config(self.state, free_port(), database_url, name, lease, self.recorder.endpoint, secret,
                           folder, cleanup_runs, extra)
        self.ferry = Ferry(binary, scratch, text, name)
        self.incarnations = []  # node ids, oldest first
        self.down = False  # SIGKILLed for good, or stopped and not (yet) back

    def start(self, store):
        self.ferry.start()
        self.down = False
        self.incarnations.append(self.current_id(store))
        log(f"cluster: {self.name} is up as {self.incarnations[-1]} on :{self.ferry.port}")

    def current_id(self, store):
        """This incarnation's node id, from /api/cluster (or the nodes table, should the API not say)."""
        try:
            status, answer, _ = self.ferry.api.call("GET", "/api/cluster")
            if status == 200 and answer.get("this_node"):
                return answer["this_node"]
        except OSError:
            pass
        rows = query(store, "SELECT id FROM nodes WHERE name = ? AND stopped_at IS NULL ORDER BY started_at DESC",
                     (self.name,))
        return rows[0]["id"] if rows else None

    def kill_whole(self):
        """SIGKILLs the supervisor and every worker at once (its process group, then each pid):
        the machine is gone. Returns (epoch ms of the kill, the workers left alive 10 s later)."""
        workers = self.ferry.workers()
        for pid, (_, started) in workers.items():
            STRAYS.append((pid, started))
        at = int(time.time() * 1000)
        pid = self.ferry.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for worker in [pid, *workers]:
            try:
                os.kill(worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.ferry.process.wait()
        self.down = True
        return at, survivors(workers)

    def stop_past_lease(self, pause):
        """SIGSTOPs the supervisor alone (its workers run on) for `pause` seconds, then SIGCONTs it.
        Returns (epoch ms of the SIGSTOP, of the SIGCONT, seconds from SIGCONT to its exit or None,
        its exit status, workers left 10 s after its exit)."""
        workers = self.ferry.workers()
        for pid, (_, started) in workers.items():
            STRAYS.append((pid, started))
        process = self.ferry.process
        self.down = True
        stopped = int(time.time() * 1000)
        process.send_signal(signal.SIGSTOP)
        time.sleep(pause)
        resumed = int(time.time() * 1000)
        began = time.monotonic()
        process.send_signal(signal.SIGCONT)
        try:
            status = process.wait(timeout=60)
            took = time.monotonic() - began
        except subprocess.TimeoutExpired:
            status, took = None, None
        return stopped, resumed, took, status, survivors(workers) if took is not None else {}

    def waiting_files(self, store):
        """Succeeded downloads whose file is on this incarnation and whose uploads still wait for it."""
        try:
            return [r["id"] for r in query(
                store, "SELECT j.id FROM jobs j WHERE j.kind = 'download' AND j.state = 'succeeded' AND j.node = ? "
                "AND EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id WHERE u.download_id = j.id "
                "AND uj.state = 'queued')", (self.incarnations[-1],))]
        except READ_ERRORS:
            return []

    def held_jobs(self, store):
        """Ids of the jobs this incarnation's workers hold now (an empty list while the store is unreadable)."""
        try:
            return [r["id"] for r in query(
                store, "SELECT j.id FROM jobs j JOIN workers w ON w.id = j.owner WHERE w.node = ? "
                "AND j.state IN ('running', 'storing')", (self.incarnations[-1],))]
        except READ_ERRORS:
            return []
