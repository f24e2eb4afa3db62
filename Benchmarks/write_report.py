#!/usr/bin/env python3
"""Writes the "Latest full run" section of BENCHMARKS.md from the printouts `Benchmarks/run-all`
kept in Benchmarks/results/: the machine, the load, the exact commands, and every benchmark's
figures (medians and ratios as it printed them), verbatim. The sections below it, with the
analysis of each benchmark, are written by people and left as they are.
"""
import argparse
import os
import platform
import re
import subprocess

BEGIN = "<!-- latest-run:begin (written by Benchmarks/run-all; edits here are overwritten) -->"
END = "<!-- latest-run:end -->"

BENCHMARKS = [
    ("queue", "Job store: enqueue → claim → complete, against litequeue", "make bench"),
    ("supervision", "Supervision: worker replacement, requeue, idle cost, against supervisord", "make bench-supervision"),
    ("admin", "Admin API under load, against Prometheus's own HTTP server", "make bench-admin"),
    ("transfer", "Transfers, against aria2c, curl, rclone and the dd fsync floor", "make bench-transfer"),
]

# Lines of a printout that state a comparison with another tool or a target: the summary table.
HEADLINE = re.compile(r"(\d+(\.\d+)?x\b|target|/s\b.*\bvs\b|\bmedian\b)", re.IGNORECASE)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    disk = subprocess.run(["df", "-h", "."], capture_output=True, text=True).stdout.splitlines()[-1].split()[0]
    fstype = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", "."], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {total_kib / 1048576:.0f} GiB memory, kernel {platform.release()}, "
            f"disk {disk} ({fstype or 'unknown filesystem'})")


def section(results, name, title, command):
    path = os.path.join(results, f"{name}.txt")
    if not os.path.exists(path):
        return [f"### {title}", "", f"Not run (no {path}).", ""]
    with open(path) as f:
        lines = [line.rstrip("\n") for line in f]
    headlines = [line for line in lines if not line.startswith("#") and HEADLINE.search(line)]
    out = [f"### {title}", "", f"    {command}", ""]
    if headlines:
        out += ["Comparisons as printed:", ""] + [f"- `{line.strip()}`" for line in headlines] + [""]
    out += ["<details><summary>Whole printout</summary>", "", "```", *lines, "```", "", "</details>", ""]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--started", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    load = ""
    load_path = os.path.join(args.results, "load.txt")
    if os.path.exists(load_path):
        with open(load_path) as f:
            load = "; ".join(line.strip() for line in f if line.strip())
    body = [
        BEGIN,
        "## Latest full run",
        "",
        f"Written by `make bench-all` (= `Benchmarks/run-all`), started {args.started}, on {machine()}.",
        f"System {load or 'load not recorded'} — figures from a busy machine are slower than they would be on a quiet one.",
        "Every benchmark runs its comparison tools in the same command, on the same data and disk;",
        "the sections after this one explain each benchmark and what its figures mean.",
        "",
    ]
    for name, title, command in BENCHMARKS:
        body += section(args.results, name, title, command)
    body.append(END)
    with open(args.report) as f:
        report = f.read()
    if BEGIN in report and END in report:
        head, rest = report.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        report = head + "\n".join(body) + tail
    else:
        # First time: after the introduction (the text before the first second-level heading).
        index = report.find("\n## ")
        index = len(report) if index < 0 else index + 1
        report = report[:index] + "\n".join(body) + "\n\n" + report[index:]
    with open(args.report, "w") as f:
        f.write(report)


if __name__ == "__main__":
    main()
