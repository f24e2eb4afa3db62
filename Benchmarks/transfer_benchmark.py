#!/usr/bin/env python3
"""Transfer benchmark: Ferry's download and upload workers against the tools a user would
otherwise pick, on the same data in the same run, from a fast local origin (nginx on loopback).

  1. one big file (default 1 GiB), submitted through the API until its job has succeeded
     (streamed, SHA-256 verified, fsynced, renamed), against `aria2c --checksum=sha-256=…` and
     the durable-write floor `dd if=/dev/zero bs=1M conv=fsync` on the same disk;
  2. many small files (default 2,000 of 64 KiB) through the job system against
     `aria2c -j 16 -i list`;
  3. uploading the big file to a `dir` target against `rclone copy` to a folder on the same disk,
     and a smaller file (default 256 MiB: moto keeps objects in memory) to the S3 test server
     against `rclone copy` to the same server.

Usage: transfer_benchmark.py FERRY_BINARY [--size-mib N] [--files N] [--s3-size-mib N] [--runs N]
Prints one line per measurement (median of --runs) and the ratios.
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_file(path, size):
    """Random content (so nothing compresses or dedupes), and its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def start_nginx(root, work):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        # Workers read the files as the user running the benchmark (root's would be nobody, who may
        # not reach the work folder).
        user = "user root;" if os.geteuid() == 0 else ""
        f.write(f"""{user} daemon off; worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
""")
    process = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def wait_for_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Ferry:
    def __init__(self, binary, folder, env_extra, config_text=""):
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") and k != "NOTIFY_SOCKET"}
        env.update({"FERRY_HTTP_PORT": "0", "FERRY_LOGGING_LEVEL": "notice", "FERRY_CLEANUP_RUN_INTERVAL": "0s"})
        env.update(env_extra)
        if config_text:
            path = os.path.join(folder, "ferry.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            env["FERRY_CONFIG"] = path
        self.process = subprocess.Popen([binary, "serve"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        found = {}

        def read():
            for raw in self.process.stderr:
                match = re.search(r"url=(http://\S+).*admin API listening", raw.decode(errors="replace"))
                if match:
                    found["url"] = match.group(1)
        threading.Thread(target=read, daemon=True).start()
        deadline = time.time() + 60
        while "url" not in found and time.time() < deadline:
            time.sleep(0.05)
        self.base = found["url"]
        # /readyz answers 503 until every worker said hello.
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz")
                break
            except urllib.error.HTTPError:
                time.sleep(0.05)

    def post(self, path, body):
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(request))

    def get(self, path):
        return json.load(urllib.request.urlopen(self.base + path))

    def wait(self, job_id, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.get(f"/api/downloads/{job_id}")["download"]
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.01)
        raise RuntimeError(f"job {job_id} did not finish")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def seconds_between(start, end):
    parse = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def settle():
    """Writes back what the previous run left dirty: a tool that fsyncs nothing (aria2c, rclone)
    would otherwise leave its writing to be paid by the fsyncs of whichever tool runs next."""
    os.sync()


def timed(command, **kwargs):
    settle()
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.monotonic() - start


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--s3-size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Everything on the same disk as Ferry's state would be: a folder beside the repository.
    work = tempfile.mkdtemp(prefix="ferry-transfer-bench-", dir=os.environ.get("BENCH_DIR"))
    root = os.path.join(work, "www")
    os.makedirs(os.path.join(root, "small"))
    size = args.size_mib << 20
    print(f"# {args.runs} runs each, median; big file {args.size_mib} MiB, {args.files} files of 64 KiB; work folder {work}")
    big_sha = make_file(os.path.join(root, "big.bin"), size)
    for i in range(args.files):
        with open(os.path.join(root, "small", f"f{i}.bin"), "wb") as f:
            f.write(os.urandom(64 << 10))
    nginx, origin = start_nginx(root, work)
    results = {}
    try:
        # 1. The big file.
        floor, aria, curl, ferry_big = [], [], [], []
        for run in range(args.runs):
            target = os.path.join(work, "floor.bin")
            floor.append(timed(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={args.size_mib}", "conv=fsync"]))
            os.remove(target)
            out = os.path.join(work, f"aria-{run}")
            aria.append(timed(["aria2c", "-q", "--allow-overwrite=true", f"--checksum=sha-256={big_sha}", "-d", out,
                               "-o", "big.bin", origin + "/big.bin"]))
            shutil.rmtree(out)
            # curl has no checksum option: download, then sha256sum and an fsync of the file, which
            # is what a script built on curl must do for the same guarantee.
            out = os.path.join(work, "curl.bin")
            curl.append(timed(["sh", "-c", f'curl -sSf -o "$1" "$2" && sha256sum "$1" | grep -q {big_sha} && '
                               'sync "$1"', "curl", out, origin + "/big.bin"]))
            os.remove(out)
        state = os.path.join(work, "ferry-big")
        os.makedirs(state)
        ferry = Ferry(args.binary, state, {"FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "4"})
        try:
            for run in range(args.runs):
                settle()
                start = time.monotonic()
                job = ferry.post("/api/downloads", {"url": origin + "/big.bin", "size": size, "sha256": big_sha,
                                                    "file_name": f"big-{run}.bin"})
                done = ferry.wait(job["id"])
                ferry_big.append(time.monotonic() - start)
                assert done["state"] == "succeeded", done
                os.remove(done["result"]["location"])
        finally:
            ferry.stop()
        results["big"] = (median(ferry_big), median(aria), median(floor))
        mib = args.size_mib
        print(f"download {mib} MiB: ferry {median(ferry_big):.2f} s ({mib / median(ferry_big):.0f} MiB/s), "
              f"aria2c {median(aria):.2f} s ({mib / median(aria):.0f} MiB/s), "
              f"curl + sha256sum + sync {median(curl):.2f} s ({mib / median(curl):.0f} MiB/s), "
              f"dd conv=fsync floor {median(floor):.2f} s ({mib / median(floor):.0f} MiB/s)")
        print(f"  ferry / floor = {median(ferry_big) / median(floor):.2f}x (target <= 1.1x); "
              f"ferry / aria2c = {median(ferry_big) / median(aria):.2f}x (target <= 0.5x); "
              f"ferry / curl = {median(ferry_big) / median(curl):.2f}x")

        # 2. Many small files.
        listing = os.path.join(work, "list.txt")
        with open(listing, "w") as f:
            f.writelines(f"{origin}/small/f{i}.bin\n" for i in range(args.files))
        aria_small, ferry_small = [], []
        # Every run's files are deleted only after the last run: on ext4 without a journal (this
        # machine's disk) a new inode skips those deleted in the last minute, and 2,000 files
        # deleted just before a run cost the next tool's file creations a quarter of the machine's
        # CPU (perf: recently_deleted under __ext4_new_inode).
        outputs = []
        for run in range(args.runs):
            out = os.path.join(work, f"aria-small-{run}")
            aria_small.append(timed(["aria2c", "-q", "-j", "16", "--allow-overwrite=true", "-d", out, "-i", listing]))
            outputs.append(out)
            state = os.path.join(work, f"ferry-small-{run}")
            os.makedirs(state)
            ferry = Ferry(args.binary, state, {"FERRY_WORKERS_DOWNLOAD_PROCESSES": "2",
                                               "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "8"})
            try:
                settle()
                start = time.monotonic()
                # The list goes in as aria2c's -i list does: whole, through the batch endpoint
                # (1,000 URLs per request, one transaction each).
                for first in range(0, args.files, 1000):
                    ferry.post("/api/download-batches", {"downloads": [
                        {"url": f"{origin}/small/f{i}.bin"} for i in range(first, min(first + 1000, args.files))]})
                # Only a succeeded job is done: a run where jobs fail would otherwise look fast.
                while True:
                    counts = {q["state"]: q["count"] for q in ferry.get("/api/health/sync")["queue"]
                              if q["kind"] == "download"}
                    if counts.get("succeeded", 0) >= args.files:
                        break
                    if counts.get("failed", 0) or counts.get("cancelled", 0):
                        sys.exit(f"small files, run {run + 1}: downloads ended failed or cancelled ({counts}); "
                                 "a benchmark counts only succeeded jobs")
                    time.sleep(0.02)
                ferry_small.append(time.monotonic() - start)
                # Sampled files must hold the origin's bytes (jobs are numbered in list order).
                for i in random.sample(range(args.files), min(20, args.files)):
                    done = ferry.get(f"/api/jobs/{i + 1}")
                    name = done["input"]["url"].rsplit("/", 1)[1]
                    with open(done["result"]["location"], "rb") as got, open(os.path.join(root, "small", name), "rb") as want:
                        assert hashlib.sha256(got.read()).digest() == hashlib.sha256(want.read()).digest(), done
            finally:
                ferry.stop()
            outputs.append(state)
        for output in outputs:
            shutil.rmtree(output)
        fps = lambda t: args.files / t
        results["small"] = (median(ferry_small), median(aria_small))
        print(f"download {args.files} x 64 KiB: ferry {median(ferry_small):.2f} s ({fps(median(ferry_small)):.0f} files/s), "
              f"aria2c -j 16 {median(aria_small):.2f} s ({fps(median(aria_small)):.0f} files/s); "
              f"ferry / aria2c files per second = {median(aria_small) / median(ferry_small):.2f}x (target >= 1.5x)")

        # 3. Uploads: the big file to a folder, a smaller one to S3.
        measure_uploads(args, work, origin, big_sha, size)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(work, ignore_errors=True)


def measure_uploads(args, work, origin, big_sha, size):
    target_dir = os.path.join(work, "target")
    os.makedirs(target_dir)
    moto_port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(moto_port)
    endpoint = f"http://127.0.0.1:{moto_port}"
    secret = os.path.join(work, "s3-secret")
    with open(secret, "w") as f:
        f.write("testing")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "Sources", "FerryTesting", "S3",
                                                 "s3_tool.py"), endpoint, "create", "bench"], check=True)
    s3_size = args.s3_size_mib << 20
    s3_file = os.path.join(work, "www", "s3.bin")
    s3_sha = make_file(s3_file, s3_size)
    rclone_env = dict(os.environ, RCLONE_CONFIG_MOTO_TYPE="s3", RCLONE_CONFIG_MOTO_PROVIDER="Other",
                      RCLONE_CONFIG_MOTO_ENDPOINT=endpoint, RCLONE_CONFIG_MOTO_ACCESS_KEY_ID="testing",
                      RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY="testing", RCLONE_CONFIG_MOTO_REGION="us-east-1")
    # rclone's S3 client refuses a custom CA bundle on its transport; the server is plain HTTP.
    rclone_env.pop("AWS_CA_BUNDLE", None)
    config = f"""targets:
  folder:
    type: dir
    path: {target_dir}
  s3:
    type: s3
    endpoint: {endpoint}
    bucket: bench
    access_key_id: testing
    secret_key_file: {secret}
"""
    rclone_dir, rclone_s3, ferry_dir, ferry_s3 = [], [], [], []
    try:
        for run in range(args.runs):
            out = os.path.join(work, f"rclone-{run}")
            rclone_dir.append(timed(["rclone", "copy", "--checksum", os.path.join(work, "www", "big.bin"), out]))
            shutil.rmtree(out)
            rclone_s3.append(timed(["rclone", "copy", "--checksum", s3_file, f"moto:bench/rclone-{run}/"], env=rclone_env))
        state = os.path.join(work, "ferry-upload")
        os.makedirs(state)
        ferry = Ferry(args.binary, state, {}, config)
        try:
            for run in range(args.runs):
                for name, url, sha, sink in (("folder", "/big.bin", big_sha, ferry_dir), ("s3", "/s3.bin", s3_sha, ferry_s3)):
                    settle()
                    job = ferry.post("/api/downloads", {"url": origin + url, "sha256": sha, "upload_targets": [name],
                                                        "file_name": f"{name}-{run}.bin"})
                    done = ferry.wait(job["id"])
                    assert done["state"] == "succeeded", done
                    deadline = time.time() + 600
                    while time.time() < deadline:
                        uploads = ferry.get(f"/api/downloads/{job['id']}")["uploads"]
                        if uploads and uploads[0]["state"] in ("succeeded", "failed"):
                            break
                        time.sleep(0.02)
                    upload = uploads[0]
                    assert upload["state"] == "succeeded", upload
                    sink.append(seconds_between(upload["started_at"], upload["finished_at"]))
        finally:
            ferry.stop()
        mib = args.size_mib
        print(f"upload {mib} MiB to a folder: ferry dir target {median(ferry_dir):.2f} s, rclone copy --checksum "
              f"{median(rclone_dir):.2f} s; ferry / rclone = {median(ferry_dir) / median(rclone_dir):.2f}x")
        print(f"upload {args.s3_size_mib} MiB to S3 (moto): ferry s3 target {median(ferry_s3):.2f} s, rclone copy "
              f"{median(rclone_s3):.2f} s; ferry / rclone = {median(ferry_s3) / median(rclone_s3):.2f}x")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
