#!/usr/bin/env python3
"""Enqueues one download straight into a Ferry store and prints its job id.

For benchmarks only, until the admin API exists: the row goes through the same schema checks
and triggers as every write (a new job starts queued, its creation is logged by the database).
Usage: enqueue_download.py DATABASE URL
"""
import sqlite3
import sys
import time

database, url = sys.argv[1], sys.argv[2]
now = int(time.time() * 1000)
store = sqlite3.connect(database, timeout=10, isolation_level=None)
store.execute("PRAGMA foreign_keys = ON")
store.execute("BEGIN IMMEDIATE")
cursor = store.execute(
    "INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause) "
    "VALUES ('download', 'queued', 3, ?, ?, ?, 'create')", (now, now, now))
job = cursor.lastrowid
store.execute("INSERT INTO downloads (job_id, url) VALUES (?, ?)", (job, url))
store.execute("COMMIT")
print(job)
