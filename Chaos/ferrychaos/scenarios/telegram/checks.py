"""The telegram scenario's invariants, judged from the database, the folder target and what each
fake Bot API saw.

- Every message became exactly one download (a repeat, a stranger and a text without a link
  none), with the bytes it carried; every update was recorded and acknowledged.
- Every upload to a Telegram target arrived in its chat byte-identical, exactly once, unless an
  attempt of it ended in doubt (its answer lost, its worker or supervisor killed): the Bot API has
  no idempotency key, so only there may a second copy appear, and never more copies than doubts.
- Nothing is left queued: every download and upload succeeded.
- Sends to a chat honour flood control across processes: none inside a 429's retry_after, and
  about a second apart per chat.
"""
import re
from pathlib import Path

from ...database import query
from ...invariants import file_sha256
from ...report import REPORT

# How much earlier than its turn a send may arrive: the pacer's clock and the server's are the
# same, but a request takes from a few to (on a loaded machine) a few hundred milliseconds from
# its turn to the server's first look at it, and the one before may have taken longer.
PACING_SLACK = 0.3


def load(database):
    """The store's jobs, Telegram sources, uploads, downloads, bots and doubts: `database` is a SQLite
    file's path or a `PostgresStore` (the cluster-telegram scenario)."""
    jobs = {r["id"]: r for r in query(database, "SELECT * FROM jobs")}
    sources = query(database, "SELECT * FROM telegram_sources")
    uploads = {r["job_id"]: r for r in query(database, "SELECT * FROM uploads")}
    downloads = {r["job_id"]: r for r in query(database, "SELECT * FROM downloads")}
    bots = {r["name"]: r for r in query(database, "SELECT * FROM telegram_bots")}
    doubts = {}  # per job: attempts that ended in doubt (requeued, or their send unanswered)
    resends = 0  # of those, the ones Ferry counted as resends (ferry_telegram_resends_total)
    for row in query(database, "SELECT job_id, cause, reason FROM job_events "
                     "WHERE cause = 'requeue' OR reason LIKE '%telegram_answer_lost%'"):
        doubts[row["job_id"]] = doubts.get(row["job_id"], 0) + 1
        resends += row["cause"] != "requeue"
    return jobs, sources, uploads, downloads, bots, (doubts, resends)


def check_telegram_results(scenario, messages, bots, database, states, lost_nodes=frozenset()):
    """`lost_nodes`: node ids gone for good with their files (cluster-telegram): a download they had
    delivered but not yet removed stays delivered, as no other node can remove it. Returns the jobs
    and uploads it read, for the checks that follow."""
    jobs, sources, uploads, downloads, bot_rows, doubts = load(database)
    check_downloads(scenario, messages, bots, jobs, sources, bot_rows, states)
    check_nothing_queued(scenario, jobs, uploads, downloads, lost_nodes)
    check_uploads(scenario, bots, jobs, uploads, doubts, states)
    return jobs, uploads


def check_downloads(scenario, messages, bots, jobs, sources, bot_rows, states):
    name = "every message became exactly one download (none for a repeat, a stranger, no link), with its bytes"
    REPORT.declare(scenario, name)
    by_update = {}
    for row in sources:
        by_update.setdefault((row["bot"], row["update_id"]), []).append(row["job_id"])
    seen = set()
    for message in messages:
        key = (message.bot.name, message.update_id)
        seen.add(key)
        found = by_update.get(key, [])
        wanted = 1 if message.expected else 0
        if len(found) != wanted:
            REPORT.violate(scenario, name, f"{message.bot.name} update {message.update_id} ({message.kind}) made "
                           f"{len(found)} downloads {found}, expected {wanted}")
            continue
        if not found:
            continue
        job = jobs[found[0]]
        size, sha256 = message.expected
        if job["state"] == "succeeded" and (job["result_size"], job["result_sha256"]) != (size, sha256):
            REPORT.violate(scenario, name, f"download {job['id']} of {message.bot.name} update {message.update_id} "
                           f"({message.kind}) holds {job['result_size']} bytes {job['result_sha256']}, "
                           f"sent {size} bytes {sha256}")
        if job["state"] == "succeeded" and job["result_location"] and Path(job["result_location"]).exists() \
                and file_sha256(job["result_location"]) != sha256:
            REPORT.violate(scenario, name, f"download {job['id']}: {job['result_location']} differs from its record")
    made_up = [key for key in by_update if key not in seen]
    if made_up:
        REPORT.violate(scenario, name, f"downloads of updates nobody sent: {made_up[:10]}")
    from_elsewhere = [j["id"] for j in jobs.values() if j["kind"] == "download"
                      and j["id"] not in {r["job_id"] for r in sources}]
    if from_elsewhere:
        REPORT.violate(scenario, name, f"downloads that came through no bot: {from_elsewhere[:10]}")
    REPORT.detail(scenario, name, f"{len(messages)} messages, {sum(1 for m in messages if m.expected)} with work, "
                  f"{len(sources)} downloads")

    acknowledged = "every update was recorded and then acknowledged (nothing pending at the fake Bot APIs)"
    REPORT.declare(scenario, acknowledged)
    for bot in bots:
        state = states[bot.name]
        recorded = bot_rows.get(bot.name)
        if state["confirmed_offset"] != state["next_update"] or state["pending"]:
            REPORT.violate(scenario, acknowledged, f"{bot.name}: confirmed offset {state['confirmed_offset']}, "
                           f"next update {state['next_update']}, {state['pending']} pending")
        if recorded is None or recorded["next_offset"] != state["next_update"]:
            REPORT.violate(scenario, acknowledged, f"{bot.name}: recorded offset "
                           f"{recorded['next_offset'] if recorded else None}, next update {state['next_update']}")


