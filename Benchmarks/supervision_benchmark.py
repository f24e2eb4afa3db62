#!/usr/bin/env python3
"""Supervision benchmark: Ferry's supervisor against supervisord, on this machine, in one run.

Measures, for each:
  - time from SIGKILL of a child to its replacement running (Ferry: the replacement's hello;
    supervisord: a new child process, and the RUNNING state supervisorctl reports);
  - for Ferry, time from the SIGKILL to the dead worker's job being back in the queue (the
    requeue event's timestamp in the store);
  - idle CPU of the supervisor (and of Ferry's idle workers) over a quiet window;
  - resident memory of the supervisor and of an idle worker.

Usage: supervision_benchmark.py FERRY_BINARY [--kills N] [--idle-seconds S]
"""
import argparse
import glob
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid):
    """Live children of pid, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid):
    """Resident memory of pid: RSS, PSS (shared pages divided among their users) and private
    (pages no other process maps), in MiB, from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return {
        "rss": fields.get("Rss", 0.0),
        "pss": fields.get("Pss", 0.0),
        "private": fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0),
    }


def median_memory(pids):
    samples = [memory_mib(p) for p in pids]
    return {key: statistics.median(s[key] for s in samples) for key in ("rss", "pss", "private")}


def describe_memory(m):
    return f"RSS {m['rss']:.1f} MiB, PSS {m['pss']:.1f} MiB, private {m['private']:.1f} MiB"


def idle_cpu_percent(pids, seconds):
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(seconds)
    after = sum(cpu_seconds(p) for p in pids)
    return 100 * (after - before) / seconds


def context_switches(pid):
    """Voluntary and involuntary context switches of every thread of a process so far: each
    wake-up of an idle daemon costs a few, so their rate shows how often it wakes."""
    total = 0
    for task in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(task) as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches:" in line)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def thread_switches(pid):
    """Context switches so far of each thread of a process, by thread id, with its name."""
    threads = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/comm") as f:
                name = f.read().strip()
            with open(f"{task}/status") as f:
                threads[task.rsplit("/", 1)[1]] = (name, sum(int(line.split()[1]) for line in f if "ctxt_switches:" in line))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return threads


def idle_figures(pid, seconds):
    """CPU (% of one core) and context switches per second of an idle process, with the
    switches per second of each thread that had any (name and rate), busiest first."""
    switches = context_switches(pid)
    threads = thread_switches(pid)
    cpu = idle_cpu_percent([pid], seconds)
    after = thread_switches(pid)
    per_thread = sorted(
        ((after[t][0], (after[t][1] - threads[t][1]) / seconds) for t in after if t in threads and after[t][1] > threads[t][1]),
        key=lambda entry: -entry[1])
    return cpu, (context_switches(pid) - switches) / seconds, per_thread


def wake_ups(pid, seconds, gap=0.05):
    """Wake-ups per second of an idle process: bursts of system calls (any thread) separated by
    at least `gap` seconds of silence, seen by strace -f; None without strace. One wake-up hops
    between threads (a timer fires on libdispatch's manager thread, a worker thread runs the
    task), which a loaded machine spreads over milliseconds: hence a gap of 50 ms."""
    try:
        trace = subprocess.run(
            ["timeout", "-s", "INT", str(seconds), "strace", "-f", "-ttt", "-p", str(pid), "-o", "/dev/stdout"],
            capture_output=True, text=True).stdout
    except FileNotFoundError:
        return None
    times = []
    for line in trace.splitlines():
        fields = line.split()
        if len(fields) > 2 and re.match(r"^\d+\.\d+$", fields[1]):
            times.append(float(fields[1]))
    times.sort()
    bursts = sum(1 for i, t in enumerate(times) if i == 0 or t - times[i - 1] >= gap)
    return bursts / seconds


