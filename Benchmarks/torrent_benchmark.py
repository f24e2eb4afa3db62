#!/usr/bin/env python3
"""Torrent benchmark: one big torrent (default 1 GiB) from a local seeder (the aria2 tests' swarm:
a loopback tracker and a second aria2c), fetched by plain aria2c and through Ferry (a magnet link
submitted through the API until its job has succeeded: aria2c under the download worker, then
the file verified, hashed, fsynced and renamed into place), alternately, in the same run.
Plain aria2c is given what Ferry asks of it too: the torrent's pieces checked, no seeding, no DHT.

Usage: torrent_benchmark.py FERRY_BINARY [--size-mib N] [--runs N]
Prints one line per measurement (median of --runs) and Ferry's overhead on top of aria2c.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from transfer_benchmark import Ferry, make_file, median

SWARM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "FerryTesting", "Aria2",
                     "torrent_swarm.py")


def start_swarm(content, work):
    info_file = os.path.join(work, "swarm.json")
    process = subprocess.Popen([sys.executable, SWARM, content, work, info_file], stdout=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not os.path.exists(info_file):
        if time.time() > deadline or process.poll() is not None:
            raise RuntimeError("the swarm did not start")
        time.sleep(0.1)
    with open(info_file) as f:
        return process, json.load(f)


def sha256_of(path):
    output = subprocess.run(["sha256sum", path], check=True, capture_output=True, text=True).stdout
    return output.split()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ferry-torrent-bench-", dir=os.environ.get("BENCH_DIR"))
    seed = os.path.join(work, "seed")
    os.makedirs(seed)
    size = args.size_mib << 20
    print(f"# {args.runs} runs each, median; one torrent of {args.size_mib} MiB from a loopback seeder; "
          f"work folder {work}")
    content = os.path.join(seed, "big.bin")
    sha = make_file(content, size)
    started = time.monotonic()
    swarm, info = start_swarm(content, seed)
    print(f"# torrent made (torf) and seeder started in {time.monotonic() - started:.1f} s")
    state = os.path.join(work, "ferry")
    os.makedirs(state)
    ferry = Ferry(args.binary, state, {"FERRY_DOWNLOADS_ALLOWED_SCHEMES": "http,https,magnet",
                                       "FERRY_DOWNLOADS_MAX_SIZE": "0"})
    plain, plain_hashed, through_ferry = [], [], []

    def plain_download(out):
        """Seconds aria2c took, and then sha256sum on its file (what a user must add for the
        check Ferry makes)."""
        start = time.monotonic()
        subprocess.run(["aria2c", "-q", "-d", out, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
                        "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--check-integrity=true",
                        "--bt-save-metadata=false", "--follow-torrent=mem", info["magnet"]], check=True)
        fetched = time.monotonic() - start
        assert sha256_of(os.path.join(out, "big.bin")) == sha
        hashed = time.monotonic() - start
        shutil.rmtree(out)
        return fetched, hashed

    try:
        # Untimed: the seeder first checks its copy against the torrent, which the first leecher
        # would otherwise wait for.
        started = time.monotonic()
        plain_download(os.path.join(work, "warm-up"))
        print(f"# warm-up download (seeder verified its copy meanwhile) in {time.monotonic() - started:.1f} s")
        for run in range(args.runs):
            fetched, hashed = plain_download(os.path.join(work, f"plain-{run}"))
            plain.append(fetched)
            plain_hashed.append(hashed)
            start = time.monotonic()
            job = ferry.post("/api/downloads", {"url": info["magnet"], "sha256": sha})
            done = ferry.wait(job["id"], timeout=3600)
            through_ferry.append(time.monotonic() - start)
            assert done["state"] == "succeeded", done
            assert done["result"]["sha256"] == sha, done
            os.remove(done["result"]["location"])
    finally:
        ferry.stop()
        swarm.kill()
    mib = args.size_mib
    print(f"plain aria2c          {median(plain):8.2f} s  {mib / median(plain):8.1f} MiB/s")
    print(f"  then sha256sum      {median(plain_hashed):8.2f} s  {mib / median(plain_hashed):8.1f} MiB/s")
    print(f"Ferry (aria2 engine)  {median(through_ferry):8.2f} s  {mib / median(through_ferry):8.1f} MiB/s")
    print(f"Ferry's overhead on top of aria2c: {(median(through_ferry) / median(plain) - 1) * 100:+.1f} % "
          f"(on top of aria2c and sha256sum: {(median(through_ferry) / median(plain_hashed) - 1) * 100:+.1f} %)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