def check_nothing_queued(scenario, jobs, uploads, downloads, lost_nodes=frozenset()):
    name = ("nothing is left queued: every download and upload succeeded, "
            "and a download to delete after its uploads is gone once they all did")
    REPORT.declare(scenario, name)
    counts = {}
    for job in jobs.values():
        counts[(job["kind"], job["state"])] = counts.get((job["kind"], job["state"]), 0) + 1
        if job["state"] not in ("succeeded", "cleaned"):
            REPORT.violate(scenario, name, f"{job['kind']} job {job['id']} is {job['state']} "
                           f"({job['last_error_code']}: {job['last_error']})")
    for upload in uploads.values():
        download = jobs[upload["download_id"]]
        stranded = "node" in download.keys() and download["node"] in lost_nodes \
            and jobs[upload["job_id"]]["state"] == "succeeded"
        if downloads[download["id"]]["delete_after_upload"] and not stranded and (
                jobs[upload["job_id"]]["state"] != "cleaned" or Path(download["result_location"]).exists()):
            REPORT.violate(scenario, name, f"upload {upload['job_id']} is {jobs[upload['job_id']]['state']} and "
                           f"{download['result_location']} is still there, though download {download['id']} "
                           f"was to be deleted after its uploads")
    REPORT.detail(scenario, name, ", ".join(f"{k} {s} {n}" for (k, s), n in sorted(counts.items())))


def check_uploads(scenario, bots, jobs, uploads, doubts_and_resends, states):
    name = ("every upload to a Telegram target arrived in its chat once, byte-identical "
            "(a second copy only after an attempt in doubt)")
    REPORT.declare(scenario, name)
    doubts, counted = doubts_and_resends
    delivered = copies_total = resent = 0
    for bot in bots:
        if not bot.target:
            continue
        sent = [m for m in states[bot.name]["sent"] if m["method"] == bot.send_method]
        by_download = {}
        for message in sent:
            match = re.match(r"d(\d+) ", message.get("caption") or "")
            if not match or message["chat_id"] != str(bot.target_chat):
                REPORT.violate(scenario, name, f"{bot.name}: a message no upload explains: {message}")
                continue
            by_download.setdefault(int(match[1]), []).append(message)
        ours = {u["download_id"]: u for u in uploads.values() if u["target"] == bot.target}
        for download_id, copies in by_download.items():
            if download_id not in ours:
                REPORT.violate(scenario, name, f"{bot.name}: download {download_id} reached chat "
                               f"{bot.target_chat} without an upload to {bot.target}")
        for download_id, upload in ours.items():
            job = jobs[upload["job_id"]]
            download = jobs[download_id]
            copies = by_download.get(download_id, [])
            copies_total += len(copies)
            if job["state"] not in ("succeeded", "cleaned"):
                continue  # reported as left queued
            delivered += 1
            if not copies:
                REPORT.violate(scenario, name, f"upload {job['id']} of download {download_id} succeeded "
                               f"({job['result_location']}) but chat {bot.target_chat} has no copy")
                continue
            wrong = [c for c in copies if (c["size"], c["sha256"]) != (download["result_size"],
                                                                        download["result_sha256"])]
            if wrong:
                REPORT.violate(scenario, name, f"upload {job['id']}: chat {bot.target_chat} got {len(wrong)} "
                               f"copies whose bytes differ from download {download_id}'s")
            message_id = re.search(r"message=(\d+)", job["result_location"] or "")
            if not message_id or int(message_id[1]) not in {c["message_id"] for c in copies}:
                REPORT.violate(scenario, name, f"upload {job['id']}: its result {job['result_location']} names "
                               f"no message of chat {bot.target_chat} ({[c['message_id'] for c in copies]})")
            if len(copies) - 1 > doubts.get(job["id"], 0):
                REPORT.violate(scenario, name, f"upload {job['id']} of download {download_id} arrived "
                               f"{len(copies)} times after {doubts.get(job['id'], 0)} attempt(s) in doubt")
            resent += len(copies) - 1
    REPORT.detail(scenario, name, f"{delivered} uploads to Telegram, {copies_total} messages in the chats, "
                  f"{resent} second copies after a doubt, {counted} resends counted")