def summary(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms, min {values[0]:.1f}, max {values[-1]:.1f} (n={len(values)})"


class LogWatch:
    """Reads Ferry's log lines from its stderr and records when each worker said hello."""

    def __init__(self, stream):
        self.ready = {}
        self.admin_url = None
        self.cond = threading.Condition()
        threading.Thread(target=self.read, args=(stream,), daemon=True).start()

    def read(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace")
            admin = re.search(r"url=(http://\S+).*admin API listening", line)
            if admin:
                self.admin_url = admin.group(1)
            if "worker ready" in line:
                match = re.search(r"pid=(\d+)", line)
                if match:
                    with self.cond:
                        self.ready[int(match.group(1))] = time.monotonic()
                        self.cond.notify_all()

    def wait_for_new(self, exclude, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                fresh = {p: t for p, t in self.ready.items() if p not in exclude}
                if fresh:
                    return min(fresh.items(), key=lambda item: item[1])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no replacement said hello")
                self.cond.wait(remaining)


def role_workers(supervisor, role):
    return [p for p in children(supervisor) if role.encode() in cmdline(p)]


def bench_ferry(binary, kills, idle_seconds, origin_port):
    folder = tempfile.mkdtemp(prefix="ferry-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
    # A worker that ran 1 s counts as stable, so each kill below is a first failure (restarted at
    # once), not a crash loop; the kills are spaced to let that happen.
    env.update({"FERRY_SUPERVISOR_RESTART_STABLE_AFTER": "1s", "FERRY_HTTP_PORT": "0", "FERRY_LOGGING_LEVEL": "info"})
    serve = subprocess.Popen([binary, "serve"], cwd=folder, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    logs = LogWatch(serve.stderr)
    database = os.path.join(folder, "ferry-state", "ferry.sqlite")
    try:
        deadline = time.monotonic() + 30
        while len(logs.ready) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # let start-up settle before measuring idle figures
        workers = children(serve.pid)
        idle, idle_switches, idle_threads = idle_figures(serve.pid, idle_seconds)
        idle_wake_ups = wake_ups(serve.pid, min(idle_seconds, 20))
        idle_workers = idle_cpu_percent(workers, idle_seconds) / max(1, len(workers))
        supervisor_rss = memory_mib(serve.pid)
        worker_rss = median_memory(workers)

        hello_ms, requeue_ms = [], []
        # Read-only: the supervisor is the only writer; the benchmark only watches.
        store = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        for i in range(kills):
            victim = role_workers(serve.pid, "download")[0]
            # A slow transfer, so the victim holds a job when it dies.
            url = f"http://127.0.0.1:{origin_port}/file/100000000?rate=200000"
            job = enqueue(logs, url)
            wait_running(store, job)
            victim = running_owner_pid(store, job, serve.pid) or victim
            killed_wall = time.time()
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            _, at = logs.wait_for_new(exclude=set(logs.ready) - {victim} | {victim})
            hello_ms.append((at - killed) * 1000)
            requeue_at = wait_requeue(store, job)
            requeue_ms.append(requeue_at - killed_wall * 1000)
            cancel(logs, job)
            time.sleep(1.5)
        return {
            "idle_cpu": idle,
            "idle_switches": idle_switches,
            "idle_threads": idle_threads,
            "idle_wake_ups": idle_wake_ups,
            "idle_worker_cpu": idle_workers,
            "rss": supervisor_rss,
            "worker_rss": worker_rss,
            "hello": hello_ms,
            "requeue": requeue_ms,
        }
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)


def api_post(base, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(base + path, data=data, method="POST", headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def enqueue(logs, url):
    """Enqueues a download through the admin API, as a user would."""
    return api_post(logs.admin_url, "/api/downloads", {"url": url})["id"]


def wait_running(store, job, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = store.execute("SELECT state, bytes_done FROM jobs WHERE id = ?", (job,)).fetchone()
        if row and row[0] == "running":
            return
        time.sleep(0.02)
    raise TimeoutError(f"job {job} never ran")


def running_owner_pid(store, job, supervisor):
    row = store.execute("SELECT w.pid FROM jobs j JOIN workers w ON w.id = j.owner WHERE j.id = ?", (job,)).fetchone()
    return row[0] if row else None


def wait_requeue(store, job, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = store.execute(
            "SELECT at FROM job_events WHERE job_id = ? AND cause = 'requeue' ORDER BY id LIMIT 1", (job,)).fetchone()
        if row:
            return row[0]
        time.sleep(0.01)
    raise TimeoutError(f"job {job} was not requeued")


def cancel(logs, job):
    """Stops the benchmark's job so the next round starts clean, through the admin API."""
    try:
        api_post(logs.admin_url, f"/api/jobs/{job}/cancel")
    except urllib.error.HTTPError as error:
        if error.code != 409:  # already finished or cancelled
            raise


def bench_supervisord(kills, idle_seconds):
    folder = tempfile.mkdtemp(prefix="supervisord-bench-")
    config = os.path.join(folder, "supervisord.conf")
    with open(config, "w") as f:
        f.write(f"""[supervisord]
nodaemon=true
logfile={folder}/supervisord.log
pidfile={folder}/supervisord.pid
[unix_http_server]
file={folder}/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{folder}/supervisor.sock
[program:worker]
command=/bin/sleep 1000000
autorestart=true
""")
    daemon = subprocess.Popen(["supervisord", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not children(daemon.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3)
        idle, idle_switches, _ = idle_figures(daemon.pid, idle_seconds)
        rss = memory_mib(daemon.pid)
        spawn_ms, running_ms = [], []
        for _ in range(kills):
            victim = children(daemon.pid)[0]
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            while True:
                fresh = [p for p in children(daemon.pid) if p != victim]
                if fresh:
                    spawn_ms.append((time.monotonic() - killed) * 1000)
                    break
                time.sleep(0.002)
            while True:
                status = subprocess.run(
                    ["supervisorctl", "-c", config, "status", "worker"], capture_output=True, text=True).stdout
                if "RUNNING" in status:
                    running_ms.append((time.monotonic() - killed) * 1000)
                    break
                time.sleep(0.01)
            time.sleep(0.3)
        return {"idle_cpu": idle, "idle_switches": idle_switches, "rss": rss, "spawn": spawn_ms, "running": running_ms}
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ferry")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()

    origin_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "FerryTesting",
                                 "Origin", "test_origin.py")
    port_file = tempfile.mktemp(prefix="ferry-bench-origin-")
    origin = subprocess.Popen([sys.executable, origin_script, port_file])
    try:
        while not os.path.exists(port_file):
            time.sleep(0.02)
        port = int(open(port_file).read())
        ferry = bench_ferry(args.ferry, args.kills, args.idle_seconds, port)
    finally:
        origin.kill()
    sup = bench_supervisord(args.kills, args.idle_seconds)

    print(f"ferry ({args.ferry}):")
    print(f"  kill -> replacement hello:   {summary(ferry['hello'])}")
    print(f"  kill -> job requeued:        {summary(ferry['requeue'])}")
    print(f"  supervisor idle CPU:         {ferry['idle_cpu']:.2f}% of one core over {args.idle_seconds:.0f} s")
    print(f"  supervisor idle wake-ups:    {ferry['idle_switches']:.1f} context switches/s (all threads)")
    for name, rate in ferry["idle_threads"]:
        print(f"    thread {name:<24} {rate:.2f} context switches/s")
    if ferry["idle_wake_ups"] is not None:
        print(f"  supervisor idle wake-ups:    {ferry['idle_wake_ups']:.2f}/s (bursts of system calls >= 50 ms apart, strace -f)")
    print(f"  idle worker CPU (each):      {ferry['idle_worker_cpu']:.2f}% of one core")
    print(f"  supervisor memory:           {describe_memory(ferry['rss'])}")
    print(f"  idle worker memory (median): {describe_memory(ferry['worker_rss'])}")
    version = subprocess.run(["supervisord", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"supervisord {version}:")
    print(f"  kill -> new child process:   {summary(sup['spawn'])}")
    print(f"  kill -> RUNNING (startsecs=1 default): {summary(sup['running'])}")
    print(f"  idle CPU:                    {sup['idle_cpu']:.2f}% of one core over {args.idle_seconds:.0f} s")
    print(f"  idle wake-ups:               {sup['idle_switches']:.1f} context switches/s (all threads)")
    print(f"  memory:                      {describe_memory(sup['rss'])}")


if __name__ == "__main__":
    main()
