"""The power-cut guest's driver: starts the origin and `ferry serve`, submits work, and tells the host
every acknowledgement Ferry gave, one JSON line each on the virtio-serial port `ferry.acks`.

Runs inside the guest as the child of /ferry-chaos/init, with Python's standard library only.
The kernel command line carries `ferrychaos.boot=N ferrychaos.mode=work|settle ferrychaos.seed=S`.

Messages (field `t`):
  boot       the driver started (boot number, mode)
  ready      `ferry serve` answered /readyz
  cleanup    the cleanup run asked for right after the start ended, with its report
  sending    a submission is about to be sent (its key and body): the host resends it after a
             cut when no answer was recorded, as a client would
  accepted   Ferry answered a submission 200/201 with this job id
  resent     the answer to a submission sent again in this boot (key, job id, status)
  event      a job transition Ferry reported on /api/events (committed before it is streamed)
  settled    (settle mode) every job is final; the counts by kind and state
  stopped    (settle mode) `ferry serve` exited after SIGTERM with this status
  error      something in the driver failed (the host reports it)
The host records a line only once it has arrived whole: a line cut short by the power cut is not
an acknowledgement.
"""
import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = "/ferry-chaos"
STATE = "/var/lib/ferry-chaos"
API_PORT = 8080
ORIGIN_PORT = 8000
_write_lock = threading.Lock()


def parameters():
    found = {}
    for word in open("/proc/cmdline").read().split():
        if word.startswith("ferrychaos.") and "=" in word:
            name, value = word[len("ferrychaos."):].split("=", 1)
            found[name] = value
    return found


def open_port():
    for entry in sorted(os.listdir("/sys/class/virtio-ports")):
        with open(f"/sys/class/virtio-ports/{entry}/name") as handle:
            if handle.read().strip() == "ferry.acks":
                return os.open(f"/dev/{entry}", os.O_WRONLY)
    raise SystemExit("driver: no virtio-serial port named ferry.acks")


PORT = None


def tell(message_type, **fields):
    fields["t"] = message_type
    fields["uptime"] = round(time.clock_gettime(time.CLOCK_BOOTTIME), 3)
    line = (json.dumps(fields, separators=(",", ":")) + "\n").encode()
    with _write_lock:
        offset = 0
        while offset < len(line):
            offset += os.write(PORT, line[offset:])


