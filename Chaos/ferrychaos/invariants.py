"""The checks every scenario runs on a database it leaves behind, and the lifecycle they check against.

The job lifecycles are parsed from FerryCore's own specification (JobLifecycle.swift, with
JobCommand.swift for the causes), so the event logs are checked against what the daemon declares,
and the schema's job_transitions must equal it.
"""
import hashlib
import re

from . import REPO
from .database import PostgresStore, open_database, query
from .report import REPORT

LIFECYCLE_SOURCE = REPO / "Sources/FerryCore/Jobs/JobLifecycle.swift"
COMMAND_SOURCE = REPO / "Sources/FerryCore/Jobs/JobCommand.swift"


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


def check_database(scenario, database, lifecycles, prefix=""):
    """Integrity, foreign keys and the event logs of a SQLite file or a `PostgresStore`; `prefix`
    starts each violation (e.g. "cut 3: ")."""
    if isinstance(database, PostgresStore):
        check_postgres(scenario, database, prefix)
    else:
        connection = open_database(database)
        try:
            integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            REPORT.check(scenario, "PRAGMA integrity_check is ok", integrity == ["ok"],
                         prefix + "; ".join(integrity[:10]))
            foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
            REPORT.check(scenario, "PRAGMA foreign_key_check is clean", not foreign,
                         f"{prefix}{len(foreign)} rows break a foreign key, e.g. {[tuple(r) for r in foreign[:5]]}")
        finally:
            connection.close()
    check_event_logs(scenario, lambda sql: query(database, sql), lifecycles, prefix)


def check_postgres(scenario, store, prefix=""):
    """PostgreSQL's counterparts of SQLite's integrity and foreign-key checks: amcheck verifies every
    B-tree index of the schema (the extension is created once, the only write a check makes), and
    every constraint (foreign keys, CHECKs) must be validated, i.e. enforced on every row."""
    name = "PostgreSQL: amcheck finds every index sound, every constraint is validated"
    store.server.psql(store.name, "CREATE EXTENSION IF NOT EXISTS amcheck", read_only=False)
    indexes = query(store, "SELECT c.relname AS name, bt_index_check(c.oid, true)::text AS checked FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                    "WHERE a.amname = 'btree' AND c.relnamespace = 'public'::regnamespace")
    unvalidated = query(store, "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                        "AND NOT convalidated")
    REPORT.check(scenario, name, not unvalidated, f"{prefix}constraints not validated: "
                 f"{[r['conname'] for r in unvalidated]}", f"{len(indexes)} indexes checked")


def check_event_logs(scenario, rows, lifecycles, prefix=""):
    """Every job's event log against the lifecycles; `rows(sql)` reads the store."""
    name = "every job's event log is a legal path through its lifecycle (JobLifecycle.swift)"
    REPORT.declare(scenario, name)
    schema = {(r["kind"], r["from_state"], r["cause"]): r["to_state"]
              for r in rows("SELECT * FROM job_transitions")}
    spec = {(kind, f, c): t for kind, (_, table) in lifecycles.items() for (f, c), t in table.items()}
    if schema != spec:
        REPORT.violate(scenario, name, f"{prefix}the schema's job_transitions differ from the specification: "
                       f"only in schema {sorted(set(schema.items()) - set(spec.items()))}, "
                       f"only in spec {sorted(set(spec.items()) - set(schema.items()))}")
    jobs = {r["id"]: r for r in rows("SELECT id, kind, state, attempt, max_attempts FROM jobs")}
    events = {}
    for row in rows("SELECT * FROM job_events ORDER BY job_id, id"):
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
            REPORT.violate(scenario, name, f"{prefix}{job['kind']} job {job_id}: {problem}")
    orphan_events = set(events) - set(jobs)
    if orphan_events:
        REPORT.violate(scenario, name, f"{prefix}events of jobs that do not exist: {sorted(orphan_events)[:10]}")
    REPORT.detail(scenario, name, f"{len(jobs)} jobs, {count} events")
