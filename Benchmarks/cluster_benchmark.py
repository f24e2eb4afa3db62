"""Ferry nodes on one PostgreSQL, measured: how soon an idle node starts a job queued anywhere,
and how soon a dead node's jobs run elsewhere, beside the lease.

Usage: cluster_benchmark.py FERRY_BINARY POSTGRES_ADMIN_URL [--wakeups N] [--deaths N] [--leases 6,15]

POSTGRES_ADMIN_URL names a database this script may create others from (run-cluster-benchmark
starts a throwaway server and passes it). Every node is a real `ferry serve` (its own state
folder and port, its workers), fetching from an HTTP origin on loopback that this script serves.
Times come from the database's own records (jobs.created_at, started_at, job_events.at: epoch
milliseconds written by the nodes, all on this machine's clock) and, for a kill, from the moment
the script sent SIGKILL.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Origin(BaseHTTPRequestHandler):
    """GET /SIZE?rate=BYTES_PER_S: SIZE zero bytes, trickled at the rate (0: at once)."""

    def do_GET(self):
        path, _, query = self.path.partition("?")
        size = int(path.strip("/").split("/")[-1])
        rate = int(dict(p.split("=") for p in query.split("&") if "=" in p).get("rate", "0"))
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = 16384
        sent = 0
        try:
            while sent < size:
                n = min(chunk, size - sent)
                self.wfile.write(b"\0" * n)
                sent += n
                if rate:
                    time.sleep(n / rate)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, binary, url, name, lease, downloads, scratch):
        self.name = name
        self.port = free_port()
        self.state = os.path.join(scratch, name)
        env = dict(os.environ)
        env.update({
            "FERRY_DATABASE_URL": url, "FERRY_STATE_DIR": self.state, "FERRY_CLUSTER_NODE_NAME": name,
            "FERRY_CLUSTER_LEASE": lease, "FERRY_HTTP_PORT": str(self.port), "FERRY_LOGGING_LEVEL": "warning",
            "FERRY_WORKERS_DOWNLOAD_PROCESSES": "1" if downloads else "0",
            "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": str(max(1, downloads)),
        })
        env.pop("NOTIFY_SOCKET", None)
        self.log = open(os.path.join(scratch, name + ".log"), "w")
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=self.log)

    def api(self, method, path, body=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"{}")

    def wait_ready(self, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if self.process.poll() is not None:
                sys.exit(f"node {self.name} exited with {self.process.returncode}; see its log")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
                return
            except OSError:
                time.sleep(0.1)
        sys.exit(f"node {self.name} never became ready")

    def workers(self):
        """The node's worker pids (its children), from /proc."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    pids.append(int(entry))
        return pids

    def kill_whole(self):
        workers = self.workers()
        os.kill(self.process.pid, signal.SIGKILL)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill_whole()
        self.log.close()


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def fresh_database(admin_url, name):
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name + "?sslmode=disable"


