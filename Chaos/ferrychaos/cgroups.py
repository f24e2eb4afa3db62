"""A small memory cgroup for worker processes: made under the suite's own memory cgroup, given a
limit, and removed on exit (its processes moved back first).

cgroup v1's memory controller (a hybrid machine) is preferred: any group may hold processes and
have children there. On a pure cgroup v2 machine a group that holds processes cannot give its
children the memory controller, so the suite needs a group of its own (e.g. `systemd-run
--scope -p Delegate=yes`); without one `MemoryGroup` raises `Unavailable`, and the scenario is
skipped with that reason.
"""
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class Unavailable(Exception):
    pass


class MemoryGroup:
    def __init__(self, name):
        if os.geteuid() != 0:
            raise Unavailable("needs root to make a memory cgroup")
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        v1 = next((line.split(":", 2)[2] for line in lines if "memory" in line.split(":")[1].split(",")), None)
        v2 = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
        if v1 is not None and (ROOT / "memory").is_dir():
            self.version, self.parent = 1, ROOT / "memory" / v1.lstrip("/")
        elif v2 is not None:
            self.version, self.parent = 2, ROOT / v2.lstrip("/")
        else:
            raise Unavailable("no memory cgroup controller is mounted")
        self.path = self.parent / name
        try:
            self.path.mkdir()
        except OSError as error:
            raise Unavailable(f"cannot make {self.path}: {error}") from error
        if not (self.path / self.limit_file).exists():
            self.path.rmdir()
            raise Unavailable(f"{self.path} has no {self.limit_file} (cgroup v2 without a delegated group of our own)")

    @property
    def limit_file(self):
        return "memory.limit_in_bytes" if self.version == 1 else "memory.max"

    def limit(self, size):
        (self.path / self.limit_file).write_text(str(size))

    def add(self, pid):
        (self.path / "cgroup.procs").write_text(str(pid))

    def usage(self):
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int((self.path / name).read_text())

    def oom_kills(self):
        """The kernel's count of processes its OOM killer ended in this group."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self):
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                (self.parent / "cgroup.procs").write_text(pid)
            except OSError:
                pass  # gone meanwhile
        try:
            self.path.rmdir()
        except OSError:
            pass
