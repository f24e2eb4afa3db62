#!/usr/bin/env python3
"""Small files, A/B: two or more Ferry binaries (e.g. main and a change) take turns downloading
the same N × 64 KiB from nginx on loopback, with aria2c -j16 in every round, as the transfer
benchmark's small-file part does. Prints each run's wall time and the CPU its processes used.

On a shared 2-core machine the wall time of one run swings by ±20 %, more than most single
changes move it; `--count` runs each Ferry under `perf stat` (as root, or with perf events
allowed) and prints the system calls, fsyncs and CPU time of all its processes, which a change
to the hot path moves measurably and, for the counts, exactly.

    BENCH_DIR=$PWD/.build python3 Benchmarks/small_files_ab.py --rounds 4 /tmp/ferry-main /tmp/ferry-change
"""
import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transfer_benchmark as bench  # noqa: E402

COUNTED = ["raw_syscalls:sys_enter", "syscalls:sys_enter_fsync", "syscalls:sys_enter_write",
           "syscalls:sys_enter_openat", "syscalls:sys_enter_mkdir", "syscalls:sys_enter_getdents64",
           "syscalls:sys_enter_newfstatat", "task-clock"]


def counting_wrapper(binary, work, index):
    """A script that runs `binary` under perf stat and, on SIGTERM, stops Ferry (not perf), so
    perf writes its counts when Ferry has shut down."""
    script = os.path.join(work, f"counted-{index}")
    counts = os.path.join(work, f"counts-{index}.csv")
    with open(script, "w") as f:
        f.write(f"""#!/bin/bash
perf stat -x, --append -o {counts} -e {",".join(COUNTED)} -- {binary} "$@" &
perf_pid=$!
trap 'pkill -TERM -P $perf_pid; wait $perf_pid' TERM
wait $perf_pid
""")
    os.chmod(script, 0o755)
    return script, counts


def read_counts(path):
    """perf stat's CSV lines, one block per run: {event: [value per run]}."""
    found = {}
    with open(path) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[2] in COUNTED:
                found.setdefault(fields[2], []).append(float(fields[0]))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", action="store_true", help="count system calls and CPU with perf stat")
    args = parser.parse_args()
    if args.count and not shutil.which("perf"):
        sys.exit("--count needs perf: apt-get install linux-perf")
    work = tempfile.mkdtemp(prefix="ferry-small-ab-", dir=os.environ.get("BENCH_DIR"))
    root = os.path.join(work, "www")
    os.makedirs(os.path.join(root, "small"))
    for i in range(args.files):
        with open(os.path.join(root, "small", f"f{i}.bin"), "wb") as f:
            f.write(os.urandom(64 << 10))
    nginx, origin = bench.start_nginx(root, work)
    listing = os.path.join(work, "list.txt")
    with open(listing, "w") as f:
        f.writelines(f"{origin}/small/f{i}.bin\n" for i in range(args.files))
    # (program to start, perf stat's output or None) for each binary.
    # Ferry starts in its state folder, so binaries are named by absolute path.
    programs = [os.path.abspath(binary) for binary in args.binaries]
    runners = [counting_wrapper(program, work, index) if args.count else (program, None)
               for index, program in enumerate(programs)]
    walls = {binary: [] for binary in args.binaries + ["aria2c"]}
    cpu = {binary: [] for binary in args.binaries}
    outputs = []
    print(f"# {args.rounds} rounds of {args.files} x 64 KiB; the binaries take turns, aria2c -j 16 first in each round")
    try:
        for round_number in range(1, args.rounds + 1):
            out = os.path.join(work, f"aria-{round_number}")
            walls["aria2c"].append(bench.timed(["aria2c", "-q", "-j", "16", "--allow-overwrite=true", "-d", out,
                                                "-i", listing]))
            outputs.append(out)
            print(f"round {round_number}: aria2c {walls['aria2c'][-1]:.2f} s", flush=True)
            for name, (program, _) in zip(args.binaries, runners):
                state = os.path.join(work, f"ferry-{round_number}-{len(outputs)}")
                os.makedirs(state)
                outputs.append(state)
                wall, used = run_ferry(program, state, origin, args.files)
                walls[name].append(wall)
                cpu[name].append(used)
                print(f"round {round_number}: {name} {wall:.2f} s ({args.files / wall:.0f} files/s), "
                      f"{used * 1000 / args.files:.2f} ms of CPU a file", flush=True)
    finally:
        nginx.terminate()
        nginx.wait()
        for output in outputs:
            shutil.rmtree(output, ignore_errors=True)
    aria = statistics.median(walls["aria2c"])
    print(f"aria2c -j 16: median {aria:.2f} s ({args.files / aria:.0f} files/s)")
    for name, (_, counts) in zip(args.binaries, runners):
        wall = statistics.median(walls[name])
        print(f"{name}: median {wall:.2f} s ({args.files / wall:.0f} files/s, {aria / wall:.2f}x aria2c), "
              f"{statistics.median(cpu[name]) * 1000 / args.files:.2f} ms of CPU a file (runs: "
              + ", ".join(f"{w:.2f}" for w in walls[name]) + ")")
        if counts:
            for event, values in read_counts(counts).items():
                unit = " ms" if event == "task-clock" else ""
                print(f"  {event}: {statistics.median(values) / args.files:.2f}{unit} a file (runs: "
                      + ", ".join(f"{v:.0f}" for v in values) + ")")
    shutil.rmtree(work, ignore_errors=True)


def run_ferry(program, state, origin, files):
    """One run through the batch endpoint; only succeeded jobs count. Returns the wall time and
    the CPU time of Ferry's processes (the supervisor and the workers it reaped)."""
    ferry = bench.Ferry(program, state, {"FERRY_WORKERS_DOWNLOAD_PROCESSES": "2",
                                         "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "8"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        bench.settle()
        start = time.monotonic()
        for first in range(0, files, 1000):
            ferry.post("/api/download-batches", {"downloads": [
                {"url": f"{origin}/small/f{i}.bin"} for i in range(first, min(first + 1000, files))]})
        while True:
            counts = {q["state"]: q["count"] for q in ferry.get("/api/health/sync")["queue"] if q["kind"] == "download"}
            if counts.get("succeeded", 0) >= files:
                break
            if counts.get("failed", 0) or counts.get("cancelled", 0):
                sys.exit(f"downloads ended failed or cancelled ({counts}); only succeeded jobs count")
            time.sleep(0.02)
        wall = time.monotonic() - start
    finally:
        ferry.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


if __name__ == "__main__":
    main()
