#!/usr/bin/env python3
"""Ferry's chaos suite: the real `ferry serve` under fire, then every invariant checked.

    Chaos/chaos.py                          # every scenario, the short run (`make chaos`, CI)
    Chaos/chaos.py --scenario fire --duration 1800     # a soak (`make chaos-soak DURATION=1800`)
    Chaos/chaos.py --list                   # the scenarios
    Chaos/chaos.py --scenario fire --seed 7 --keep     # replay one run, keep its scratch folder
    Chaos/chaos.py --scenario fire --tamper            # check the checks: must fail, listing the damage

Scenarios (run in this order by `--scenario all`):
  fire          downloads (to a folder and to moto's S3 server) and video stores from a
                fault-injecting origin (cuts, 500s, 429 + Retry-After, trickles, content that
                changes between requests, no range support, weak validators, 404s) while workers
                are SIGKILLed every few seconds, the supervisor is SIGKILLed and restarted, a
                worker is SIGSTOPped until it is declared hung, and SIGHUP reloads a changed, then
                an invalid, configuration. Then it settles and checks the invariants.
  disk-full     the state folder on a small tmpfs fills up mid-transfer; space returns.
  readonly-db   the database's file system turns read-only under the running supervisor
                (an ext4 image with errors=remount-ro and an injected error); then it is repaired.
  bad-config    truncated and garbage configuration files.
  bad-database  a garbage and a truncated database file.
  bad-api       malformed API requests.

The disk scenarios need root (mounts); without it they are reported as skipped. Every process
started here (origin, moto, ferry) is killed on exit, and every mount is undone. The exit status
is 0 only when every invariant held; otherwise the violations are listed, each with its reason.

Environment: FERRY_BIN (default .build/debug/ferry), CHAOS_KEEP=1 keeps the scratch folder.
"""
import argparse
import atexit
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORIGIN_SCRIPT = REPO / "Sources/FerryTesting/Origin/test_origin.py"
LIFECYCLE_SOURCE = REPO / "Sources/FerryCore/Jobs/JobLifecycle.swift"
COMMAND_SOURCE = REPO / "Sources/FerryCore/Jobs/JobCommand.swift"
BUCKET = "chaos"
FINAL_PHASES = {"succeeded", "stored", "cleaned", "failed", "cancelled"}
RUNNING_STATES = {"running", "storing"}
WAITING_STATES = {"queued", "temporary"}


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Bookkeeping: violations by invariant, processes and mounts to undo on exit.


class Report:
    """Invariants in the order they were declared, each with its violations and a detail line."""

    def __init__(self):
        self.invariants = {}
        self.lock = threading.Lock()

    def declare(self, scenario, name):
        with self.lock:
            self.invariants.setdefault((scenario, name), {"violations": [], "detail": "", "skipped": None})

    def violate(self, scenario, name, message):
        self.declare(scenario, name)
        with self.lock:
            self.invariants[(scenario, name)]["violations"].append(message)
        log(f"VIOLATION [{scenario}] {name}: {message}")

    def detail(self, scenario, name, text):
        self.declare(scenario, name)
        self.invariants[(scenario, name)]["detail"] = text

    def skip(self, scenario, name, why):
        self.declare(scenario, name)
        self.invariants[(scenario, name)]["skipped"] = why

    def check(self, scenario, name, ok, message, detail=""):
        """Declares the invariant and records `message` as a violation unless `ok`."""
        self.declare(scenario, name)
        if not ok:
            self.violate(scenario, name, message)
        if detail:
            self.detail(scenario, name, detail)

    def failed(self):
        return [key for key, value in self.invariants.items() if value["violations"]]

    def print(self):
        print("\n================ chaos suite summary ================")
        scenario = None
        for (name_scenario, name), value in self.invariants.items():
            if name_scenario != scenario:
                scenario = name_scenario
                print(f"\n[{scenario}]")
            if value["skipped"]:
                print(f"  SKIP  {name} ({value['skipped']})")
            elif value["violations"]:
                print(f"  FAIL  {name}: {len(value['violations'])} violation(s)")
                for message in value["violations"][:25]:
                    print(f"          - {message}")
                if len(value["violations"]) > 25:
                    print(f"          … and {len(value['violations']) - 25} more")
            else:
                print(f"  ok    {name}" + (f" ({value['detail']})" if value["detail"] else ""))
        print()


REPORT = Report()
CHILDREN = []  # Popen objects, each the leader of its own process group
MOUNTS = []  # mount points to unmount on exit, innermost last
STRAYS = []  # (pid, start time) of worker processes to kill on exit if they are still ours


def spawn(arguments, log_path=None, env=None, **kwargs):
    """Starts a child in its own process group and remembers it so that exit kills it."""
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        arguments, stdout=output, stderr=output, stdin=subprocess.DEVNULL, start_new_session=True,
        env=env, **kwargs)
    CHILDREN.append(process)
    return process


def kill_everything():
    for process in CHILDREN:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    for pid, started in STRAYS:
        if process_start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for mount in reversed(MOUNTS):
        unmount(mount)
    MOUNTS.clear()


def unmount(path):
    for _ in range(20):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        if not os.path.ismount(path):
            return
        time.sleep(0.5)
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


atexit.register(kill_everything)
for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_signal, lambda number, frame: sys.exit(128 + number))


# ---------------------------------------------------------------------------------------------
# Processes, read from /proc.


def proc_stat(pid):
    """(state letter, parent pid, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def process_start_time(pid):
    stat = proc_stat(pid)
    return stat[2] if stat and stat[0] != "Z" else None


def alive(pid, started=None):
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z" and (started is None or stat[2] == started)


def worker_processes(supervisor_pid):
    """{pid: (role, start time)} of the live `ferry worker` children of the supervisor."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = proc_stat(int(entry))
        if not stat or stat[1] != supervisor_pid or stat[0] == "Z":
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"worker" in command and b"--role" in command:
            role = command[command.index(b"--role") + 1].decode()
            found[int(entry)] = (role, stat[2])
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# The origin's content, the lifecycles, the admin API.


