"""The fire scenario's submissions: what each asks for, which fault it meets, what it must become.

A client that repeats a request (same idempotency key) whenever the daemon is down or busy, as a
real one would; every answer is remembered so the checks can tell a lost job from a made-up one.
"""
import time

from ...origin import origin_sha256


class Plan:
    """One submission: a download (with its targets) or a video, and what it is expected to become."""

    def __init__(self, kind, key, body, size, fault, expect, seeds_vary=False):
        self.kind, self.key, self.body, self.size, self.fault = kind, key, body, size, fault
        self.expect = expect  # "succeed", "fail" or "either"
        self.seeds_vary = seeds_vary  # the content changes with each request: any served version is fine
        self.job_id = None
        self.refused = None
        self.answers = []  # every job id the server answered with, in order
        self.cancelled = set()  # jobs whose cancel an operator got acknowledged: they must end cancelled


def make_plans(rng, count, origin, run_id):
    plans = []
    weights = {"none": 26, "cut": 16, "500": 10, "429": 10, "trickle": 10, "changing": 6,
               "changing-sha": 4, "no-ranges": 5, "weak": 5, "404": 2, "disposition": 6}
    faults = list(weights)
    for index in range(count):
        key = f"{run_id}-{index}"
        roll = rng.random()
        if roll < 0.70:
            size = rng.randint(4096, 300_000)
        elif roll < 0.90:
            size = rng.randint(300_000, 2_000_000)
        elif roll < 0.98:
            size = rng.randint(2_000_000, 5_000_000)
        else:
            size = rng.randint(6 << 20, 11 << 20)  # multipart to S3
        is_video = index % 5 == 4
        fault = rng.choices(faults, [weights[f] for f in faults])[0]
        if is_video and fault in ("changing", "changing-sha", "no-ranges", "weak", "404", "disposition"):
            fault = "none"
        if fault in ("changing", "changing-sha"):
            size = min(size, 1_000_000)
        options = {"key": key}
        expect, vary = "succeed", False
        if fault == "cut" or fault in ("no-ranges", "weak"):
            options["cut"] = rng.randint(1, size - 1)
        if fault == "no-ranges":
            options["ranges"] = 0
        if fault == "weak":
            options["weak"] = 1
        if fault == "500":
            options.update({"fail": 500, "failures": rng.randint(1, 3)})
        if fault == "429":
            options.update({"fail": 429, "failures": rng.randint(1, 2)})
        if fault == "trickle":
            options["rate"] = rng.randint(150_000, 500_000)
            size = rng.randint(600_000, 2_500_000)
        if fault in ("changing", "changing-sha"):
            options["changing"] = 1
            options["rate"] = 400_000  # slow enough that kills land mid-body now and then
            vary = fault == "changing"
            expect = "either" if fault == "changing-sha" else "succeed"
        if fault == "disposition":
            options["disposition"] = f"clip {index}.mp4"
        url = origin.url(size, **options)
        if fault == "404":
            url = f"{origin.base}/missing/{key}"
            expect = "fail"
        if is_video:
            body = {"user_id": f"user-{index % 7}", "external_request_id": key, "url": url,
                    "metadata": {"chaos": index}}
            plans.append(Plan("video", key, body, size, fault, expect))
            continue
        targets = rng.choice([[], ["folder"], ["bucket"], ["folder", "bucket"]])
        body = {"url": url}
        if fault != "disposition" and rng.random() < 0.8:
            body["file_name"] = f"file-{index}.bin"
        if not vary and fault != "404" and fault != "changing-sha" and rng.random() < 0.8:
            body["sha256"] = origin_sha256(size)
            body["size"] = size
        if fault == "changing-sha":
            body["sha256"] = origin_sha256(size)
        if targets:
            body["upload_targets"] = targets
            body["delete_after_upload"] = rng.random() < 0.4
        plans.append(Plan("download", key, body, size, fault, expect, vary))
    return plans


def submit(ferry, plan, stop_at):
    """Sends the request until the server answers it (the same key makes a repeat harmless).
    `ferry` is the daemon, or a function that names the node to try next (a cluster's client)."""
    path = "/api/downloads" if plan.kind == "download" else "/api/videos"
    headers = {"Idempotency-Key": plan.key} if plan.kind == "download" else {}
    tries = 0
    while time.monotonic() < stop_at:
        tries += 1
        try:
            node = ferry() if callable(ferry) else ferry
            status, answer, _ = node.api.call("POST", path, plan.body, headers, timeout=20)
        except OSError:
            time.sleep(0.3)
            continue
        if status in (200, 201):
            # A repeat after the job failed or was cancelled makes a new one (that frees the key).
            plan.answers.append(answer["id"])
            plan.job_id = answer["id"]
            return tries
        if status in (502, 503, 504) or status >= 500:
            time.sleep(0.3)
            continue
        plan.refused = f"HTTP {status}: {answer}"
        return tries
    plan.refused = plan.refused or "never answered"
    return tries
