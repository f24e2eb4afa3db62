"""Read-only access to Ferry's store, as the checks and the waits look at it: a SQLite file or a
PostgreSQL database (the cluster scenario), through one `query`.

The SQLite database is opened read-only (mode=ro) so that a check can never change what it checks;
PostgreSQL is read through psql, each query inside a read-only transaction. Both stores have the
same tables and columns, so the same SQL (with `?` parameters) reads either, and rows answer to
`row["column"]` and `row[0]` alike.
"""
import sqlite3

from .postgres import PostgresReadError

FINAL_PHASES = {"succeeded", "stored", "cleaned", "failed", "cancelled"}
WAITING_STATES = {"queued", "temporary"}
# What a read raises while the store cannot answer (busy, restarting); a wait looks again.
READ_ERRORS = (sqlite3.Error, PostgresReadError)


class Row(dict):
    """A PostgreSQL row read as JSON: by column name, or by position as sqlite3.Row allows."""

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


class PostgresStore:
    """One database on a `postgres.Postgres` server, read as an operator would, with psql."""

    def __init__(self, server, name):
        self.server, self.name = server, name

    def query(self, sql, parameters=()):
        rows = self.server.rows(self.name, bind(sql, parameters))
        return [Row(row) for row in rows]

    def __str__(self):
        return f"PostgreSQL database {self.name} on 127.0.0.1:{self.server.port}"


def literal(value):
    """A parameter as an SQL literal (psql -c has no bind parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def bind(sql, parameters):
    """`sql` with each `?` replaced by its parameter (the checks' SQL has no `?` inside a string)."""
    pieces = sql.split("?")
    if len(pieces) - 1 != len(parameters):
        raise ValueError(f"{len(parameters)} parameters for {len(pieces) - 1} placeholders in {sql!r}")
    return pieces[0] + "".join(literal(p) + piece for p, piece in zip(parameters, pieces[1:]))


def open_database(path):
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    connection.row_factory = sqlite3.Row
    return connection


def all_final(database):
    """Whether every job of the store is in a final state (False while it cannot be read)."""
    try:
        rows = query(database, "SELECT state FROM jobs")
    except READ_ERRORS:
        return False
    return bool(rows) and all(r[0] in FINAL_PHASES for r in rows)


def query(database, sql, parameters=()):
    """The rows of `sql` on `database`: a SQLite file's path or a `PostgresStore`."""
    if isinstance(database, PostgresStore):
        return database.query(sql, parameters)
    connection = open_database(database)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()
