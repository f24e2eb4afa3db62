"""Scenario bad-database: garbage and truncated database files are refused and left untouched."""
import random

from ..daemon import base_config, free_port, run_ferry
from ..report import REPORT, log


def run(args, binary, scratch, lifecycles):
    scenario = "bad-database"
    name = "a garbage or truncated database file stops `ferry serve` with a clear error and is left untouched"
    rng = random.Random(args.seed)
    # A real database to truncate.
    good_state = scratch / "db-good"
    config = scratch / "db-good.yaml"
    config.write_text(base_config(good_state, free_port()))
    status, output = run_ferry(binary, ["db", "migrate", "--config", str(config)])
    REPORT.check(scenario, name, status == 0, f"`ferry db migrate` on a fresh folder exited {status}: {output[:200]}")
    real = (good_state / "ferry.sqlite").read_bytes() if (good_state / "ferry.sqlite").exists() else b""
    cases = {
        "garbage": bytes(rng.randrange(256) for _ in range(64 * 1024)),
        "truncated": real[: len(real) // 2],
        "header only": real[:100],
        "text file": b"this is not a database\n" * 100,
    }
    for label, content in cases.items():
        state = scratch / f"db-{label.replace(' ', '-')}"
        state.mkdir()
        database = state / "ferry.sqlite"
        database.write_bytes(content)
        path = scratch / f"db-{label.replace(' ', '-')}.yaml"
        path.write_text(base_config(state, free_port()))
        status, output = run_ferry(binary, ["serve", "--config", str(path)], timeout=60)
        clear = status in (65, 69) and "database" in output.lower() and "Fatal error" not in output
        REPORT.check(scenario, name, clear, f"{label}: exit {status}, output: {output[-300:]!r}")
        REPORT.check(scenario, name, database.read_bytes() == content, f"{label}: the database file was changed")
        leftovers = sorted(p.name for p in state.iterdir() if p.name not in ("ferry.sqlite",))
        status_code, status_output = run_ferry(binary, ["db", "status", "--config", str(path)])
        REPORT.check(scenario, name, status_code not in (0, None) and "Fatal error" not in status_output,
                     f"{label}: `ferry db status` exit {status_code}: {status_output[-200:]!r}")
        log(f"bad-database: {label}: serve exit {status}, db status exit {status_code}, left {leftovers}: "
            f"{output.splitlines()[-1] if output else ''}")
    REPORT.detail(scenario, name, f"{len(cases)} damaged files, each refused (exit 65/69), none changed")
