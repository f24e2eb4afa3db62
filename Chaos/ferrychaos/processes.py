"""Every process the suite starts, and the processes it reads from /proc.

Each child leads its own process group and is remembered, so that exit — normal, an exception or
SIGTERM/SIGINT/SIGHUP — kills it with its whole group, kills stray workers still ours and undoes
every mount. Worker processes are found in /proc as the supervisor's `ferry worker --role` children.
"""
import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .mounts import MOUNTS, unmount


CHILDREN = []  # Popen objects, each the leader of its own process group
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


atexit.register(kill_everything)
for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_signal, lambda number, frame: sys.exit(128 + number))


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


def wait_until(condition, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def in_threads(target, count=4):
    """Runs `target` in `count` threads at once and waits for them all."""
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
