"""Scenario bad-config: truncated and garbage configuration files are refused with exit 78."""
import random

from ..daemon import base_config, free_port, run_ferry
from ..report import REPORT, log


def run(args, binary, scratch, lifecycles):
    scenario = "bad-config"
    name = "a truncated or garbage configuration stops `ferry serve` with exit 78 and names the file"
    state = scratch / "bad-config-state"
    good = base_config(state, free_port(), "targets:\n  folder:\n    type: dir\n    path: /tmp\n")
    rng = random.Random(args.seed)
    cases = {
        "truncated mid-key": good[:good.index("hang_timeout") + 6],
        "truncated mid-value": good[:good.index("initial_delay: 200ms") + 17],
        "truncated mid-list": good[: good.index("  port:")] + "  port: [80",
        "garbage bytes": bytes(rng.randrange(256) for _ in range(600)).decode("latin-1"),
        "not a mapping": "- just\n- a list\n",
        "tabs and braces": "supervisor:\n\thang_timeout: {{\n",
        "binary zeros": "\0" * 64,
    }
    for label, text in cases.items():
        path = scratch / f"bad-{label.replace(' ', '-')}.yaml"
        path.write_bytes(text.encode("latin-1"))
        status, output = run_ferry(binary, ["serve", "--config", str(path)])
        clear = status == 78 and str(path) in output and "Traceback" not in output and "Fatal error" not in output
        REPORT.check(scenario, name, clear, f"{label}: exit {status}, output: {output[:300]!r}")
        log(f"bad-config: {label}: exit {status}: {output.splitlines()[1 if len(output.splitlines()) > 1 else 0][:150]}")
        check_status, check_output = run_ferry(binary, ["config", "check", "--config", str(path)])
        REPORT.check(scenario, name, check_status == 78, f"{label}: `ferry config check` exit {check_status}: "
                     f"{check_output[:200]!r}")
    REPORT.check(scenario, name, not state.exists(), f"a refused configuration still created {state}",
                 f"{len(cases)} broken files, each refused with exit 78 naming the file; nothing created")
