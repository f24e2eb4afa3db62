"""The run's verdict: every invariant in the order it was declared, with its violations.

A scenario declares what it checks, records each violation with its reason, and `cli` prints
the summary and derives the exit status from it; violations are also logged as they happen.
"""
import threading
import time

# Where `log` also writes (the scratch folder's chaos.log), so that a kept run can be read whole
# when only the tail of its output was kept (as CI keeps it).
LOG_FILE = None


def log(message):
    line = f"[chaos {time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    if LOG_FILE is not None:
        with open(LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class Report:
    """Invariants in the order they were declared, each with its violations and a detail line."""

    def __init__(self):
        self.invariants = {}
        self.lock = threading.Lock()

    def declare(self, scenario, name):
        with self.lock:
            self.invariants.setdefault((scenario, name), {"violations": [], "detail": "", "skipped": None})

    def violate(self, scenario, name, message):
        self.declare(scenario, name)
        with self.lock:
            self.invariants[(scenario, name)]["violations"].append(message)
        log(f"VIOLATION [{scenario}] {name}: {message}")

    def detail(self, scenario, name, text):
        self.declare(scenario, name)
        self.invariants[(scenario, name)]["detail"] = text

    def skip(self, scenario, name, why):
        self.declare(scenario, name)
        self.invariants[(scenario, name)]["skipped"] = why

    def check(self, scenario, name, ok, message, detail=""):
        """Declares the invariant and records `message` as a violation unless `ok`."""
        self.declare(scenario, name)
        if not ok:
            self.violate(scenario, name, message)
        if detail:
            self.detail(scenario, name, detail)

    def failed(self):
        return [key for key, value in self.invariants.items() if value["violations"]]

    def lines(self):
        """The summary: every invariant by scenario, then the violated ones again at the end (a
        reader of the output's tail sees what failed)."""
        out = ["", "================ chaos suite summary ================"]
        scenario = None
        for (name_scenario, name), value in self.invariants.items():
            if name_scenario != scenario:
                scenario = name_scenario
                out += ["", f"[{scenario}]"]
            if value["skipped"]:
                out.append(f"  SKIP  {name} ({value['skipped']})")
            elif value["violations"]:
                out.append(f"  FAIL  {name}: {len(value['violations'])} violation(s)")
                out += [f"          - {message}" for message in value["violations"][:25]]
                if len(value["violations"]) > 25:
                    out.append(f"          … and {len(value['violations']) - 25} more")
            else:
                out.append(f"  ok    {name}" + (f" ({value['detail']})" if value["detail"] else ""))
        failed = self.failed()
        if failed:
            out += ["", "================ violated ================"]
            for scenario, name in failed:
                first = self.invariants[(scenario, name)]["violations"][0]
                out.append(f"  [{scenario}] {name}: {first[:600]}")
        out.append("")
        return out

    def print(self):
        print("\n".join(self.lines()))

REPORT = Report()