def origin_content(size, seed=0):
    """What test_origin.py serves for /file/<size> on a request with this seed."""
    pattern = bytes(i % 251 for i in range(502))
    start = seed % 251
    return (pattern[start:start + 251] * (size // 251 + 1))[:size]


_hashes = {}


def origin_sha256(size, seed=0):
    if (size, seed) not in _hashes:
        _hashes[(size, seed)] = hashlib.sha256(origin_content(size, seed)).hexdigest()
    return _hashes[(size, seed)]


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_lifecycles():
    """{kind: (initial state, {(from, cause): to})}, read from FerryCore's lifecycle specification."""
    commands = {}
    for match in re.finditer(r'case (\w+)(?: = "(\w+)")?', COMMAND_SOURCE.read_text()):
        commands[match[1]] = match[2] or match[1]
    text = LIFECYCLE_SOURCE.read_text()
    starts = [(m.start(), m[1]) for m in re.finditer(r"static let (\w+)", text)]
    blocks = {}
    for index, (start, name) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        blocks[name] = text[start:end]

    def moves(block):
        return {(f, commands[c]): t for f, c, t in re.findall(
            r"\.init\(from: \.(\w+), command: \.(\w+), to: \.(\w+)\)", block)}

    shared = moves(blocks["transferMoves"])
    lifecycles = {}
    for kind in ("download", "upload", "video"):
        block = blocks[kind]
        table = moves(block)
        if "transferMoves" in block:
            table.update(shared)
        lifecycles[kind] = (re.search(r"initialState: \.(\w+)", block)[1], table)
    return lifecycles


class API:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, headers=None, timeout=15, raw=None):
        """(status, decoded JSON or text, headers); raises OSError when the server is unreachable."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            all_headers = {"Content-Type": "application/json"} if payload is not None else {}
            all_headers.update(headers or {})
            connection.request(method, path, body=payload, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            try:
                decoded = json.loads(data) if data else None
            except ValueError:
                decoded = data.decode(errors="replace")
            return response.status, decoded, dict(response.getheaders())
        except (http.client.HTTPException, socket.timeout) as error:
            raise ConnectionError(str(error)) from error
        finally:
            connection.close()

    def ready(self):
        try:
            return self.call("GET", "/readyz", timeout=3)[0] == 200
        except OSError:
            return False


# ---------------------------------------------------------------------------------------------
# The services: origin, moto, ferry.


class Origin:
    def __init__(self, scratch):
        port_file = scratch / f"origin-{time.monotonic_ns()}.port"  # one per origin: scenarios share the folder
        self.process = spawn([sys.executable, str(ORIGIN_SCRIPT), str(port_file)], scratch / "origin.log")
        if not wait_until(lambda: port_file.exists(), 15):
            raise SystemExit("chaos: the test origin did not start")
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, size, **faults):
        query = "&".join(f"{k}={v}" for k, v in faults.items())
        return f"{self.base}/file/{size}" + ("?" + query if query else "")

    def requests(self, key):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", f"/log/{key}")
        return json.loads(connection.getresponse().read())


class Moto:
    def __init__(self, scratch):
        import boto3  # noqa: PLC0415 — only the scenarios with S3 need it

        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = spawn(["moto_server", "-H", "127.0.0.1", "-p", str(port)], scratch / "moto.log")

        def accepts():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        if not wait_until(accepts, 30):
            raise SystemExit("chaos: moto_server did not start")
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")
        self.client.create_bucket(Bucket=BUCKET)

    def objects(self):
        """{key: (size, sha256 of the body, x-amz-meta-sha256)}, and the unfinished multipart uploads."""
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                got = self.client.get_object(Bucket=BUCKET, Key=item["Key"])
                body = got["Body"].read()
                found[item["Key"]] = (len(body), hashlib.sha256(body).hexdigest(),
                                      got.get("Metadata", {}).get("sha256"))
        uploads = self.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        return found, [(u["Key"], u["UploadId"]) for u in uploads]


class Ferry:
    """One `ferry serve` with its configuration file; started, killed and restarted at will."""

    def __init__(self, binary, scratch, config_text, name="serve"):
        self.binary = binary
        self.scratch = scratch
        self.config = scratch / f"{name}.yaml"
        self.config.write_text(config_text)
        self.log = scratch / f"{name}.log"
        self.port = int(re.search(r"port: (\d+)", config_text)[1])
        self.api = API(self.port)
        self.process = None
        self.starts = 0

    def start(self, wait=True, timeout=90):
        with open(self.log, "a") as handle:
            handle.write(f"\n===== chaos: start #{self.starts + 1} at {time.strftime('%H:%M:%S')} =====\n")
        self.process = spawn([str(self.binary), "serve", "--config", str(self.config)], self.log,
                             env=self.environment())
        self.starts += 1
        if wait and not wait_until(lambda: self.api.ready() or self.process.poll() is not None, timeout, 0.25):
            raise SystemExit(f"chaos: ferry serve was not ready within {timeout} s; log: {self.log}")
        if wait and self.process.poll() is not None:
            raise SystemExit(f"chaos: ferry serve exited with {self.process.returncode}; log: {self.log}")
        return self.process

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
        return env

    @property
    def pid(self):
        return self.process.pid if self.process and self.process.poll() is None else None

    def workers(self):
        return worker_processes(self.pid) if self.pid else {}

    def kill(self):
        """SIGKILLs the supervisor; returns its workers as they were just before."""
        workers = self.workers()
        for pid, (_, started) in workers.items():
            STRAYS.append((pid, started))
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return workers

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit status (SIGKILL after `timeout`, then None)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        workers = self.workers()
        for pid, (_, started) in workers.items():
            STRAYS.append((pid, started))
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def survivors(workers, timeout=10):
    """The workers (from `Ferry.kill`) still alive `timeout` seconds after their supervisor died."""
    wait_until(lambda: not any(alive(pid, started) for pid, (_, started) in workers.items()), timeout)
    return {pid: role for pid, (role, started) in workers.items() if alive(pid, started)}


def base_config(state_dir, port, extra="", spool_reserve="0"):
    return f"""state_dir: {state_dir}
supervisor:
  heartbeat_interval: 1s
  hang_timeout: 4s
  kill_grace: 500ms
  shutdown_grace: 10s
  stall_timeout: 20s
  metrics_interval: 2s
  restart:
    initial_delay: 50ms
    max_delay: 1s
    stable_after: 3s
    crash_loop_after: 1000
retry:
  download:
    max_attempts: 60
    initial_delay: 200ms
    max_delay: 2s
  upload:
    max_attempts: 60
    initial_delay: 200ms
    max_delay: 2s
  video:
    max_attempts: 60
    initial_delay: 200ms
    max_delay: 2s
  max_retry_after: 2s
downloads:
  idle_timeout: 10s
  spool_reserve: {spool_reserve}
  checksum_attempts: 3
http:
  address: 127.0.0.1
  port: {port}
{extra}"""


def open_database(path):
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    connection.row_factory = sqlite3.Row
    return connection


def all_final(database):
    """Whether every job of the database is in a final state (False while it cannot be read)."""
    try:
        rows = query(database, "SELECT state FROM jobs")
    except sqlite3.Error:
        return False
    return bool(rows) and all(r[0] in FINAL_PHASES for r in rows)


def query(path, sql, parameters=()):
    connection = open_database(path)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------
# Shared checks: the database's integrity and every job's event log.


def check_database(scenario, database, lifecycles):
    connection = open_database(database)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        REPORT.check(scenario, "PRAGMA integrity_check is ok", integrity == ["ok"], "; ".join(integrity[:10]))
        foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
        REPORT.check(scenario, "PRAGMA foreign_key_check is clean", not foreign,
                     f"{len(foreign)} rows break a foreign key, e.g. {[tuple(r) for r in foreign[:5]]}")
        check_event_logs(scenario, connection, lifecycles)
    finally:
        connection.close()


def check_event_logs(scenario, connection, lifecycles):
    name = "every job's event log is a legal path through its lifecycle (JobLifecycle.swift)"
    REPORT.declare(scenario, name)
    schema = {(r["kind"], r["from_state"], r["cause"]): r["to_state"]
              for r in connection.execute("SELECT * FROM job_transitions")}
    spec = {(kind, f, c): t for kind, (_, table) in lifecycles.items() for (f, c), t in table.items()}
    if schema != spec:
        REPORT.violate(scenario, name, f"the schema's job_transitions differ from the specification: "
                       f"only in schema {sorted(set(schema.items()) - set(spec.items()))}, "
                       f"only in spec {sorted(set(spec.items()) - set(schema.items()))}")
    jobs = {r["id"]: r for r in connection.execute("SELECT id, kind, state, attempt, max_attempts FROM jobs")}
    events = {}
    for row in connection.execute("SELECT * FROM job_events ORDER BY job_id, id"):
        events.setdefault(row["job_id"], []).append(row)
    count = 0
    for job_id, job in jobs.items():
        initial, table = lifecycles[job["kind"]]
        log_rows = events.get(job_id, [])
        count += len(log_rows)
        problem = None
        if not log_rows:
            problem = "no events at all"
        elif log_rows[0]["from_state"] is not None or log_rows[0]["cause"] != "create" \
                or log_rows[0]["to_state"] != initial:
            problem = f"starts with {log_rows[0]['from_state']} -{log_rows[0]['cause']}-> {log_rows[0]['to_state']}"
        else:
            state, at = initial, log_rows[0]["at"]
            for row in log_rows[1:]:
                move = (row["from_state"], row["cause"])
                if row["from_state"] != state:
                    problem = f"event {row['id']} leaves {row['from_state']} but the job was {state}"
                elif table.get(move) != row["to_state"]:
                    problem = f"event {row['id']}: {row['from_state']} -{row['cause']}-> {row['to_state']} is not a move"
                elif row["at"] < at:
                    problem = f"event {row['id']} is earlier than the one before it"
                elif row["cause"] == "claim" and not row["owner"]:
                    problem = f"event {row['id']}: a claim without an owner"
                if problem:
                    break
                state, at = row["to_state"], row["at"]
            if not problem and state != job["state"]:
                problem = f"the log ends in {state} but the job is {job['state']}"
        if not problem and job["attempt"] > job["max_attempts"]:
            problem = f"attempt {job['attempt']} > max_attempts {job['max_attempts']}"
        if problem:
            REPORT.violate(scenario, name, f"{job['kind']} job {job_id}: {problem}")
    orphan_events = set(events) - set(jobs)
    if orphan_events:
        REPORT.violate(scenario, name, f"events of jobs that do not exist: {sorted(orphan_events)[:10]}")
    REPORT.detail(scenario, name, f"{len(jobs)} jobs, {count} events")


# ---------------------------------------------------------------------------------------------
# Scenario: fire.


class Plan:
    """One submission: a download (with its targets) or a video, and what it is expected to become."""

    def __init__(self, kind, key, body, size, fault, expect, seeds_vary=False):
        self.kind, self.key, self.body, self.size, self.fault = kind, key, body, size, fault
        self.expect = expect  # "succeed", "fail" or "either"
        self.seeds_vary = seeds_vary  # the content changes with each request: any served version is fine
        self.job_id = None
        self.refused = None
        self.answers = []  # every job id the server answered with, in order
        self.cancelled = set()  # jobs whose cancel an operator got acknowledged: they must end cancelled


def make_plans(rng, count, origin, run_id):
    plans = []
    weights = {"none": 26, "cut": 16, "500": 10, "429": 10, "trickle": 10, "changing": 6,
               "changing-sha": 4, "no-ranges": 5, "weak": 5, "404": 2, "disposition": 6}
    faults = list(weights)
    for index in range(count):
        key = f"{run_id}-{index}"
        roll = rng.random()
        if roll < 0.70:
            size = rng.randint(4096, 300_000)
        elif roll < 0.90:
            size = rng.randint(300_000, 2_000_000)
        elif roll < 0.98:
            size = rng.randint(2_000_000, 5_000_000)
        else:
            size = rng.randint(6 << 20, 11 << 20)  # multipart to S3
        is_video = index % 5 == 4
        fault = rng.choices(faults, [weights[f] for f in faults])[0]
        if is_video and fault in ("changing", "changing-sha", "no-ranges", "weak", "404", "disposition"):
            fault = "none"
        if fault in ("changing", "changing-sha"):
            size = min(size, 1_000_000)
        options = {"key": key}
        expect, vary = "succeed", False
        if fault == "cut" or fault in ("no-ranges", "weak"):
            options["cut"] = rng.randint(1, size - 1)
        if fault == "no-ranges":
            options["ranges"] = 0
        if fault == "weak":
            options["weak"] = 1
        if fault == "500":
            options.update({"fail": 500, "failures": rng.randint(1, 3)})
        if fault == "429":
            options.update({"fail": 429, "failures": rng.randint(1, 2)})
        if fault == "trickle":
            options["rate"] = rng.randint(150_000, 500_000)
            size = rng.randint(600_000, 2_500_000)
        if fault in ("changing", "changing-sha"):
            options["changing"] = 1
            options["rate"] = 400_000  # slow enough that kills land mid-body now and then
            vary = fault == "changing"
            expect = "either" if fault == "changing-sha" else "succeed"
        if fault == "disposition":
            options["disposition"] = f"clip {index}.mp4"
        url = origin.url(size, **options)
        if fault == "404":
            url = f"{origin.base}/missing/{key}"
            expect = "fail"
        if is_video:
            body = {"user_id": f"user-{index % 7}", "external_request_id": key, "url": url,
                    "metadata": {"chaos": index}}
            plans.append(Plan("video", key, body, size, fault, expect))
            continue
        targets = rng.choice([[], ["folder"], ["bucket"], ["folder", "bucket"]])
        body = {"url": url}
        if fault != "disposition" and rng.random() < 0.8:
            body["file_name"] = f"file-{index}.bin"
        if not vary and fault != "404" and fault != "changing-sha" and rng.random() < 0.8:
            body["sha256"] = origin_sha256(size)
            body["size"] = size
        if fault == "changing-sha":
            body["sha256"] = origin_sha256(size)
        if targets:
            body["upload_targets"] = targets
            body["delete_after_upload"] = rng.random() < 0.4
        plans.append(Plan("download", key, body, size, fault, expect, vary))
    return plans


def submit(ferry, plan, stop_at):
    """Sends the request until the server answers it (the same key makes a repeat harmless)."""
    path = "/api/downloads" if plan.kind == "download" else "/api/videos"
    headers = {"Idempotency-Key": plan.key} if plan.kind == "download" else {}
    tries = 0
    while time.monotonic() < stop_at:
        tries += 1
        try:
            status, answer, _ = ferry.api.call("POST", path, plan.body, headers, timeout=20)
        except OSError:
            time.sleep(0.3)
            continue
        if status in (200, 201):
            # A repeat after the job failed or was cancelled makes a new one (that frees the key).
            plan.answers.append(answer["id"])
            plan.job_id = answer["id"]
            return tries
        if status in (502, 503, 504) or status >= 500:
            time.sleep(0.3)
            continue
        plan.refused = f"HTTP {status}: {answer}"
        return tries
    plan.refused = plan.refused or "never answered"
    return tries


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
        name = "no worker survives its supervisor's SIGKILL (checked in /proc)"
        with self.lock:
            workers = self.ferry.kill()
            self.counts["supervisor SIGKILLs"] += 1
            left = survivors(workers)
            REPORT.check(self.scenario, name, not left,
                         f"{len(left)} worker(s) outlived the supervisor 10 s after its SIGKILL: {left}",
                         f"{self.counts['supervisor SIGKILLs']} supervisor SIGKILLs")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.sleep(self.rng.uniform(0.5, 3.0))
            self.ferry.start()

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
        os.kill(pid, signal.SIGSTOP)
        self.hung_jobs[victim["id"]] = (int(time.time() * 1000), list(victim["jobs"]))
        STRAYS.append((pid, started))
        self.counts["hung workers"] += 1
        # hang_timeout 4s + kill_grace 0.5s, with room for a loaded machine.
        gone = wait_until(lambda: not alive(pid, started), 30)
        if not gone:
            REPORT.violate(self.scenario, name, f"worker {victim['id']} (pid {pid}) stopped 30 s ago is still there")
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
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


def settle(ferry, database, timeout):
    """Waits until nothing runs and nothing waiting is due, three looks in a row; False on timeout."""
    calm = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now_ms = int(time.time() * 1000)
        try:
            busy = query(database, "SELECT count(*) FROM jobs WHERE state IN ('running', 'storing') "
                         "OR (state IN ('queued', 'temporary') AND due_at <= ?)", (now_ms + 2500,))[0][0]
            undeleted = query(database, """SELECT count(*) FROM downloads d JOIN jobs j ON j.id = d.job_id
                WHERE d.delete_after_upload = 1 AND j.state = 'succeeded'
                AND EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = d.job_id)
                AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                                WHERE u.download_id = d.job_id AND uj.state <> 'cleaned')""")[0][0]
        except sqlite3.Error:
            busy, undeleted = 1, 0
        if ferry.process.poll() is not None:
            return False
        calm = calm + 1 if busy == 0 else 0
        if calm >= 3:
            return True
        time.sleep(1)
    return False


def scenario_fire(args, binary, scratch, lifecycles):
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
  bucket:
    type: s3
    endpoint: {moto.endpoint}
    bucket: {BUCKET}
    access_key_id: testing
    secret_key_file: {secret}
    multipart_threshold: 5MiB
    part_size: 5MiB
"""
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

    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkey.join()
    log(f"fire: submissions done, chaos over after {time.monotonic() - started:.0f} s: {monkey.counts}")
    if ferry.process.poll() is not None:
        REPORT.violate(scenario, "the supervisor only died when it was killed",
                       f"exited by itself with {ferry.process.returncode}: {ferry.log_tail()}")
        ferry.start()
    REPORT.declare(scenario, "the supervisor only died when it was killed")

    settled = settle(ferry, database, args.settle_timeout)
    watch.stop_event.set()
    watch.join()
    log(f"fire: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(scenario, "the run settles: nothing running, nothing due", settled,
                 f"still busy {args.settle_timeout} s after the chaos ended")
    if ferry.process.poll() is not None:
        REPORT.violate(scenario, "the supervisor only died when it was killed",
                       f"exited by itself with {ferry.process.returncode}: {ferry.log_tail()}")
        ferry.start()

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
    workers = ferry.workers()
    status = ferry.stop()
    REPORT.check(scenario, "SIGTERM stops the supervisor cleanly (exit 0) and its workers with it",
                 status == 0, f"exit status {status}; {ferry.log_tail(8)}")
    left = survivors(workers)
    REPORT.check(scenario, "SIGTERM stops the supervisor cleanly (exit 0) and its workers with it", not left,
                 f"workers left after the stop: {left}")
    REPORT.check(scenario, "no worker survives its supervisor's SIGKILL (checked in /proc)",
                 monkey.counts["supervisor SIGKILLs"] >= 3,
                 f"only {monkey.counts['supervisor SIGKILLs']} supervisor SIGKILLs happened")

    if args.tamper:
        tamper(database, state, folder, moto)
    check_fire_results(scenario, plans, database, state, folder, moto, origin, monkey)
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