def call(method, path, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode(errors="replace")
    finally:
        connection.close()


def wait_ready(ferry, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ferry.poll() is not None:
            return False
        try:
            if call("GET", "/readyz", timeout=5)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def start_origin():
    port_file = "/run/origin.port"
    origin = subprocess.Popen([sys.executable, f"{HERE}/guest_origin.py", port_file, str(ORIGIN_PORT)],
                              stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not os.path.exists(port_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    return origin


def start_ferry():
    log = open(f"{STATE}/ferry.log", "ab")
    return subprocess.Popen(["/usr/local/bin/ferry", "serve", "--config", f"{HERE}/ferry.yaml"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def follow_events():
    """Tells the host every job transition /api/events streams (each is committed before it is sent)."""
    last = None
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=60)
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = last
            connection.request("GET", "/api/events", headers=headers)
            response = connection.getresponse()
            event, data, event_id = None, None, None
            while True:
                raw = response.fp.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line == "":
                    if event == "job" and data:
                        record = json.loads(data)
                        tell("event", id=record["id"], job=record["job_id"], to=record["to"],
                             cause=record["cause"], attempt=record["attempt"])
                        last = event_id or last
                    event, data, event_id = None, None, None
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.5)


def submit(plan):
    """Sends one submission until Ferry answers it; returns (status, job id)."""
    path = "/api/downloads" if plan["kind"] == "download" else "/api/videos"
    headers = {"Idempotency-Key": plan["key"]} if plan["kind"] == "download" else {}
    for _ in range(200):
        try:
            status, answer = call("POST", path, plan["body"], headers)
        except OSError:
            time.sleep(0.5)
            continue
        if status in (200, 201):
            return status, answer["id"]
        if status >= 500:
            time.sleep(0.5)
            continue
        tell("error", what=f"submission {plan['key']} refused with {status}: {answer}")
        return status, None
    return None, None


def make_plan(rng, boot, index):
    key = f"b{boot}-{index}"
    size = rng.choice([rng.randint(2_000, 60_000), rng.randint(60_000, 600_000), rng.randint(600_000, 3_000_000)])
    rate = rng.choice([0, 0, 400_000, 1_500_000])
    query = f"key={key}" + (f"&rate={rate}" if rate else "")
    url = f"http://127.0.0.1:{ORIGIN_PORT}/file/{size}?{query}"
    if rng.random() < 0.25:
        body = {"user_id": f"user-{index % 3}", "external_request_id": key, "url": url}
        return {"kind": "video", "key": key, "body": body, "size": size}
    body = {"url": url, "file_name": f"file-{key}.bin"}
    if rng.random() < 0.7:
        body["size"] = size
        body["sha256"] = content_sha256(size)
    if rng.random() < 0.6:
        body["upload_targets"] = ["folder"]
        body["delete_after_upload"] = rng.random() < 0.5
    return {"kind": "download", "key": key, "body": body, "size": size}


def content_sha256(size):
    """The SHA-256 of what the origin serves for /file/<size> (its content rule, loopback.py)."""
    sys.path.insert(0, HERE)
    from loopback import content  # noqa: PLC0415
    return hashlib.sha256(content(size)).hexdigest()


def resend(plans):
    """Submissions the host saw sent (or answered) in an earlier boot: sent again, as a client would."""
    for plan in plans:
        status, job = submit(plan)
        tell("resent", key=plan["key"], kind=plan["kind"], status=status, job=job)


def work(rng, boot):
    index = 0
    while True:
        plan = make_plan(rng, boot, index)
        index += 1
        tell("sending", key=plan["key"], kind=plan["kind"], body=plan["body"], size=plan["size"])
        status, job = submit(plan)
        if job is not None:
            tell("accepted", key=plan["key"], kind=plan["kind"], job=job, status=status)
        time.sleep(rng.uniform(0.1, 1.2))


def settle(ferry):
    """Waits until every job is final, then stops Ferry with SIGTERM."""
    final = {"succeeded", "stored", "cleaned", "failed", "cancelled"}
    deadline = time.monotonic() + 900
    counts = {}
    while time.monotonic() < deadline:
        counts, busy = {}, 0
        try:
            for path in ("/api/downloads", "/api/uploads", "/api/videos"):
                before = None
                while True:
                    status, page = call("GET", path + "?limit=500" + (f"&before={before}" if before else ""))
                    if status != 200:
                        raise OSError(f"{path} answered {status}")
                    for job in page["jobs"]:
                        name = f"{job['kind']} {job['state']}"
                        counts[name] = counts.get(name, 0) + 1
                        busy += job["state"] not in final
                    before = page.get("next_before")
                    if not before:
                        break
        except (OSError, http.client.HTTPException, KeyError, TypeError) as error:
            tell("error", what=f"listing jobs: {error}")
            busy = 1
        if busy == 0:
            break
        time.sleep(2)
    tell("settled", counts=counts, all_final=busy == 0)
    ferry.send_signal(signal.SIGTERM)
    try:
        status = ferry.wait(timeout=120)
    except subprocess.TimeoutExpired:
        ferry.kill()
        status = "killed after 120 s"
    tell("stopped", status=status)


def cleanup_run():
    """Asks for a cleanup run and waits for its report."""
    status, answer = call("POST", "/api/health/sync/cleanup", {"dry_run": False})
    if status not in (200, 202):
        tell("error", what=f"cleanup request answered {status}: {answer}")
        return
    run = answer["run"]
    deadline = time.monotonic() + 600
    while run["state"] == "running" and time.monotonic() < deadline:
        time.sleep(1)
        status, run = call("GET", f"/api/cleanup/runs/{run['id']}")
    tell("cleanup", run=run["id"], trigger=run["trigger"], state=run["state"], report=run.get("report"),
         error=run.get("error"))


def main():
    global PORT
    PORT = open_port()
    found = parameters()
    boot, mode, seed = int(found.get("boot", "0")), found.get("mode", "work"), int(found.get("seed", "0"))
    tell("boot", boot=boot, mode=mode)
    os.makedirs(STATE, exist_ok=True)
    origin = start_origin()
    ferry = start_ferry()
    tell("started", pid=ferry.pid)
    if not wait_ready(ferry, 600):
        tell("error", what=f"ferry serve was not ready (exit status {ferry.poll()})")
        return
    tell("ready")
    threading.Thread(target=follow_events, daemon=True).start()
    resends = []
    if os.path.exists(f"{HERE}/resend.json"):
        with open(f"{HERE}/resend.json") as handle:
            resends = json.load(handle)
    try:
        resend(resends)
        cleanup_run()
        if mode == "settle":
            settle(ferry)
        else:
            work(random.Random(seed * 1000 + boot), boot)
    except Exception as error:  # noqa: BLE001 — the host must hear of any failure
        tell("error", what=repr(error))
        raise
    finally:
        origin.kill()


if __name__ == "__main__":
    main()
