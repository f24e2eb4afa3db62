"""A real PostgreSQL server for the cluster scenario, started by the suite itself.

Debian's `postgresql` package (binaries under /usr/lib/postgresql/<version>/bin) is initdb'd into a
temporary folder of its own (the scratch folder is private to root, and initdb and postgres refuse
to run as root, so the server runs as `nobody` in a folder it owns), with trust authentication on
127.0.0.1 only, a free loopback port and its socket inside that folder. The postmaster is a child
of the suite like any other (killed on exit); `stop` is a fast shutdown (SIGINT, as
`pg_ctl stop -m fast`), `start` brings it back on the same port, and `psql` reads as an operator
would. The flags are those of Sources/FerryTesting/PostgresTestServer.swift.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from .processes import spawn, wait_until

ROOT = Path("/usr/lib/postgresql")
NOBODY = 65534
SUPERUSER = "ferry"  # initdb -U: the superuser the nodes and the checks connect as


def binary_folder():
    """The newest installed server's bin folder, or None when PostgreSQL is not installed."""
    versions = sorted((int(p.name) for p in ROOT.glob("*") if p.name.isdigit()), reverse=True) if ROOT.exists() else []
    return next((ROOT / str(v) / "bin" for v in versions if (ROOT / str(v) / "bin/initdb").exists()), None)


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class PostgresReadError(Exception):
    """psql could not read (the server is down or restarting, or the query failed); psql's words."""


class Postgres:
    """One throwaway PostgreSQL server: initdb'd on construction, then started, stopped, restarted."""

    def __init__(self, scratch, port):
        self.bin = binary_folder()
        if self.bin is None:
            raise SystemExit("chaos: PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                                "run .ci/install-deps (apt-get install postgresql)")
        self.scratch = scratch
        self.port = port
        self.folder = Path(tempfile.mkdtemp(prefix="ferry-chaos-pg-"))
        self.log = self.folder / "server.log"
        self.as_user = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] \
            if os.getuid() == 0 else []
        if self.as_user:
            os.chown(self.folder, NOBODY, NOBODY)
        self.process = None
        self.starts = 0
        result = subprocess.run(
            self.as_user + [str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-U", SUPERUSER,
                            "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise SystemExit(f"chaos: initdb failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

    def start(self, timeout=60):
        """Starts the server on its port and waits until it accepts connections."""
        self.starts += 1
        self.process = spawn(self.as_user + [
            str(self.bin / "postgres"), "-D", str(self.folder / "data"), "-k", str(self.folder),
            "-h", "127.0.0.1", "-p", str(self.port),
            # A throwaway server: durability is not what this run checks, speed is welcome.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=300", "-c", "shared_buffers=32MB"], self.log)
        if not wait_until(lambda: accepts(self.port) or self.process.poll() is not None, timeout, 0.1) \
                or self.process.poll() is not None:
            raise SystemExit(f"chaos: postgres did not start on 127.0.0.1:{self.port}: {self.log_tail()}")

    def stop(self, timeout=60):
        """A fast shutdown (SIGINT: every session ends, as in a restart); SIGKILL after `timeout`.
        Returns once the server is gone and its port is free."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        wait_until(lambda: not accepts(self.port), 10, 0.1)

    def remove(self):
        """Stops the server and removes its folder, keeping its log in the scratch folder."""
        self.stop()
        if self.log.exists():
            shutil.copy(self.log, self.scratch / "postgres.log")
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name):
        """A new, empty database; returns its URL for `database.url`."""
        result = subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise SystemExit(f"chaos: createdb {name} failed: {result.stderr.strip()}")
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def psql(self, database, sql, timeout=120, read_only=True):
        """What psql prints for `sql` (unaligned, tuples only), in a read-only session unless told
        otherwise (a check never changes what it checks); raises PostgresReadError on failure."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        if read_only:
            env["PGOPTIONS"] = "-c default_transaction_read_only=on"
        try:
            result = subprocess.run(
                ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", SUPERUSER, "-d", database, "-c", sql],
                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as error:
            raise PostgresReadError(f"psql on {database} did not answer within {timeout} s; SQL: {sql[:300]}") \
                from error
        if result.returncode != 0:
            raise PostgresReadError(f"psql on {database} failed: {result.stderr.strip()}; SQL: {sql[:300]}")
        return result.stdout

    def dump(self, database, tables):
        """Copies `tables` as CSV into the scratch folder (`<database>.<table>.csv`), for a run kept to be read."""
        for table in tables:
            text = self.psql(database, f"COPY (SELECT * FROM {table} ORDER BY 1) TO STDOUT WITH CSV HEADER")
            (self.scratch / f"{database}.{table}.csv").write_text(text)

    def rows(self, database, sql):
        """The rows of a query as dicts, read as one JSON document (no quoting of tabs or newlines to get wrong)."""
        text = self.psql(database, f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) AS q")
        return json.loads(text)

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
