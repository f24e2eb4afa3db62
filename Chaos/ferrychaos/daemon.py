"""`ferry serve` under test: its configuration, start, SIGKILL, SIGTERM, log tail and admin API,
and the checks every scenario that kills it makes (it only dies when killed, no worker outlives
it, SIGTERM stops it cleanly) and its wait for a calm run.

The configuration is short-timed (1 s heartbeats, 4 s hang timeout, fast retries) so that a few
minutes of chaos exercise every recovery path; each daemon gets a free loopback port and runs
without the caller's FERRY_* variables or NOTIFY_SOCKET.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time

from .database import READ_ERRORS
from .processes import STRAYS, alive, spawn, wait_until, worker_processes
from .report import REPORT


_handed_out = set()


def free_port():
    """A free loopback port, never one handed out before in this run: the kernel may offer a
    released port again before its first taker has bound it (two cluster nodes got one port)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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


class Ferry:
    """One `ferry serve` with its configuration file; started, killed and restarted at will."""

    def __init__(self, binary, scratch, config_text, name="serve", env=None):
        self.binary = binary
        self.extra_env = env or {}
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
        env.update(self.extra_env)
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


def run_ferry(binary, arguments, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
    try:
        result = subprocess.run([str(binary)] + arguments, capture_output=True, text=True, timeout=timeout, env=env,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "(timed out)"
    return result.returncode, (result.stderr + result.stdout).strip()


def wait_calm(ferry, busy, timeout):
    """Waits until `busy()` (which may raise a store's read error: busy, restarting) is falsy three
    looks a second apart in a row; False on timeout or when the supervisor is gone."""
    calm = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            quiet = not busy()
        except READ_ERRORS:
            quiet = False
        if ferry.process.poll() is not None:
            return False
        calm = calm + 1 if quiet else 0
        if calm >= 3:
            return True
        time.sleep(1)
    return False


def check_alive(scenario, ferry):
    """The supervisor only dies when it is killed; one that died by itself is reported and restarted."""
    name = "the supervisor only died when it was killed"
    REPORT.declare(scenario, name)
    if ferry.process.poll() is not None:
        REPORT.violate(scenario, name, f"exited by itself with {ferry.process.returncode}: {ferry.log_tail()}")
        ferry.start()


def kill_and_restart(scenario, ferry, pause):
    """SIGKILLs the supervisor, checks that none of its workers outlives it, waits `pause()` and
    starts it again."""
    name = "no worker survives its supervisor's SIGKILL (checked in /proc)"
    workers = ferry.kill()
    left = survivors(workers)
    REPORT.check(scenario, name, not left,
                 f"{len(left)} worker(s) outlived the supervisor 10 s after its SIGKILL: {left}")
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pause()
    ferry.start()


def check_graceful_stop(scenario, ferry):
    """SIGTERM: the supervisor exits 0 and takes its workers with it."""
    name = "SIGTERM stops the supervisor cleanly (exit 0) and its workers with it"
    workers = ferry.workers()
    status = ferry.stop()
    REPORT.check(scenario, name, status == 0, f"exit status {status}; {ferry.log_tail(8)}")
    left = survivors(workers)
    REPORT.check(scenario, name, not left, f"workers left after the stop: {left}")