def tamper(database, state, folder, moto):
    """The suite's own check (--tamper): damage one thing per invariant, so that each must fail."""
    log("fire: TAMPERING on purpose: every check below should find what was done")
    copy = next(Path(root) / name for root, _, names in os.walk(folder) for name in names)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    (copy.parent / f".{copy.name}.ferry-1-1.part").write_bytes(b"partial")
    kept = [r[0] for r in query(database, "SELECT result_location FROM jobs WHERE kind = 'download' "
                                "AND state = 'succeeded' ORDER BY id")]
    victim = next(location for location in kept if os.path.exists(location))
    os.unlink(victim)
    (state / "downloads" / "999999").mkdir()
    (state / "downloads" / "999999" / "orphan.bin").write_bytes(b"nobody's")
    key = next(iter(moto.objects()[0]))
    moto.client.delete_object(Bucket=BUCKET, Key=key)
    connection = sqlite3.connect(database)
    job = connection.execute("SELECT id FROM jobs WHERE state = 'succeeded' LIMIT 1").fetchone()[0]
    connection.execute("INSERT INTO job_events (job_id, at, from_state, to_state, cause, attempt) "
                       "VALUES (?, ?, 'succeeded', 'running', 'claim', 1)", (job, int(time.time() * 1000)))
    connection.commit()
    connection.close()
    log(f"fire: tampered with {copy}, removed {victim} and bucket object {key}, added an orphan, "
        f"a temporary file and an illegal event for job {job}")


