"""Read-only access to a daemon's SQLite database, as the checks and the waits look at it.

The database is opened read-only (mode=ro) so that a check can never change what it checks.
"""
import sqlite3


FINAL_PHASES = {"succeeded", "stored", "cleaned", "failed", "cancelled"}
WAITING_STATES = {"queued", "temporary"}


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
