#!/usr/bin/env python3
"""Admin API benchmark: requests per second and latency of Ferry's health and metrics endpoints
under wrk on loopback while transfers run, next to Prometheus's own server on the same machine
in the same run (its /-/healthy and /metrics: a widely deployed Go HTTP server answering the
same kind of request).

Usage: admin_benchmark.py FERRY_BINARY [--transfers N] [--duration S] [--connections C]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = os.path.join(HERE, "..", "Sources", "FerryTesting", "Origin", "test_origin.py")


def start_origin(folder):
    port_file = os.path.join(folder, "origin-port")
    origin = subprocess.Popen([sys.executable, ORIGIN, port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while not os.path.exists(port_file) and time.time() < deadline:
        time.sleep(0.05)
    return origin, int(open(port_file).read())


def start_ferry(binary, folder, transfers):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
    processes = 2
    env.update({
        "FERRY_HTTP_PORT": "0", "FERRY_LOGGING_LEVEL": "notice",
        "FERRY_WORKERS_DOWNLOAD_PROCESSES": str(processes),
        "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": str((transfers + processes - 1) // processes),
        "FERRY_SUPERVISOR_METRICS_INTERVAL": "2s",
    })
    serve = subprocess.Popen([binary, "serve"], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found = {}

    def read():
        for raw in serve.stderr:
            match = re.search(r"url=(http://\S+).*admin API listening", raw.decode(errors="replace"))
            if match:
                found["url"] = match.group(1)
    threading.Thread(target=read, daemon=True).start()
    deadline = time.time() + 60
    while "url" not in found and time.time() < deadline:
        time.sleep(0.05)
    return serve, found["url"]


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def running(base):
    sync = json.load(urllib.request.urlopen(base + "/api/health/sync"))
    return sum(q["count"] for q in sync["queue"] if q["state"] == "running")


def wrk(url, duration, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for label in ("50%", "99%"):
        value, unit = re.search(label.replace("%", r"%") + r"\s+([\d.]+)(us|ms|s)", out).groups()
        latency[label] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, latency["50%"], latency["99%"], int(errors.group(1)) if errors else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(folder):
    port = free_port()
    config = os.path.join(folder, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={os.path.join(folder, 'tsdb')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/-/ready")
            break
        except OSError:
            time.sleep(0.2)
    return process, base


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ferry")
    parser.add_argument("--transfers", type=int, default=50)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="ferry-admin-bench-")
    origin, origin_port = start_origin(folder)
    serve, base = start_ferry(args.ferry, folder, args.transfers)
    prometheus = None
    try:
        # Transfers slow enough to outlast the whole run: 200 MB at 400 kB/s each.
        for i in range(args.transfers):
            post(base + "/api/downloads",
                 {"url": f"http://127.0.0.1:{origin_port}/file/200000000?rate=400000", "file_name": f"t{i}.bin"})
        deadline = time.time() + 30
        while running(base) < args.transfers and time.time() < deadline:
            time.sleep(0.2)
        before = running(base)
        time.sleep(3)  # a few metric samples and progress flushes
        rows = []
        for path in ("/api/health/system", "/metrics", "/healthz"):
            rows.append(("ferry " + path,) + wrk(base + path, args.duration, args.connections))
        after = running(base)
        sync = json.load(urllib.request.urlopen(base + "/api/health/sync"))
        states = ", ".join(f"{q['state']} {q['count']}" for q in sync["queue"])
        failures = {}
        for job in json.load(urllib.request.urlopen(base + "/api/downloads?limit=100"))["jobs"]:
            if job.get("last_error"):
                failures.setdefault(job["last_error"]["message"], 0)
                failures[job["last_error"]["message"]] += 1
        prometheus, prom = start_prometheus(folder)
        for path in ("/-/healthy", "/metrics"):
            rows.append(("prometheus " + path,) + wrk(prom + path, args.duration, args.connections))
        print(f"# {os.cpu_count()} cores; {args.connections} connections, 2 wrk threads, {args.duration} s per endpoint")
        print(f"# transfers running in Ferry: {before} before, {after} after the Ferry runs (target {args.transfers});"
              f" jobs: {states}; last errors: {failures or 'none'}")
        print(f"{'endpoint':<30} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for name, rate, p50, p99, errors in rows:
            print(f"{name:<30} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f} {errors:>8}")
    finally:
        for process in (serve, origin, prometheus):
            if process:
                process.send_signal(signal.SIGTERM)
        for process in (serve, origin, prometheus):
            if process:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
