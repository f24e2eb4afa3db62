"""Ferry's chaos suite as a package; `Chaos/chaos.py` is its one entry point (see its docstring).

The shared core, which every scenario uses:
  report       the invariants, their violations and the summary printed at the end; `log`
  processes    children started here, read from /proc, all killed on exit (also on SIGTERM/SIGINT)
  mounts       mount points undone on exit
  daemon       `ferry serve` (start, SIGKILL, SIGTERM, log tail), its configuration, ports, the admin API
  origin       the fault-injecting test origin and moto's S3 server, and what the origin serves
  database     read-only access to Ferry's store (a SQLite file or PostgreSQL); the final and waiting states
  postgres     a real PostgreSQL server started for the cluster scenario (initdb as nobody, loopback only)
  invariants   the checks every scenario runs: integrity, foreign keys, event logs against JobLifecycle.swift
  cli          the options, the scenario loop, the summary and the exit status

One module per scenario in `scenarios/`, registered in run order in `scenarios/__init__.py`.
"""
from pathlib import Path

# The repository this package lives in: the default binary, the test origin and the lifecycle
# specification are found there, so a worktree's suite checks that worktree's sources.
REPO = Path(__file__).resolve().parent.parent.parent