def check_send_markers(scenario, state):
    """Every send an attempt marked as in progress was settled (see TelegramSendMarker.swift)."""
    folder = Path(state) / "telegram" / "sending"
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    REPORT.check(scenario, "no send is left marked as in progress", not left,
                 f"markers of upload jobs {left[:10]} remain in {folder}")


def check_folder(scenario, jobs, uploads, folder):
    name = "every upload to the folder target is byte-identical to its download"
    REPORT.declare(scenario, name)
    count = 0
    for upload in uploads.values():
        job = jobs[upload["job_id"]]
        if upload["target"] != "folder" or job["state"] not in ("succeeded", "cleaned"):
            continue
        count += 1
        path = Path(job["result_location"])
        if not path.is_file() or file_sha256(path) != job["result_sha256"]:
            REPORT.violate(scenario, name, f"upload {job['id']}: {path} is missing or differs")
    REPORT.detail(scenario, name, f"{count} files")


def check_flood_control(scenario, bots, states, excused=(), stopped=()):
    """No send to a chat inside a 429's retry_after; sends to a chat about a second apart.
    `excused`: (from, to) wall-clock windows in which the turns could not be shared (the cluster's
    database down: each node then paces its own sends); a send inside one is counted, not judged.
    `stopped`: (from, to) wall-clock windows in which a process that may have been sending was
    SIGKILLed (from == to) or frozen: a 429 answered to it is kept by nobody (or only once it
    resumes), so a send inside the retry_after is counted, not judged, when one of these falls
    between the 429 and the send."""
    held = "no send to a chat while a 429's retry_after holds it (across processes and restarts)"
    spaced = "sends to a chat are spaced about a second apart (across processes)"
    REPORT.declare(scenario, held)
    REPORT.declare(scenario, spaced)
    sends = holds = unjudged = unheard = 0
    for bot in bots:
        log = sorted(states[bot.name]["call_log"], key=lambda c: c["at"])
        by_chat = {}
        for call in log:
            by_chat.setdefault(call["chat_id"], []).append(call)
        for chat, calls in by_chat.items():
            hold_until, hold_from = 0.0, None
            for before, call in zip([None] + calls, calls):
                sends += 1
                judged = not any(start <= call["at"] <= end for start, end in excused)
                unjudged += not judged
                if judged and call["at"] < hold_until - PACING_SLACK:
                    if any(start <= call["at"] and end >= hold_from for start, end in stopped):
                        unheard += 1
                    else:
                        REPORT.violate(scenario, held, f"{bot.name}: {call['method']} to chat {chat} at "
                                       f"{call['at']:.3f}, {hold_until - call['at']:.2f} s inside the "
                                       f"retry_after of the 429 at {hold_from:.3f}")
                if judged and before is not None and call["at"] - before["at"] < 1.0 - PACING_SLACK:
                    REPORT.violate(scenario, spaced, f"{bot.name}: {call['method']} to chat {chat} "
                                   f"{call['at'] - before['at']:.3f} s after the one before")
                if call.get("answer") == 429:
                    holds += 1
                    hold_from = call["at"]
                    hold_until = max(hold_until, call["at"] + call["retry_after"])
    excuse = f", {unjudged} sent while the database was down not judged" if excused else ""
    unheard_note = (f", {unheard} sent inside a hold not judged (a process that may have had the 429's answer "
                    "was SIGKILLed or frozen between it and the send)") if unheard else ""
    REPORT.detail(scenario, held, f"{holds} 429s, {sends} sends{excuse}{unheard_note}")
    REPORT.detail(scenario, spaced, f"{sends} sends{excuse}")