def check_fire_results(scenario, plans, database, state, folder, moto, origin, monkey):
    connection = open_database(database)
    jobs = {r["id"]: r for r in connection.execute("SELECT * FROM jobs")}
    downloads = {r["job_id"]: r for r in connection.execute("SELECT * FROM downloads")}
    uploads = {r["job_id"]: r for r in connection.execute("SELECT * FROM uploads")}
    videos = {r["job_id"]: r for r in connection.execute("SELECT * FROM videos")}
    events = {}
    for row in connection.execute("SELECT job_id, cause, owner, at FROM job_events"):
        events.setdefault(row["job_id"], []).append((row["cause"], row["owner"], row["at"]))
    connection.close()
    now_ms = int(time.time() * 1000)

    # 1. Nothing lost, nothing made up.
    lost = "every submission was accepted and is in the database exactly once, with its input"
    REPORT.declare(scenario, lost)
    by_key = {}
    for job in jobs.values():
        if job["kind"] == "download":
            by_key.setdefault(job["idempotency_key"], []).append(job["id"])
    by_video = {}
    for video in videos.values():
        by_video.setdefault((video["user_id"], video["external_request_id"]), []).append(video["job_id"])
    expected_ids = set()
    for plan in plans:
        if plan.refused:
            REPORT.violate(scenario, lost, f"{plan.kind} {plan.key}: {plan.refused}")
            continue
        if plan.kind == "download":
            found = sorted(by_key.get(plan.key, []))
            row = downloads.get(plan.job_id)
            if found != sorted(set(plan.answers)) or row is None:
                REPORT.violate(scenario, lost, f"download {plan.key}: answered jobs {plan.answers}, database has {found}")
                continue
            # A key is free for a new job only once the job before it failed or was cancelled.
            for earlier in found[:-1]:
                if jobs[earlier]["state"] not in ("failed", "cancelled"):
                    REPORT.violate(scenario, lost, f"download {plan.key}: job {earlier} is {jobs[earlier]['state']}, "
                                   f"yet the same key made job {found[-1]}")
            expected_ids.update(found)
            wanted = (plan.body["url"], plan.body.get("file_name"), plan.body.get("sha256"), plan.body.get("size"),
                      sorted(plan.body.get("upload_targets", [])), int(plan.body.get("delete_after_upload", False)))
            have = (row["url"], row["file_name"], row["expected_sha256"], row["expected_size"],
                    sorted(json.loads(row["upload_targets"])), row["delete_after_upload"])
            if wanted != have:
                REPORT.violate(scenario, lost, f"download {plan.job_id}: input {have} differs from the request {wanted}")
        else:
            found = by_video.get((plan.body["user_id"], plan.key), [])
            if found != [plan.job_id] or videos[plan.job_id]["source_url"] != plan.body["url"]:
                REPORT.violate(scenario, lost, f"video {plan.key}: answered job {plan.job_id}, database has {found}")
                continue
        expected_ids.add(plan.job_id)
    extra = [j for j in jobs.values() if j["kind"] != "upload" and j["id"] not in expected_ids]
    if extra:
        REPORT.violate(scenario, lost, f"{len(extra)} download/video jobs nobody submitted: {[j['id'] for j in extra[:10]]}")
    REPORT.detail(scenario, lost, f"{len(plans)} submissions: "
                  f"{sum(p.kind == 'download' for p in plans)} downloads, {sum(p.kind == 'video' for p in plans)} videos")

    # 2. Final or legitimately queued; expected outcomes.
    final = "every job is final or legitimately queued (waiting out a retry delay)"
    REPORT.declare(scenario, final)
    for job in jobs.values():
        if job["state"] in FINAL_PHASES:
            continue
        if job["state"] in WAITING_STATES and job["due_at"] > now_ms - 5000:
            continue
        REPORT.violate(scenario, final, f"{job['kind']} job {job['id']} is {job['state']} "
                       f"(due {(job['due_at'] - now_ms) / 1000:.0f} s from now, cause {job['state_cause']})")
    outcome = ("every job ends as its faults and operators allow (clean sources succeed, 404s fail for good, "
               "acknowledged cancels stick, paused and resumed jobs finish)")
    REPORT.declare(scenario, outcome)
    for plan in plans:
        job = jobs.get(plan.job_id)
        if job is None or job["state"] not in FINAL_PHASES:
            continue
        good = job["state"] in ("succeeded", "stored")
        for cancelled in plan.cancelled:
            if jobs[cancelled]["state"] != "cancelled":
                REPORT.violate(scenario, outcome, f"download {cancelled}: its cancel was acknowledged, yet it "
                               f"ended {jobs[cancelled]['state']}")
        if plan.job_id in plan.cancelled:
            continue
        if plan.expect == "succeed" and not good:
            REPORT.violate(scenario, outcome, f"{plan.kind} {plan.job_id} ({plan.fault}) ended {job['state']}: "
                           f"{job['last_error_code']}: {job['last_error']} (attempt {job['attempt']})")
        if plan.expect == "fail" and (good or job["last_error_class"] != "permanent" or job["attempt"] > 2):
            REPORT.violate(scenario, outcome, f"{plan.kind} {plan.job_id} from a 404 ended {job['state']} "
                           f"after {job['attempt']} attempts ({job['last_error_class']} {job['last_error_code']})")
    for upload in uploads.values():
        job = jobs[upload["job_id"]]
        if job["state"] not in ("succeeded", "cleaned") and job["state"] in FINAL_PHASES:
            REPORT.violate(scenario, outcome, f"upload {job['id']} of download {upload['download_id']} to "
                           f"{upload['target']} ended {job['state']}: {job['last_error_code']}: {job['last_error']}")

    # 3. The hung worker's jobs went back to the queue.
    hung = "a SIGSTOPped worker is declared hung, killed and replaced, its jobs requeued"
    # (A job may have finished just as the worker was stopped: its outcome was already on the way.)
    for worker, (stopped_ms, held) in monkey.hung_jobs.items():
        for job_id in held:
            own = [(cause, at) for cause, owner, at in events.get(job_id, []) if owner == worker and cause != "claim"]
            if not any(cause == "requeue" for cause, _ in own) and any(at > stopped_ms + 1000 for _, at in own):
                REPORT.violate(scenario, hung, f"job {job_id} held by the stopped worker {worker} has no requeue "
                               f"event from it, but {own} after it was stopped at {stopped_ms}")

    # 4. Local files: every record's file exists and matches; nothing else at a final path.
    files = "every record's file exists and matches; no partial or unknown file at a final path"
    REPORT.declare(scenario, files)
    recorded = set()
    uploads_of = {}
    for upload in uploads.values():
        uploads_of.setdefault(upload["download_id"], []).append(jobs[upload["job_id"]])
    plan_of = {p.job_id: p for p in plans if p.job_id}
    acceptable = {}
    for plan in plans:
        if plan.job_id is None or plan.fault == "404":
            continue
        if plan.seeds_vary:
            served = len(origin.requests(plan.key))
            acceptable[plan.job_id] = {origin_sha256(plan.size, seed) for seed in range(max(served, 1))}
        else:
            acceptable[plan.job_id] = {origin_sha256(plan.size)}
    delivered_and_removed = set()
    for job in jobs.values():
        if job["kind"] == "upload" or job["state"] not in ("succeeded", "stored"):
            continue
        location = job["result_location"]
        recorded.add(location)
        if job["result_sha256"] not in acceptable.get(job["id"], set()):
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: recorded SHA-256 {job['result_sha256']} is "
                           f"not what the origin served ({plan_of.get(job['id']) and plan_of[job['id']].fault})")
        download = downloads.get(job["id"])
        ups = uploads_of.get(job["id"], [])
        removed = download is not None and download["delete_after_upload"] == 1 and ups \
            and all(u["state"] == "cleaned" for u in ups)
        if download is not None and download["delete_after_upload"] == 1 and ups \
                and all(u["state"] in ("succeeded", "cleaned") for u in ups) and not removed:
            REPORT.violate(scenario, files, f"download {job['id']}: every upload succeeded but they are not all "
                           f"cleaned: {[u['state'] for u in ups]}")
        if removed:
            delivered_and_removed.add(job["id"])
            if os.path.exists(location):
                REPORT.violate(scenario, files, f"download {job['id']}: delivered with delete_after_upload and its "
                               f"uploads cleaned, but {location} is still there")
            continue
        if not os.path.isfile(location):
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: {location} is missing")
            continue
        size, sha = os.path.getsize(location), file_sha256(location)
        if size != job["result_size"] or sha != job["result_sha256"]:
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: {location} is {size} bytes {sha[:12]}…, "
                           f"the record says {job['result_size']} {job['result_sha256'][:12]}…")
    for folder_name in ("downloads", "videos"):
        for root, _, names in os.walk(state / folder_name):
            for name in names:
                path = os.path.join(root, name)
                if path not in recorded:
                    REPORT.violate(scenario, files, f"{path} ({os.path.getsize(path)} bytes) is at a final path "
                                   f"with no finished record pointing at it")
    quarantined = [os.path.join(r, n) for r, _, ns in os.walk(state / "quarantine") for n in ns]
    if quarantined:
        REPORT.violate(scenario, files, f"cleanup quarantined {len(quarantined)} file(s), i.e. found files no record "
                       f"knew: {quarantined[:5]}")
    spool = [n for n in os.listdir(state / "spool")] if (state / "spool").exists() else []
    REPORT.detail(scenario, files, f"{len(recorded)} files checked by SHA-256, {len(delivered_and_removed)} "
                  f"delivered and removed, {len(spool)} partial file(s) left in the spool")

    # 5. Targets: each expected object exactly once, byte-identical to the source; nothing else.
    targets = "every target holds each expected object exactly once, byte-identical (SHA-256) to the source"
    REPORT.declare(scenario, targets)
    expected = {}  # (target, download id) -> (name, sha)
    for upload in uploads.values():
        job, download = jobs[upload["job_id"]], jobs[upload["download_id"]]
        if job["state"] in ("succeeded", "cleaned"):
            expected[(upload["target"], upload["download_id"])] = (
                os.path.basename(download["result_location"]), download["result_sha256"])
    for job_id, download in downloads.items():
        job = jobs[job_id]
        wanted = sorted(json.loads(download["upload_targets"]))
        have = sorted(u["target"] for u in uploads.values() if u["download_id"] == job_id)
        if job["state"] == "succeeded" and wanted != have:
            REPORT.violate(scenario, targets, f"download {job_id} succeeded with targets {wanted} but has uploads {have}")
        if job["state"] != "succeeded" and have:
            REPORT.violate(scenario, targets, f"download {job_id} is {job['state']} but has uploads {have}")
    found = {}
    litter = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(folder)
            if name.startswith("."):
                litter.append(str(relative))
                continue
            if len(relative.parts) != 2 or not relative.parts[0].isdigit():
                REPORT.violate(scenario, targets, f"folder target: unexpected file {relative}")
                continue
            found.setdefault(("folder", int(relative.parts[0])), []).append((name, file_sha256(path)))
    objects, unfinished = moto.objects()
    for key, (size, sha, meta) in objects.items():
        parts = key.split("/", 1)
        if len(parts) != 2 or not parts[0].isdigit():
            REPORT.violate(scenario, targets, f"bucket: unexpected object {key}")
            continue
        if meta is not None and meta != sha:
            REPORT.violate(scenario, targets, f"bucket: {key} has x-amz-meta-sha256 {meta} but its body hashes to {sha}")
        found.setdefault(("bucket", int(parts[0])), []).append((parts[1], sha))
    for place, copies in found.items():
        want = expected.get(place)
        if want is None:
            REPORT.violate(scenario, targets, f"{place[0]} holds {copies} for download {place[1]}, "
                           f"which has no delivered upload there")
        elif copies != [want]:
            REPORT.violate(scenario, targets, f"{place[0]}, download {place[1]}: holds {copies}, expected {[want]}")
        elif want[1] not in acceptable.get(place[1], set()):
            REPORT.violate(scenario, targets, f"{place[0]}, download {place[1]}: content is not what the origin served")
    for place in expected:
        if place not in found:
            REPORT.violate(scenario, targets, f"{place[0]} lacks the object of download {place[1]} "
                           f"although its upload succeeded")
    if litter:
        REPORT.violate(scenario, targets, f"folder target: {len(litter)} temporary file(s) left behind: {litter[:5]}")
    if unfinished:
        REPORT.violate(scenario, targets, f"bucket: {len(unfinished)} unfinished multipart upload(s) left: "
                       f"{unfinished[:5]}")
    REPORT.detail(scenario, targets, f"{sum(1 for p in expected if p[0] == 'folder')} objects in the folder, "
                  f"{sum(1 for p in expected if p[0] == 'bucket')} in the bucket")


