"""Scenario power: real power cuts. A small Debian guest under qemu runs `ferry serve` (the static
release binary) with an origin on its own loopback and a folder target on the same disk, and a
driver that submits downloads (some delivered to the folder, some of those removed after
delivery) and video stores, telling the host every acknowledgement Ferry gave. The host SIGKILLs
qemu at a random moment — during the start and recovery, at any point of the work, right after
a job succeeded (its upload and clean-up under way), during cleanup runs and backups — while the
disk keeps only what the guest flushed (volatile_disk.py). Then it mounts the disk and checks
(checks.py), boots again so Ferry recovers and reconciles, and cuts again. After the last cut the
guest settles, Ferry stops cleanly, and everything is checked once more.

`--power-cuts N` (default 3 in the short run, `make chaos-power` asks for 20). The guest's root
is cached (image.py). Needs root (debootstrap, a loop mount for the checks) and qemu.
"""
import json
import os
import random
import shutil
import time
from pathlib import Path

from ...invariants import file_sha256
from ...report import REPORT, log
from . import checks
from .checks import SCENARIO, Mounted
from .image import GUEST_STATE, base_image, make_disk
from .machine import Boot

GUEST_CONFIG = f"""state_dir: {GUEST_STATE}/state
workers:
  download:
    processes: 1
    concurrency: 3
  upload:
    processes: 1
    concurrency: 2
  store:
    processes: 1
    concurrency: 2
retry:
  download:
    max_attempts: 40
    initial_delay: 500ms
    max_delay: 4s
  upload:
    max_attempts: 40
    initial_delay: 500ms
    max_delay: 4s
  video:
    max_attempts: 40
    initial_delay: 500ms
    max_delay: 4s
downloads:
  idle_timeout: 60s
  spool_reserve: 16MiB
cleanup:
  sweep_interval: 10s
  pending_scan_interval: 5s
  pending_min_age: 2s
  run_interval: 12s
  verify_hashes: true
  settle_time: 60s
backup:
  interval: 20s
  keep: 2
  folder: {GUEST_STATE}/backups
targets:
  folder:
    type: dir
    path: {GUEST_STATE}/target
http:
  address: 127.0.0.1
  port: 8080
"""


class Ledger:
    """What the host heard from the driver over every boot: submissions and their jobs, transitions."""

    def __init__(self):
        self.submissions = {}  # key -> {kind, body, size, job, acked_boot}
        self.events = {}  # event id -> (job, to, cause, boot)
        self.resent = []  # (boot, key, job before, answer)
        self.errors = []

    def acknowledged(self):
        return sum(1 for s in self.submissions.values() if s.get("job") is not None)

    def take(self, boot, messages):
        for message in messages:
            kind = message["t"]
            if kind == "sending":
                self.submissions.setdefault(message["key"], {
                    "kind": message["kind"], "body": message["body"], "size": message["size"], "job": None})
            elif kind == "accepted":
                self.record_job(boot, message["key"], message["job"])
            elif kind == "resent":
                before = self.submissions.get(message["key"], {}).get("job")
                self.resent.append((boot, message["key"], before, message["job"]))
                if message["job"] is not None:
                    self.record_job(boot, message["key"], message["job"])
            elif kind == "event":
                self.events[message["id"]] = (message["job"], message["to"], message["cause"], boot)
            elif kind in ("error", "garbled"):
                self.errors.append(f"boot {boot}: {message}")

    def record_job(self, boot, key, job):
        submission = self.submissions[key]
        if submission["job"] is None:
            submission["job"], submission["acked_boot"] = job, boot

    def resend_list(self, rng):
        """Submissions never answered (a client sends them again), and a few answered ones."""
        unanswered = [k for k, s in self.submissions.items() if s["job"] is None]
        answered = [k for k, s in self.submissions.items() if s["job"] is not None]
        chosen = unanswered + rng.sample(answered, min(3, len(answered)))
        return [{"key": k, "kind": self.submissions[k]["kind"], "body": self.submissions[k]["body"]} for k in chosen]


def choose_cut(rng):
    """(anchor, delay): cut `delay` seconds after the anchor message."""
    roll = rng.random()
    if roll < 0.15:
        return "started", rng.uniform(0.5, 6)  # during the start: recovery, the startup requeue
    if roll < 0.45:
        return "succeeded", rng.uniform(0, 1.5)  # an upload starting, a delivered file being removed
    return "working", rng.uniform(1, 25)  # anywhere in the work: downloads, renames, commits, cleanups


