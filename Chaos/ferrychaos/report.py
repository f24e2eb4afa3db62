"""The run's verdict: every invariant in the order it was declared, with its violations.

A scenario declares what it checks, records each violation with its reason, and `cli` prints
the summary and derives the exit status from it; violations are also logged as they happen.
"""
import threading
import time


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


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

    def print(self):
        print("\n================ chaos suite summary ================")
        scenario = None
        for (name_scenario, name), value in self.invariants.items():
            if name_scenario != scenario:
                scenario = name_scenario
                print(f"\n[{scenario}]")
            if value["skipped"]:
                print(f"  SKIP  {name} ({value['skipped']})")
            elif value["violations"]:
                print(f"  FAIL  {name}: {len(value['violations'])} violation(s)")
                for message in value["violations"][:25]:
                    print(f"          - {message}")
                if len(value["violations"]) > 25:
                    print(f"          … and {len(value['violations']) - 25} more")
            else:
                print(f"  ok    {name}" + (f" ({value['detail']})" if value["detail"] else ""))
        print()


REPORT = Report()