# ---------------------------------------------------------------------------------------------
# Scenario: disk-full.


def scenario_disk_full(args, binary, scratch, lifecycles):
    if os.geteuid() != 0:
        REPORT.skip("disk-full", "a full disk fails transfers with a clear retryable error", "needs root to mount a tmpfs")
        return
    # The spool and downloads fill up while the database lives elsewhere; then everything, the
    # database included, sits on the disk that fills up (the default layout).
    disk_full_case(binary, scratch, lifecycles, "disk-full (spool)", database_on_disk=False)
    disk_full_case(binary, scratch, lifecycles, "disk-full (all)", database_on_disk=True)


def disk_full_case(binary, scratch, lifecycles, scenario, database_on_disk):
    name = "a full disk fails transfers with a clear retryable error, fails no job, corrupts nothing"
    resumed = "work resumes when space returns: every download completes, byte-identical, nothing stray"
    label = "all" if database_on_disk else "spool"
    mount = scratch / f"small-disk-{label}"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], check=True)
    MOUNTS.append(mount)
    ferry = None
    try:
        origin = Origin(scratch)
        state = mount / "state"
        database = state / "ferry.sqlite" if database_on_disk else scratch / f"disk-full-{label}.sqlite"
        port = free_port()
        extra = f"database:\n  path: {database}\nworkers:\n  download:\n    processes: 1\n    concurrency: 4\n"
        # A small reserve, as the default 1GiB is on a real disk: once a write hits the wall and
        # free space is below it, downloads wait without spending attempts.
        ferry = Ferry(binary, scratch, base_config(state, port, extra, spool_reserve="4MiB"), f"disk-full-{label}")
        ferry.start()
        size = 6 << 20
        ids = []
        for index in range(12):
            key = f"full-{label}-{index}"
            body = {"url": origin.url(size, key=key, rate=3_000_000), "file_name": f"big-{index}.bin",
                    "sha256": origin_sha256(size), "size": size}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
            REPORT.check(scenario, name, status == 201, f"submission {index} answered {status}: {answer}")
            if status == 201:
                ids.append(answer["id"])

        def space_events():
            try:
                return [r[0] for r in query(database, "SELECT DISTINCT reason FROM job_events WHERE cause = "
                                             "'schedule_retry' AND reason LIKE '%disk_full%'")]
            except sqlite3.Error:
                return []

        def health_fail():
            try:
                status, health, _ = ferry.api.call("GET", "/api/health/system", timeout=5)
            except OSError:
                return None
            failing = [c.get("output", "") for checks in health.get("checks", {}).values() for c in checks
                       if c["status"] == "fail"]
            return (status, failing) if status == 503 and failing else None

        def full():
            return os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize < (1 << 20)

        if database_on_disk:
            # Nothing can be recorded while the database's own disk is full: the health must say so.
            # The disk's own low-space check may fail first; the database's write probe follows on
            # its next turn, so wait for a failing check that names the database.
            last = {}

            def database_fail():
                answer = full() and health_fail()
                if answer:
                    last["checks"] = answer[1]
                return answer if answer and any("database" in text for text in answer[1]) else None

            seen = wait_until(database_fail, 90, 1)
            if not seen and last:
                seen = (503, last["checks"])
            REPORT.check(scenario, name, bool(seen), "within 90 s of filling the disk, /api/health/system did not "
                         "answer 503 with a failing check")
            if seen:
                REPORT.check(scenario, name, any("database" in text for text in seen[1]),
                             f"the failing checks do not name the database: {seen[1]}",
                             f"health 503 while full: {'; '.join(seen[1])[:160]}")
            time.sleep(5)  # let the workers run into the wall for a while
        else:
            reasons = wait_until(space_events, 90, 1)
            errors = query(database, "SELECT DISTINCT last_error FROM jobs WHERE last_error_code = 'disk_full'")
            REPORT.check(scenario, name, bool(reasons), "no retry for lack of space was recorded within 90 s of "
                         "filling a 40 MiB disk with 72 MiB of downloads",
                         f"{reasons[0] if reasons else '-'}: {errors[0][0] if errors else '-'}")
            time.sleep(10)  # the disk stays full a while: nothing may fail for good meanwhile
        try:
            failed = query(database, "SELECT id, last_error_code, last_error FROM jobs WHERE state = 'failed'")
        except sqlite3.Error as error:
            failed = [("database unreadable", str(error))]
        REPORT.check(scenario, name, not failed, f"jobs failed for good while the disk was full: "
                     f"{[tuple(r) for r in failed]}")
        REPORT.check(scenario, name, ferry.process.poll() is None,
                     f"the supervisor exited ({ferry.process.returncode}) on a full disk: {ferry.log_tail(5)}")
        # Space returns.
        subprocess.run(["mount", "-o", "remount,size=200m", str(mount)], check=True)
        log(f"{scenario}: space returned")
        if ferry.process.poll() is not None:
            ferry.start()

        done = wait_until(lambda: all_final(database), 150, 1)
        rows = query(database, "SELECT id, state, result_location, result_sha256, last_error FROM jobs")
        bad = [tuple(r) for r in rows if r["state"] != "succeeded"]
        REPORT.check(scenario, resumed, done and not bad, f"not all succeeded within 150 s of space returning: {bad}")
        for row in rows:
            if row["state"] == "succeeded" and file_sha256(row["result_location"]) != origin_sha256(size):
                REPORT.violate(scenario, resumed, f"job {row['id']}: {row['result_location']} does not match")
        REPORT.check(scenario, resumed, sorted(r["id"] for r in rows) == sorted(ids),
                     f"jobs {sorted(r['id'] for r in rows)} are not the submitted {sorted(ids)}")
        for root, _, names in os.walk(state / "downloads"):
            for file_name in names:
                path = os.path.join(root, file_name)
                if path not in {r["result_location"] for r in rows}:
                    REPORT.violate(scenario, resumed, f"{path} at a final path with no record")
        reasons = space_events()
        REPORT.check(scenario, resumed, bool(reasons), "no attempt's lack of space made it into the event log")
        REPORT.detail(scenario, resumed, f"{len(rows)} downloads of 6 MiB into 40 MiB; "
                      f"{len(query(database, 'SELECT 1 FROM job_events WHERE reason LIKE ?', ('%disk_full%',)))} "
                      f"retries for lack of space")
        status = ferry.stop()
        REPORT.check(scenario, resumed, status == 0, f"the supervisor's stop exited {status}")
        check_database(scenario, database, lifecycles)
    finally:
        if ferry and ferry.process and ferry.process.poll() is None:
            ferry.process.kill()
            ferry.process.wait()
        unmount(mount)
        MOUNTS.remove(mount)


