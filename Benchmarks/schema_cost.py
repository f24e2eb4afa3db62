"""What the schema's invariants cost in SQLite alone, with no Swift in the way: the queue
benchmark's three steps as bare SQL over N rows, on an in-memory copy of a freshly migrated Ferry
database, with the full schema and with one trigger or index left out at a time.

    python3 schema_cost.py /path/to/ferry [N]
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ferry = os.path.abspath(sys.argv[1])
rows_wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
folder = tempfile.mkdtemp(prefix="ferry-schema-cost-")
subprocess.run([ferry, "db", "migrate"], cwd=folder, check=True, capture_output=True)
source = sqlite3.connect(os.path.join(folder, "ferry-state", "ferry.sqlite"))
objects = source.execute(
    "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
    "AND name <> 'grdb_migrations' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid"
).fetchall()
transitions = source.execute("SELECT * FROM job_transitions").fetchall()
# Reference rows the migrations insert (since v7 a worker's role must be one of `worker_roles`).
roles = source.execute("SELECT * FROM worker_roles").fetchall()
shutil.rmtree(folder)


def measure(skip, label, n=rows_wanted):
    con = sqlite3.connect(":memory:", isolation_level=None)
    for name, sql in objects:
        if name not in skip:
            con.execute(sql)
    con.executemany("INSERT INTO job_transitions VALUES (?, ?, ?, ?)", transitions)
    con.executemany(f"INSERT INTO worker_roles VALUES ({', '.join('?' * len(roles[0]))})", roles)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("INSERT INTO workers (id, role, slot, started_at) VALUES ('w', 'download', 1, 1)")
    con.execute("BEGIN")
    marks = [time.perf_counter()]
    con.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
        "INSERT INTO jobs (kind, state, priority, attempt, max_attempts, created_at, updated_at, due_at, "
        "state_cause) SELECT 'download', 'queued', 0, 0, 8, 1, 1, 1, 'create' FROM n")
    marks.append(time.perf_counter())
    con.execute("INSERT INTO downloads (job_id, url) SELECT id, 'https://origin.example/' || id FROM jobs")
    marks.append(time.perf_counter())
    con.execute(
        "UPDATE jobs SET state = 'running', state_cause = 'claim', owner = 'w', attempt = attempt + 1, "
        "started_at = 2, heartbeat_at = 2, updated_at = 2")
    marks.append(time.perf_counter())
    con.execute(
        "UPDATE jobs SET state = 'succeeded', state_cause = 'complete', owner = NULL, finished_at = 3, "
        "updated_at = 3, result_location = '/spool/x', result_size = 1, result_sha256 = '" + "ab" * 32 + "', "
        "bytes_done = 1, bytes_total = 1")
    marks.append(time.perf_counter())
    con.execute("COMMIT")
    micro = [(b - a) / n * 1e6 for a, b in zip(marks, marks[1:])]
    print(f"{label}\t" + "\t".join(f"{m:.1f}" for m in micro) + f"\t{sum(micro):.1f}")


print("schema (SQLite only)\tinsert_job_us\tinsert_download_us\tclaim_us\tcomplete_us\ttotal_us")
measure([], "full schema")
for name in ["jobs_on_change", "jobs_on_insert", "jobs_queue", "job_events_by_job"]:
    measure([name], f"without {name}")
