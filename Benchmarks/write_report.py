#!/usr/bin/env python3
"""Writes the "Latest full run" section of BENCHMARKS.md from the printouts `Benchmarks/run-all`
kept in Benchmarks/results/: the machine, the load, the exact commands, and every benchmark's
figures (medians and ratios as it printed them), verbatim. The sections below it, with the
analysis of each benchmark, are written by people and left as they are.
"""
import argparse
import re
import os
import platform
import subprocess

BEGIN = "<!-- latest-run:begin (written by Benchmarks/run-all; edits here are overwritten) -->"
END = "<!-- latest-run:end -->"

BENCHMARKS = [
    ("queue", "Job store: enqueue → claim → complete, against litequeue", "make bench"),
    ("postgres", "Job store on PostgreSQL, against pgqueuer and procrastinate", "make bench-postgres"),
    ("supervision", "Supervision: worker replacement, requeue, idle cost, against supervisord", "make bench-supervision"),
    ("admin", "Admin API under load, against Prometheus's own HTTP server", "make bench-admin"),
    ("transfer", "Transfers, against aria2c, curl, rclone and the dd fsync floor", "make bench-transfer"),
]

def render(lines):
    """A printout as Markdown: its `#` lines (machine, versions, settings, time taken) as notes,
    tab-separated blocks as tables, every other line verbatim in a code block."""
    notes = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    out = ["Run notes: " + "; ".join(notes) + ".", ""] if notes else []
    table, text = [], []

    def flush():
        if text:
            out.extend(["```", *text, "```", ""])
            text.clear()
        if table:
            rows = [row.split("\t") for row in table]
            out.append("| " + " | ".join(rows[0]) + " |")
            out.append("|" + "---|" * len(rows[0]))
            out.extend("| " + " | ".join(row) + " |" for row in rows[1:])
            out.append("")
            table.clear()

    for line in lines:
        if line.startswith("#"):
            continue
        if "\t" in line:
            if text:
                flush()
            table.append(line.strip())
        elif not line.strip():
            flush()
        else:
            if table:
                flush()
            text.append(line.rstrip())
    flush()
    return out


def number(pattern, text):
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def ratios(name, text):
    """Ferry against the other tool, from the printed figures (> 1 means Ferry is ahead)."""
    pairs = []
    if name == "queue":
        for sync in ("full", "normal"):
            ferry = number(rf"^one job per transaction\t{sync}\t.*\t(\d+)\t[\d.]+$", text)
            other = number(rf"^litequeue [\d.]+\t{sync}\t.*\t(\d+)\t[\d.]+$", text)
            pairs.append((f"jobs/s, one job per transaction, synchronous={sync}: Ferry / litequeue", ferry, other))
    elif name == "postgres":
        # The pipeline column is the eighth: name, synchronous, jobs per transaction, jobs, three phases.
        pipeline = r"\t(?:[^\t]*\t){4}(\d+)\t"
        ferry = number(r"^one job per transaction\ton\t1" + pipeline, text)
        for queue in ("pgqueuer", "procrastinate"):
            other = number(rf"^{queue} [\d.]+\ton\t1" + pipeline, text)
            pairs.append((f"jobs/s, one job per transaction: Ferry / {queue}", ferry, other))
        batched = number(r"^batched\ton\t\d+" + pipeline, text)
        pairs.append(("jobs/s batched: Ferry / the goal of 10,000", batched, 10000))
    elif name == "supervision":
        ferry = number(r"kill -> replacement hello:\s+median ([\d.]+)", text)
        other = number(r"kill -> new child process:\s+median ([\d.]+)", text)
        pairs.append(("kill to replacement, median: supervisord's time / Ferry's", other, ferry))
    elif name == "admin":
        ferry = number(r"^ferry /healthz\s+(\d+)", text)
        other = number(r"^prometheus /-/healthy\s+(\d+)", text)
        pairs.append(("health endpoint req/s: Ferry /healthz / Prometheus /-/healthy", ferry, other))
        ferry = number(r"^ferry /metrics\s+(\d+)", text)
        other = number(r"^prometheus /metrics\s+(\d+)", text)
        pairs.append(("/metrics req/s: Ferry / Prometheus (different sizes, see below)", ferry, other))
    return [f"- {label}: **{a / b:.2f}×**" for label, a, b in pairs if a and b]


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
    found = ratios(name, "\n".join(lines))
    return [f"### {title}", "", f"    {command}", "", *(found + [""] if found else []), *render(lines)]


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