def wait_anchor(boot, anchor, deadline):
    """Waits for the anchor; returns the moment (host monotonic) it was seen, or None."""
    while time.monotonic() < deadline and boot.running():
        if anchor == "started" and boot.seen("started"):
            return time.monotonic()
        if anchor == "working" and boot.seen("cleanup"):
            return time.monotonic()
        if anchor == "succeeded" and any(m["to"] == "succeeded" for m in boot.seen("event")):
            return time.monotonic()
        time.sleep(0.05)
    return None


def classify(boot, after):
    """What the cut interrupted: the start, or what the records show under way when it came."""
    if not boot.seen("ready"):
        return "mid-start"
    if after is None:
        return "before the database existed"
    running = [j for j in after["jobs"].values() if j["state"] in ("running", "storing")]
    kinds = sorted({j["kind"] for j in running})
    if any(r["state"] == "running" for r in after["cleanup_runs"]):
        kinds.append("cleanup")
    return "mid-" + "+".join(kinds) if kinds else "idle"


def run(args, binary, scratch, lifecycles):
    cuts = args.power_cuts
    if cuts <= 0:
        REPORT.skip(SCENARIO, checks.ACKED_INPUT, "--power-cuts 0")
        return
    if os.geteuid() != 0:
        REPORT.skip(SCENARIO, checks.ACKED_INPUT, "needs root (debootstrap, a loop mount for the checks)")
        return
    # `make chaos-power` names the static release binary it just built; otherwise the suite's own
    # binary goes in, with the toolchain's Swift libraries it loads copied into the guest.
    release = Path(os.environ.get("FERRY_POWER_BIN") or binary)
    if not release.exists():
        raise SystemExit(f"chaos: {release} does not exist (FERRY_POWER_BIN)")
    rng = random.Random(args.seed)
    began = time.monotonic()
    base = base_image()
    folder = scratch / "power"
    folder.mkdir()
    config = GUEST_CONFIG
    if args.tamper:
        # The checks' own check: commits that are not synced (a missing fsync on every commit) must
        # lose acknowledged transitions at a cut, and the run must say so.
        log("power: TAMPERING on purpose: database.synchronous: normal, so the run must fail")
        config = "database:\n  synchronous: normal\n" + config
    disk = make_disk(base, folder, release, config)
    log(f"power: {cuts} cuts; guest disk {disk} ready after {time.monotonic() - began:.0f} s; binary {release}")
    ledger = Ledger()
    mount = folder / "mnt"
    moments = {}
    reconciled = 0
    unflushed_cuts, lost_blocks = 0, 0
    for number in range(1, cuts + 2):
        settle = number == cuts + 1
        with Mounted(disk, mount) as root:
            resend = ledger.resend_list(rng) if number > 1 else []
            (root / "ferry-chaos/resend.json").write_text(json.dumps(resend))
        boot = Boot(base, disk, folder, number, "settle" if settle else "work", args.seed, keep=rng.choice([0, 0.5, 0.9]))
        if settle:
            finished = boot.wait_for("stopped", 1200)
            boot.qemu.wait(timeout=120) if boot.running() and finished else None
            report = boot.cut() if boot.running() else boot.finish()
            label = "settled"
        else:
            anchor, delay = choose_cut(rng)
            seen = wait_anchor(boot, anchor, time.monotonic() + 600)
            if seen is None and anchor == "succeeded":
                seen = time.monotonic()  # nothing succeeded in time: cut anyway
            if seen is None:
                REPORT.violate(SCENARIO, checks.RECONCILE, f"boot {number}: the guest never reached '{anchor}' "
                               f"(see {boot.console})")
            else:
                time.sleep(max(0.0, seen + delay - time.monotonic()))
            report = boot.cut()
            label = f"cut {number}"
        ledger.take(number, boot.messages)
        cleanups = boot.seen("cleanup")
        checks.check_cleanup(f"boot {number}", cleanups[0] if cleanups else None)
        reconciled += bool(cleanups)
        for _, key, before, answer in [r for r in ledger.resent if r[0] == number]:
            REPORT.check(SCENARIO, checks.RESENT, before is None or before == answer,
                         f"boot {number}: {key} was job {before}, sent again it got {answer}")
        with Mounted(disk, mount) as root:
            facts = checks.check_disk(label, root, ledger, lifecycles, folder)
            if settle:
                check_settled(root, boot, facts, ledger)
        what = classify(boot, facts) if not settle else "settle"
        moments[what] = moments.get(what, 0) + 1
        unflushed = report.get("cut_unflushed_blocks")
        if unflushed and not settle:
            unflushed_cuts += 1
            lost_blocks += report.get("cut_lost_blocks", 0)
        log(f"power: {label} after {time.monotonic() - boot.started:.0f} s of boot ({what}); "
            f"{len(boot.messages)} messages, {ledger.acknowledged()} acknowledged submissions, "
            f"{len(ledger.events)} transitions; disk: {report.get('flushes', '?')} flushes"
            + (f", {unflushed} unflushed blocks at the cut, {report.get('cut_kept_blocks')} kept"
               if unflushed is not None and not settle else ""))
    for error in ledger.errors:
        REPORT.violate(SCENARIO, checks.SETTLED, f"the guest's driver reported: {error}")
    REPORT.detail(SCENARIO, checks.RECONCILE, f"{cuts} cuts: " + ", ".join(f"{v} {k}" for k, v in sorted(moments.items()))
                  + f"; {reconciled} of {cuts + 1} boots reconciled before the next cut; {unflushed_cuts} cuts "
                  f"found unflushed writes on the disk, {lost_blocks} blocks of them lost")
    REPORT.declare(SCENARIO, checks.RESENT)
    REPORT.detail(SCENARIO, checks.RESENT, f"{len(ledger.resent)} submissions sent again")
    log(f"power: done in {time.monotonic() - began:.0f} s")
    if not args.keep:
        disk.unlink(missing_ok=True)
    shutil.rmtree(mount, ignore_errors=True)


