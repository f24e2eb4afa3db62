"""The command line: options, the scenario loop, the summary and the exit status.

Each scenario runs with everything it started killed afterwards; a scenario that crashes is a
violation of "the scenario ran to the end", and the run goes on with the next one.
"""
import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from . import REPO
from .invariants import load_lifecycles
from .processes import kill_everything
from . import report
from .report import REPORT, log
from .scenarios import OPT_IN, SCENARIOS


def main(usage):
    """Runs the chosen scenarios; `usage` is the entry point's docstring (its first paragraph heads --help)."""
    parser = argparse.ArgumentParser(description=usage.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=["all"] + list(SCENARIOS),
                        help="scenario to run (repeatable; default: all"
                        + (" but " + ", ".join(sorted(OPT_IN)) if OPT_IN else "") + ")")
    parser.add_argument("--duration", type=float, default=90, help="seconds of chaos in the fire scenario "
                        "(the telegram scenario's is a third of it, at least 20)")
    parser.add_argument("--jobs", type=int, default=0, help="submissions in the fire scenario "
                        "(default max(520, 2 per second of duration))")
    parser.add_argument("--settle-timeout", type=float, default=240, help="seconds to wait for the run to settle")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed, to replay a run)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--cleanup-runs", default=None, help="cleanup.run_interval in the fire scenario "
                        "(default 20s)")
    parser.add_argument("--tamper", action="store_true", help="check the checks: damage a file, a target object "
                        "and an event log before checking (fire), run the power guest's Ferry with commits "
                        "that are not synced (power), or break what each other scenario with a tamper checks "
                        "(see its docstring), so that the run must fail")
    parser.add_argument("--power-cuts", type=int, default=3, help="power cuts in the power scenario "
                        "(default 3; `make chaos-power` asks for 20)")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    # Scheduled cleanup runs reconcile while everything else goes on (a delivered file removed
    # between a run's look at the records and at the files is no longer refetched).
    args.cleanup_runs = args.cleanup_runs or "20s"
    chosen = [s for s in SCENARIOS
              if (not args.scenario and s not in OPT_IN) or (args.scenario and ("all" in args.scenario or s in args.scenario))]
    binary = Path(os.environ.get("FERRY_BIN", REPO / ".build/debug/ferry")).resolve()
    if not binary.exists():
        raise SystemExit(f"chaos: {binary} does not exist; run `swift build` or set FERRY_BIN")
    scratch = Path(tempfile.mkdtemp(prefix="ferry-chaos-"))
    lifecycles = load_lifecycles()
    report.LOG_FILE = scratch / "chaos.log"
    log(f"scenarios {', '.join(chosen)}; seed {args.seed}; binary {binary}; scratch {scratch}")
    began = time.monotonic()
    for scenario in chosen:
        started = time.monotonic()
        log(f"=== {scenario} ===")
        try:
            SCENARIOS[scenario](args, binary, scratch, lifecycles)
        except SystemExit as error:
            REPORT.violate(scenario, "the scenario ran to the end", str(error))
        except Exception as error:  # noqa: BLE001 — any crash of the driver fails the run, with its trace
            import traceback  # noqa: PLC0415

            traceback.print_exc()
            REPORT.violate(scenario, "the scenario ran to the end", repr(error))
        finally:
            kill_everything()
        log(f"=== {scenario} done in {time.monotonic() - started:.0f} s ===")
    REPORT.print()
    (scratch / "summary.txt").write_text("\n".join(REPORT.lines()))
    failed = REPORT.failed()
    keep = args.keep or os.environ.get("CHAOS_KEEP") == "1" or failed
    print(f"seed {args.seed}; wall time {time.monotonic() - began:.0f} s; "
          + (f"scratch kept in {scratch}" if keep else "scratch removed"))
    if not keep:
        shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print(f"chaos: FAILED — {len(failed)} invariant(s) violated")
        return 1
    print("chaos: every invariant held")
    return 0