# ---------------------------------------------------------------------------------------------
# Scenario: readonly-db.


def scenario_readonly_db(args, binary, scratch, lifecycles):
    scenario = "readonly-db"
    name = "the database's file system turning read-only gives a clear error and a fail health"
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4") or not Path("/sys/fs/ext4").exists():
        REPORT.skip(scenario, name, "needs root, mkfs.ext4 and loop devices")
        return
    image = scratch / "db.img"
    mount = scratch / "db-fs"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    result = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], capture_output=True)
    if result.returncode != 0:
        REPORT.skip(scenario, name, f"cannot mount a loop device: {result.stderr.decode().strip()}")
        return
    MOUNTS.append(mount)
    try:
        device = subprocess.run(["findmnt", "-no", "SOURCE", str(mount)], capture_output=True,
                                text=True).stdout.strip()
        origin = Origin(scratch)
        state = scratch / "ro-state"
        database = mount / "ferry.sqlite"
        port = free_port()
        config = base_config(state, port, f"database:\n  path: {database}\n")
        ferry = Ferry(binary, scratch, config, "readonly-db")
        ferry.start()
        accepted = []
        for index in range(20):
            size = 1_500_000
            body = {"url": origin.url(size, key=f"ro-{index}", rate=150_000 if index % 2 else 0),
                    "sha256": origin_sha256(size), "size": size}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": f"ro-{index}"})
            if status == 201:
                accepted.append(answer["id"])
        time.sleep(3)
        # The disk goes bad: ext4 aborts its journal and remounts itself read-only under the supervisor.
        Path(f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error").write_text("chaos: read-only\n")
        log(f"readonly-db: {device} turned read-only under the running supervisor")

        def failing():
            try:
                status, health, _ = ferry.api.call("GET", "/api/health/system", timeout=5)
            except OSError:
                return None
            if status == 503 and health.get("status") == "fail":
                return health
            return None

        health = wait_until(failing, 30, 1)
        reason = ""
        if health:
            reason = "; ".join(c.get("output", "") for checks in health["checks"].values() for c in checks
                               if c["status"] == "fail")
        exited = ferry.process.poll()
        REPORT.check(scenario, name, bool(health) or exited is not None,
                     "within 30 s the supervisor neither reported fail health nor exited",
                     f"health: {reason or '-'}" + (f"; exited {exited}" if exited is not None else ""))
        if health:
            REPORT.check(scenario, name, "database" in reason, f"the fail reason does not name the database: {reason}")
        # A submission now must get a clear error, not a false 201.
        if ferry.process.poll() is None:
            try:
                status, answer, _ = ferry.api.call("POST", "/api/downloads",
                                                   {"url": origin.url(1000, key="ro-late")},
                                                   {"Idempotency-Key": "ro-late"}, timeout=20)
                REPORT.check(scenario, name, status >= 500 and isinstance(answer, dict) and "error" in answer,
                             f"a submission to a read-only database answered {status}: {answer}",
                             f"health: {reason or '-'}; a submission gets {status} "
                             f"{answer.get('error', {}).get('code') if isinstance(answer, dict) else answer}")
            except OSError as error:
                REPORT.violate(scenario, name, f"a submission to a read-only database got no answer: {error}")
        # Let it run a while like systemd would: restarts must not spin or eat jobs.
        crash = "no crash loop that eats jobs while the database is read-only"
        restarts = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ferry.process.poll() is not None:
                restarts += 1
                code = ferry.process.returncode
                tail = ferry.log_tail(3)
                if restarts == 1:
                    REPORT.detail(scenario, crash, f"the supervisor exited {code}: {tail.splitlines()[-1:]}")
                time.sleep(2)  # systemd's RestartSec
                ferry.start(wait=False)
            time.sleep(0.5)
        log(f"readonly-db: {restarts} restart(s) while read-only")
        status = ferry.stop(timeout=40)
        REPORT.check(scenario, crash, status is not None, "the supervisor did not stop on SIGTERM within 40 s "
                     "while its database was read-only")
        # As systemd would: start it again while the disk is still bad. It must refuse at once, clearly.
        ferry.start(wait=False)
        try:
            code = ferry.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        tail = ferry.log_tail(40)
        refusal = [line for line in tail.splitlines() if "database" in line.lower() and "ferry:" in line][-1:]
        REPORT.check(scenario, crash, code not in (0, None) and refusal,
                     f"a start on the read-only database exited {code}: {tail[-300:]}",
                     f"a start while read-only exits {code}: {refusal[0][-140:] if refusal else '-'}")
        if ferry.process.poll() is None:
            ferry.stop(timeout=20)
        # Repair: unmount, fsck, mount again, start: every accepted job must still be there and finish.
        unmount(mount)
        MOUNTS.remove(mount)
        fsck = subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, text=True)
        subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], check=True)
        MOUNTS.append(mount)
        log(f"readonly-db: e2fsck exit {fsck.returncode}; after the repair: "
            f"{ {p.name: p.stat().st_size for p in mount.iterdir()} }, "
            f"{query(database, 'SELECT count(*) FROM jobs')[0][0]} jobs")
        ferry.start()

        wait_until(lambda: all_final(database), 120, 1)
        rows = query(database, "SELECT id, state, last_error_code, last_error FROM jobs")
        ids = {r["id"] for r in rows}
        REPORT.check(scenario, crash, set(accepted) <= ids,
                     f"accepted jobs lost: {sorted(set(accepted) - ids)}")
        bad = [tuple(r) for r in rows if r["state"] != "succeeded"]
        REPORT.check(scenario, crash, not bad, f"jobs that did not succeed after the repair: {bad}")
        REPORT.detail(scenario, crash, (REPORT.invariants[(scenario, crash)]["detail"] + "; " if
                                        REPORT.invariants[(scenario, crash)]["detail"] else "")
                      + f"{restarts} restart(s) while read-only; after fsck (exit {fsck.returncode}) "
                      f"all {len(accepted)} accepted jobs succeeded")
        stop_status = ferry.stop()
        REPORT.check(scenario, crash, stop_status == 0, f"the final stop exited {stop_status}")
        check_database(scenario, database, lifecycles)
    finally:
        for process in CHILDREN:
            if process.poll() is None and process.args[1:2] == ["serve"]:
                process.kill()
                process.wait()
        if mount in MOUNTS:
            unmount(mount)
            MOUNTS.remove(mount)