def check_settled(root, boot, facts, ledger):
    name = checks.SETTLED
    REPORT.declare(SCENARIO, name)
    settled = boot.seen("settled")
    stopped = boot.seen("stopped")
    if not settled or not settled[-1].get("all_final"):
        REPORT.violate(SCENARIO, name, f"the jobs did not all end: {settled[-1] if settled else 'no report'}")
    if not stopped or stopped[-1].get("status") != 0:
        REPORT.violate(SCENARIO, name, f"ferry serve did not stop cleanly: {stopped[-1] if stopped else 'no report'}")
    if facts is None:
        return
    jobs = facts["jobs"]
    for job in jobs.values():
        good = {"download": ("succeeded",), "upload": ("succeeded", "cleaned"), "video": ("stored",)}[job["kind"]]
        if job["state"] not in good:
            REPORT.violate(SCENARIO, name, f"{job['kind']} {job['id']} ended {job['state']}: "
                           f"{job['last_error_code']}: {job['last_error']}")
    recorded = {j["result_location"] for j in jobs.values() if j["result_location"]}
    state = root / GUEST_STATE.lstrip("/") / "state"
    for folder in ("downloads", "videos"):
        for parent, _, names in os.walk(state / folder):
            for file_name in names:
                guest = "/" + str((Path(parent) / file_name).relative_to(root))
                if guest not in recorded:
                    REPORT.violate(SCENARIO, name, f"{guest} is at a final path with no record")
    target = root / GUEST_STATE.lstrip("/") / "target"
    litter = [str(Path(p) / n) for p, _, ns in os.walk(target) for n in ns if n.startswith(".")]
    if litter:
        REPORT.violate(SCENARIO, name, f"temporary copies left in the target folder: {litter[:5]}")
    # The cleanup quarantines files no record claims. After cuts these are delivered files whose
    # removal was lost (the records say "cleaned" first, then the file goes) or files published
    # just before a cut lost their record; either way each must be whole.
    quarantined = [Path(p) / n for p, _, ns in os.walk(state / "quarantine") for n in ns]
    delivered = 0
    for path in quarantined:
        relative = path.relative_to(state / "quarantine")
        download = int(relative.parts[1]) if relative.parts[0] == "downloads" and relative.parts[1].isdigit() else None
        want = checks.expected_sha(facts, download) if download else None
        if want is not None and (path.stat().st_size, file_sha256(path)) != want:
            REPORT.violate(SCENARIO, checks.PARTIAL, f"settled: quarantined {relative} is not the whole file")
        if download and facts["downloads"].get(download, {}).get("delete_after_upload"):
            delivered += 1
    REPORT.detail(SCENARIO, name, f"{len(jobs)} jobs; {len(quarantined)} file(s) quarantined as orphans, "
                  f"{delivered} of them delivered files whose removal a cut lost")
