"""Which pages each commit writes to the WAL, by table or index: Ferry's three steps of one job
(enqueue, claim, complete) as bare SQL on a freshly migrated Ferry database, as schema_cost.py
runs them, against litequeue's put, pop and done. At synchronous=full a commit's fsync costs with
the pages it writes; this says where they go.

    python3 wal_pages.py /path/to/ferry [JOBS]

Pages are read from the WAL's frame headers after each commit (the WAL is checkpointed and
truncated before it) and named through SQLite's dbstat table; the figures are the median over
JOBS jobs after 200 warm-up jobs, so b-trees have their usual depth.
"""
import collections
import os
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile

from litequeue import LiteQueue


def wal_pages(path):
    """Page numbers of the frames in `path`'s WAL."""
    try:
        with open(path + "-wal", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    if len(data) < 32:
        return []
    size = struct.unpack(">I", data[8:12])[0]
    return [struct.unpack(">I", data[o:o + 4])[0] for o in range(32, len(data) - 24 - size + 1, 24 + size)]


def names(con):
    return {page: name for name, page in con.execute("SELECT name, pageno FROM dbstat")}


def commit_pages(con, path, statements):
    """Runs `statements` in one IMMEDIATE transaction; the names of the pages its commit wrote."""
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("BEGIN IMMEDIATE")
    for sql, arguments in statements:
        con.execute(sql, arguments)
    con.execute("COMMIT")
    pages = wal_pages(path)
    named = names(con)
    return [named.get(page, f"page {page}") for page in pages]


def ferry_steps(ferry, jobs):
    folder = tempfile.mkdtemp(prefix="ferry-wal-pages-")
    subprocess.run([ferry, "db", "migrate"], cwd=folder, check=True, capture_output=True)
    path = os.path.join(folder, "ferry-state", "ferry.sqlite")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("INSERT INTO workers (id, role, slot, started_at) VALUES ('w', 'download', 1, 1)")
    steps = collections.defaultdict(list)
    for index in range(200 + jobs):
        enqueue = [
            ("INSERT INTO jobs (kind, state, priority, attempt, max_attempts, created_at, updated_at, due_at, "
             "state_cause) VALUES ('download', 'queued', 0, 0, 8, 1, 1, 1, 'create')", ()),
            ("INSERT INTO downloads (job_id, url) VALUES (last_insert_rowid(), ?)", (f"https://origin.example/{index}",)),
        ]
        pages = {"enqueue": commit_pages(con, path, enqueue)}
        job = con.execute("SELECT max(id) FROM jobs").fetchone()[0]
        pages["claim"] = commit_pages(con, path, [(
            "UPDATE jobs SET state = 'running', state_cause = 'claim', owner = 'w', attempt = attempt + 1, "
            "started_at = 2, heartbeat_at = 2, updated_at = 2 WHERE id = ?", (job,))])
        pages["complete"] = commit_pages(con, path, [(
            "UPDATE jobs SET state = 'succeeded', state_cause = 'complete', owner = NULL, finished_at = 3, "
            "updated_at = 3, result_location = '/spool/x', result_size = 1, result_sha256 = ?, bytes_done = 1, "
            "bytes_total = 1 WHERE id = ?", ("ab" * 32, job))])
        if index >= 200:
            for step, written in pages.items():
                steps[step].append(written)
    return steps


def litequeue_steps(jobs):
    folder = tempfile.mkdtemp(prefix="litequeue-wal-pages-")
    path = os.path.join(folder, "queue.sqlite")
    queue = LiteQueue(path)
    con = queue.conn
    con.execute("PRAGMA synchronous = FULL")
    steps = collections.defaultdict(list)
    for index in range(200 + jobs):
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        queue.put(f"https://origin.example/{index}")
        put = wal_pages(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        message = queue.pop()
        pop = wal_pages(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        queue.done(message.message_id)
        done = wal_pages(path)
        if index >= 200:
            named = names(con)
            for step, pages in (("put", put), ("pop", pop), ("done", done)):
                steps[step].append([named.get(page, f"page {page}") for page in pages])
    return steps


def report(label, steps):
    total = 0
    for step, commits in steps.items():
        count = statistics.median(len(pages) for pages in commits)
        total += count
        typical = collections.Counter(name for pages in commits for name in pages)
        where = ", ".join(f"{name} {n / len(commits):.2g}" for name, n in typical.most_common())
        print(f"{label}\t{step}\t{count:.0f}\t{where}")
    print(f"{label}\tper job\t{total:.0f}\t")


if __name__ == "__main__":
    ferry = os.path.abspath(sys.argv[1])
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    print("queue\tcommit\tWAL pages (median)\tpages per commit by b-tree (mean)")
    report("ferry", ferry_steps(ferry, jobs))
    report("litequeue", litequeue_steps(jobs))
