"""Scenario readonly-db: the database's ext4 file system aborts under the running supervisor.

A loop image mounted with errors=remount-ro gets an injected error; the daemon must say so
(fail health, 503 to submissions, a refused start), lose no accepted job, and finish them all
once e2fsck has repaired the disk. Needs root, mkfs.ext4 and loop devices.
"""
import os
import shutil
import subprocess
import time
from pathlib import Path

from ..daemon import Ferry, base_config, free_port
from ..database import all_final, query
from ..invariants import check_database
from ..mounts import MOUNTS, unmount
from ..origin import Origin, origin_sha256
from ..processes import CHILDREN, wait_until
from ..report import REPORT, log


def run(args, binary, scratch, lifecycles):
    scenario = "readonly-db"
    name = "the database's file system turning read-only gives a clear error and a fail health"
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4") or not Path("/sys/fs/ext4").exists():
        REPORT.skip(scenario, name, "needs root, mkfs.ext4 and loop devices")
        return
    image = scratch / "db.img"
    mount = scratch / "db-fs"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    result = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], capture_output=True)
    if result.returncode != 0:
        REPORT.skip(scenario, name, f"cannot mount a loop device: {result.stderr.decode().strip()}")
        return
    MOUNTS.append(mount)
    try:
        device = subprocess.run(["findmnt", "-no", "SOURCE", str(mount)], capture_output=True,
                                text=True).stdout.strip()
        origin = Origin(scratch)
        state = scratch / "ro-state"
        database = mount / "ferry.sqlite"
        port = free_port()
        config = base_config(state, port, f"database:\n  path: {database}\n")
        ferry = Ferry(binary, scratch, config, "readonly-db")
        ferry.start()
        accepted = []
        for index in range(20):
            size = 1_500_000
            body = {"url": origin.url(size, key=f"ro-{index}", rate=150_000 if index % 2 else 0),
                    "sha256": origin_sha256(size), "size": size}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": f"ro-{index}"})
            if status == 201:
                accepted.append(answer["id"])
        time.sleep(3)
        # The disk goes bad: ext4 aborts its journal and remounts itself read-only under the supervisor.
        Path(f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error").write_text("chaos: read-only\n")
        log(f"readonly-db: {device} turned read-only under the running supervisor")

        def failing():
            try:
                status, health, _ = ferry.api.call("GET", "/api/health/system", timeout=5)
            except OSError:
                return None
            if status == 503 and health.get("status") == "fail":
                return health
            return None

        health = wait_until(failing, 30, 1)
        reason = ""
        if health:
            reason = "; ".join(c.get("output", "") for checks in health["checks"].values() for c in checks
                               if c["status"] == "fail")
        exited = ferry.process.poll()
        REPORT.check(scenario, name, bool(health) or exited is not None,
                     "within 30 s the supervisor neither reported fail health nor exited",
                     f"health: {reason or '-'}" + (f"; exited {exited}" if exited is not None else ""))
        if health:
            REPORT.check(scenario, name, "database" in reason, f"the fail reason does not name the database: {reason}")
        # A submission now must get a clear error, not a false 201.
        if ferry.process.poll() is None:
            try:
                status, answer, _ = ferry.api.call("POST", "/api/downloads",
                                                   {"url": origin.url(1000, key="ro-late")},
                                                   {"Idempotency-Key": "ro-late"}, timeout=20)
                REPORT.check(scenario, name, status >= 500 and isinstance(answer, dict) and "error" in answer,
                             f"a submission to a read-only database answered {status}: {answer}",
                             f"health: {reason or '-'}; a submission gets {status} "
                             f"{answer.get('error', {}).get('code') if isinstance(answer, dict) else answer}")
            except OSError as error:
                REPORT.violate(scenario, name, f"a submission to a read-only database got no answer: {error}")
        # Let it run a while like systemd would: restarts must not spin or eat jobs.
        crash = "no crash loop that eats jobs while the database is read-only"
        restarts = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ferry.process.poll() is not None:
                restarts += 1
                code = ferry.process.returncode
                tail = ferry.log_tail(3)
                if restarts == 1:
                    REPORT.detail(scenario, crash, f"the supervisor exited {code}: {tail.splitlines()[-1:]}")
                time.sleep(2)  # systemd's RestartSec
                ferry.start(wait=False)
            time.sleep(0.5)
        log(f"readonly-db: {restarts} restart(s) while read-only")
        status = ferry.stop(timeout=40)
        REPORT.check(scenario, crash, status is not None, "the supervisor did not stop on SIGTERM within 40 s "
                     "while its database was read-only")
        # As systemd would: start it again while the disk is still bad. It must refuse at once, clearly.
        ferry.start(wait=False)
        try:
            code = ferry.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        tail = ferry.log_tail(40)
        refusal = [line for line in tail.splitlines() if "database" in line.lower() and "ferry:" in line][-1:]
        REPORT.check(scenario, crash, code not in (0, None) and refusal,
                     f"a start on the read-only database exited {code}: {tail[-300:]}",
                     f"a start while read-only exits {code}: {refusal[0][-140:] if refusal else '-'}")
        if ferry.process.poll() is None:
            ferry.stop(timeout=20)
        # Repair: unmount, fsck, mount again, start: every accepted job must still be there and finish.
        unmount(mount)
        MOUNTS.remove(mount)
        fsck = subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, text=True)
        subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], check=True)
        MOUNTS.append(mount)
        log(f"readonly-db: e2fsck exit {fsck.returncode}; after the repair: "
            f"{ {p.name: p.stat().st_size for p in mount.iterdir()} }, "
            f"{query(database, 'SELECT count(*) FROM jobs')[0][0]} jobs")
        ferry.start()

        wait_until(lambda: all_final(database), 120, 1)
        rows = query(database, "SELECT id, state, last_error_code, last_error FROM jobs")
        ids = {r["id"] for r in rows}
        REPORT.check(scenario, crash, set(accepted) <= ids,
                     f"accepted jobs lost: {sorted(set(accepted) - ids)}")
        bad = [tuple(r) for r in rows if r["state"] != "succeeded"]
        REPORT.check(scenario, crash, not bad, f"jobs that did not succeed after the repair: {bad}")
        REPORT.detail(scenario, crash, (REPORT.invariants[(scenario, crash)]["detail"] + "; " if
                                        REPORT.invariants[(scenario, crash)]["detail"] else "")
                      + f"{restarts} restart(s) while read-only; after fsck (exit {fsck.returncode}) "
                      f"all {len(accepted)} accepted jobs succeeded")
        stop_status = ferry.stop()
        REPORT.check(scenario, crash, stop_status == 0, f"the final stop exited {stop_status}")
        check_database(scenario, database, lifecycles)
    finally:
        for process in CHILDREN:
            if process.poll() is None and process.args[1:2] == ["serve"]:
                process.kill()
                process.wait()
        if mount in MOUNTS:
            unmount(mount)
            MOUNTS.remove(mount)