def wait_until(condition, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wakeups(options, origin, scratch, remote):
    """Jobs queued one at a time through node A's API, each run by an idle node: node B (woken by
    LISTEN/NOTIFY) when `remote`, else node A itself (the API hands it to its own fleet)."""
    url = fresh_database(options.admin_url, "ferry_wakeups")
    a = Node(options.ferry, url, "a", "15s", 0 if remote else 1, scratch)
    a.wait_ready()
    b = Node(options.ferry, url, "b", "15s", 1 if remote else 0, scratch)
    b.wait_ready()
    try:
        time.sleep(2)  # both idle
        for i in range(options.wakeups):
            job = a.api("POST", "/api/downloads", {"url": f"{origin}/1000", "file_name": f"w{i}.bin"})
            wait_until(lambda: psql(url, f"SELECT state FROM jobs WHERE id = {job['id']}")[0][0] == "succeeded",
                       60, f"job {job['id']}")
            time.sleep(0.3)  # idle again: the next job meets a resting node
        # The owner is cleared on success: who ran it is in the event log.
        rows = psql(url, """
            SELECT j.started_at - j.created_at,
                (SELECT e.owner FROM job_events e WHERE e.job_id = j.id AND e.to_state = 'running' ORDER BY e.id LIMIT 1)
            FROM jobs j WHERE j.kind = 'download' ORDER BY j.id""")
    finally:
        a.stop()
        b.stop()
    delays = [int(r[0]) for r in rows]
    ran_on = {r[1].rsplit("@", 1)[-1] for r in rows}
    return delays, ran_on


def node_death(options, origin, scratch, lease):
    """Node B busy with four slow downloads (queued before node A starts), node A idle with room
    for them; B is SIGKILLed whole. Returns seconds from the kill to the first of
    B's jobs being put back, and to the last of them running on A."""
    url = fresh_database(options.admin_url, "ferry_death")
    b = Node(options.ferry, url, "b", lease, 4, scratch)
    b.wait_ready()
    a = None
    try:
        for i in range(4):
            b.api("POST", "/api/downloads", {"url": f"{origin}/4000000?rate=100000", "file_name": f"d{i}.bin"})
        held = lambda: [r[0] for r in psql(url, "SELECT id FROM jobs WHERE state = 'running' AND owner LIKE '%@b'")]
        wait_until(lambda: len(held()) >= 4, 60, "node b to hold its jobs")
        a = Node(options.ferry, url, "a", lease, 4, scratch)
        a.wait_ready()
        jobs = held()
        killed = int(time.time() * 1000)
        b.kill_whole()
        ids = ",".join(jobs)
        def rerun():
            return psql(url, f"SELECT count(*) FROM jobs WHERE id IN ({ids}) AND state = 'running' AND owner LIKE '%@a'")[0][0] == str(len(jobs))
        wait_until(rerun, 120, "b's jobs to run on a")
        requeued = psql(url, f"SELECT min(at) FROM job_events WHERE job_id IN ({ids}) AND to_state = 'queued' AND at >= {killed}")[0][0]
        restarted = psql(url, f"SELECT max(m) FROM (SELECT min(at) AS m FROM job_events WHERE job_id IN ({ids}) AND to_state = 'running' AND owner LIKE '%@a' AND at >= {killed} GROUP BY job_id) s")[0][0]
    finally:
        if a:
            a.stop()
        b.stop()
    return (int(requeued) - killed) / 1000, (int(restarted) - killed) / 1000, len(jobs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ferry")
    parser.add_argument("admin_url")
    parser.add_argument("--wakeups", type=int, default=100)
    parser.add_argument("--deaths", type=int, default=3)
    parser.add_argument("--leases", default="6,15")
    options = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    scratch = tempfile.mkdtemp(prefix="ferry-cluster-bench-")
    try:
        print("scenario\truns\tp50_ms\tp95_ms\tmax_ms\tran_on")
        for remote, label in ((True, "wake-up: queued on A, started by idle B (LISTEN/NOTIFY)"),
                              (False, "wake-up: queued on A, started by idle A (same node)")):
            delays, ran_on = wakeups(options, origin, scratch, remote)
            print(f"{label}\t{len(delays)}\t{statistics.median(delays):.0f}\t{percentile(delays, 95)}\t{max(delays)}\t{','.join(sorted(ran_on))}",
                  flush=True)
        print()
        print("lease_s\trenewal_s\truns\tjobs_held\tkill_to_requeue_s (median, max)\tkill_to_running_elsewhere_s (median, max)")
        for lease in options.leases.split(","):
            results = [node_death(options, origin, scratch, f"{lease}s") for _ in range(options.deaths)]
            requeue = [r[0] for r in results]
            running = [r[1] for r in results]
            print(f"{lease}\t{int(lease) / 3:.1f}\t{len(results)}\t{','.join(str(r[2]) for r in results)}\t"
                  f"{statistics.median(requeue):.1f}, {max(requeue):.1f}\t{statistics.median(running):.1f}, {max(running):.1f}",
                  flush=True)
    finally:
        server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