# ---------------------------------------------------------------------------------------------
# Scenarios: bad configuration, bad database, bad API input.


def run_ferry(binary, arguments, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
    try:
        result = subprocess.run([str(binary)] + arguments, capture_output=True, text=True, timeout=timeout, env=env,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "(timed out)"
    return result.returncode, (result.stderr + result.stdout).strip()


def scenario_bad_config(args, binary, scratch, lifecycles):
    scenario = "bad-config"
    name = "a truncated or garbage configuration stops `ferry serve` with exit 78 and names the file"
    state = scratch / "bad-config-state"
    good = base_config(state, free_port(), "targets:\n  folder:\n    type: dir\n    path: /tmp\n")
    rng = random.Random(args.seed)
    cases = {
        "truncated mid-key": good[:good.index("hang_timeout") + 6],
        "truncated mid-value": good[:good.index("initial_delay: 200ms") + 17],
        "truncated mid-list": good[: good.index("  port:")] + "  port: [80",
        "garbage bytes": bytes(rng.randrange(256) for _ in range(600)).decode("latin-1"),
        "not a mapping": "- just\n- a list\n",
        "tabs and braces": "supervisor:\n\thang_timeout: {{\n",
        "binary zeros": "\0" * 64,
    }
    for label, text in cases.items():
        path = scratch / f"bad-{label.replace(' ', '-')}.yaml"
        path.write_bytes(text.encode("latin-1"))
        status, output = run_ferry(binary, ["serve", "--config", str(path)])
        clear = status == 78 and str(path) in output and "Traceback" not in output and "Fatal error" not in output
        REPORT.check(scenario, name, clear, f"{label}: exit {status}, output: {output[:300]!r}")
        log(f"bad-config: {label}: exit {status}: {output.splitlines()[1 if len(output.splitlines()) > 1 else 0][:150]}")
        check_status, check_output = run_ferry(binary, ["config", "check", "--config", str(path)])
        REPORT.check(scenario, name, check_status == 78, f"{label}: `ferry config check` exit {check_status}: "
                     f"{check_output[:200]!r}")
    REPORT.check(scenario, name, not state.exists(), f"a refused configuration still created {state}",
                 f"{len(cases)} broken files, each refused with exit 78 naming the file; nothing created")


def scenario_bad_database(args, binary, scratch, lifecycles):
    scenario = "bad-database"
    name = "a garbage or truncated database file stops `ferry serve` with a clear error and is left untouched"
    rng = random.Random(args.seed)
    # A real database to truncate.
    good_state = scratch / "db-good"
    config = scratch / "db-good.yaml"
    config.write_text(base_config(good_state, free_port()))
    status, output = run_ferry(binary, ["db", "migrate", "--config", str(config)])
    REPORT.check(scenario, name, status == 0, f"`ferry db migrate` on a fresh folder exited {status}: {output[:200]}")
    real = (good_state / "ferry.sqlite").read_bytes() if (good_state / "ferry.sqlite").exists() else b""
    cases = {
        "garbage": bytes(rng.randrange(256) for _ in range(64 * 1024)),
        "truncated": real[: len(real) // 2],
        "header only": real[:100],
        "text file": b"this is not a database\n" * 100,
    }
    for label, content in cases.items():
        state = scratch / f"db-{label.replace(' ', '-')}"
        state.mkdir()
        database = state / "ferry.sqlite"
        database.write_bytes(content)
        path = scratch / f"db-{label.replace(' ', '-')}.yaml"
        path.write_text(base_config(state, free_port()))
        status, output = run_ferry(binary, ["serve", "--config", str(path)], timeout=60)
        clear = status in (65, 69) and "database" in output.lower() and "Fatal error" not in output
        REPORT.check(scenario, name, clear, f"{label}: exit {status}, output: {output[-300:]!r}")
        REPORT.check(scenario, name, database.read_bytes() == content, f"{label}: the database file was changed")
        leftovers = sorted(p.name for p in state.iterdir() if p.name not in ("ferry.sqlite",))
        status_code, status_output = run_ferry(binary, ["db", "status", "--config", str(path)])
        REPORT.check(scenario, name, status_code not in (0, None) and "Fatal error" not in status_output,
                     f"{label}: `ferry db status` exit {status_code}: {status_output[-200:]!r}")
        log(f"bad-database: {label}: serve exit {status}, db status exit {status_code}, left {leftovers}: "
            f"{output.splitlines()[-1] if output else ''}")
    REPORT.detail(scenario, name, f"{len(cases)} damaged files, each refused (exit 65/69), none changed")


def scenario_bad_api(args, binary, scratch, lifecycles):
    scenario = "bad-api"
    name = "malformed API input gets a 4xx with a JSON error code and message, and creates nothing"
    state = scratch / "api-state"
    port = free_port()
    ferry = Ferry(binary, scratch, base_config(state, port, "targets:\n  folder:\n    type: dir\n    path: /tmp\n"),
                  "bad-api")
    ferry.start()
    url = "http://127.0.0.1:9/file/10"
    cases = [
        ("POST", "/api/downloads", b"{", {}, 400),
        ("POST", "/api/downloads", b"", {}, 400),
        ("POST", "/api/downloads", b"[1,2]", {}, 400),
        ("POST", "/api/downloads", b"\xff\xfe\x00garbage", {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": 12}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"file_name": "x"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "ftp://example.com/x"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "not a url"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "file_name": "../etc/passwd"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "sha256": "xyz"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "size": -5}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "upload_targets": ["nowhere"]}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "upload_targets": "folder"}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "priority": 10 ** 30}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "max_attempts": 0}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url, "surprise": True}).encode(), {}, 400),
        ("POST", "/api/downloads", json.dumps({"url": url}).encode(), {"Idempotency-Key": "k" * 300}, 400),
        ("POST", "/api/downloads", json.dumps({"url": "http://x/" + "a" * 9000}).encode(), {}, 400),
        ("POST", "/api/downloads", b"{" + b'"url":"' + b"a" * 70_000 + b'"}', {}, 413),
        ("POST", "/api/videos", json.dumps({"user_id": "", "external_request_id": "r", "url": url}).encode(), {}, 400),
        ("POST", "/api/videos", json.dumps({"user_id": "u", "url": url}).encode(), {}, 400),
        ("POST", "/api/videos", b"null", {}, 400),
        ("GET", "/api/downloads/abc", None, {}, 400),
        ("GET", "/api/downloads/99999999999999999999999", None, {}, 400),
        ("GET", "/api/downloads/424242", None, {}, 404),
        ("GET", "/api/downloads?limit=-1", None, {}, 400),
        ("GET", "/api/downloads?state=bogus", None, {}, 400),
        ("GET", "/api/user/videos?user_id=u&orderBy=nonsense", None, {}, 400),
        ("POST", "/api/jobs/abc/cancel", b"", {}, 400),
        ("POST", "/api/jobs/424242/retry", b"", {}, 404),
        ("POST", "/api/workers/wizard/restart", b"", {}, 400),
        ("DELETE", "/api/downloads", None, {}, 405),
        ("GET", "/api/nothing/here", None, {}, 404),
    ]
    for method, path, body, headers, expected in cases:
        try:
            status, answer, _ = ferry.api.call(method, path, headers=headers, raw=body)
        except OSError as error:
            REPORT.violate(scenario, name, f"{method} {path}: no answer ({error})")
            continue
        shaped = isinstance(answer, dict) and isinstance(answer.get("error"), dict) \
            and answer["error"].get("code") and answer["error"].get("message")
        ok = 400 <= status < 500 and shaped and (status == expected or expected == 400 and status in (400, 404, 422))
        label = (body[:60] if body else b"").decode("latin-1")
        log(f"bad-api: {method} {path[:50]} {label[:40]!r} -> {status} "
            f"{answer.get('error', {}).get('code') if isinstance(answer, dict) else answer!r:.60}")
        REPORT.check(scenario, name, ok, f"{method} {path} {label!r}: expected {expected}, got {status} {answer!r:.200}")
    REPORT.check(scenario, name, ferry.api.ready() and ferry.process.poll() is None,
                 "the server is not ready after the malformed requests")
    jobs = query(state / "ferry.sqlite", "SELECT count(*) FROM jobs")[0][0]
    REPORT.check(scenario, name, jobs == 0, f"{jobs} job(s) were created by malformed requests",
                 f"{len(cases)} malformed requests, each refused with its code")
    status = ferry.stop()
    REPORT.check(scenario, name, status == 0, f"the stop exited {status}")


SCENARIOS = {
    "fire": scenario_fire,
    "disk-full": scenario_disk_full,
    "readonly-db": scenario_readonly_db,
    "bad-config": scenario_bad_config,
    "bad-database": scenario_bad_database,
    "bad-api": scenario_bad_api,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=["all"] + list(SCENARIOS),
                        help="scenario to run (repeatable; default all)")
    parser.add_argument("--duration", type=float, default=90, help="seconds of chaos in the fire scenario")
    parser.add_argument("--jobs", type=int, default=0, help="submissions in the fire scenario "
                        "(default max(520, 2 per second of duration))")
    parser.add_argument("--settle-timeout", type=float, default=240, help="seconds to wait for the run to settle")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed, to replay a run)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--cleanup-runs", default=None, help="cleanup.run_interval in the fire scenario "
                        "(default 20s)")
    parser.add_argument("--tamper", action="store_true", help="check the checks: damage a file, a target object "
                        "and an event log before checking, so that the run must fail")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    # Scheduled cleanup runs reconcile while everything else goes on (a delivered file removed
    # between a run's look at the records and at the files is no longer refetched).
    args.cleanup_runs = args.cleanup_runs or "20s"
    chosen = [s for s in SCENARIOS if not args.scenario or "all" in args.scenario or s in args.scenario]
    binary = Path(os.environ.get("FERRY_BIN", REPO / ".build/debug/ferry")).resolve()
    if not binary.exists():
        raise SystemExit(f"chaos: {binary} does not exist; run `swift build` or set FERRY_BIN")
    scratch = Path(tempfile.mkdtemp(prefix="ferry-chaos-"))
    lifecycles = load_lifecycles()
    log(f"scenarios {', '.join(chosen)}; seed {args.seed}; binary {binary}; scratch {scratch}")
    began = time.monotonic()
    for scenario in chosen:
        started = time.monotonic()
        log(f"=== {scenario} ===")
        try:
            SCENARIOS[scenario](args, binary, scratch, lifecycles)
        except SystemExit as error:
            REPORT.violate(scenario, "the scenario ran to the end", str(error))
        except Exception as error:  # noqa: BLE001 — any crash of the driver fails the run, with its trace
            import traceback  # noqa: PLC0415

            traceback.print_exc()
            REPORT.violate(scenario, "the scenario ran to the end", repr(error))
        finally:
            kill_everything()
        log(f"=== {scenario} done in {time.monotonic() - started:.0f} s ===")
    REPORT.print()
    failed = REPORT.failed()
    keep = args.keep or os.environ.get("CHAOS_KEEP") == "1" or failed
    print(f"seed {args.seed}; wall time {time.monotonic() - began:.0f} s; "
          + (f"scratch kept in {scratch}" if keep else "scratch removed"))
    if not keep:
        shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print(f"chaos: FAILED — {len(failed)} invariant(s) violated")
        return 1
    print("chaos: every invariant held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
