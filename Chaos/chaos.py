#!/usr/bin/env python3
"""Ferry's chaos suite: the real `ferry serve` under fire, then every invariant checked.

    Chaos/chaos.py                          # every scenario, the short run (`make chaos`, CI)
    Chaos/chaos.py --scenario fire --duration 1800     # a soak (`make chaos-soak DURATION=1800`)
    Chaos/chaos.py --list                   # the scenarios
    Chaos/chaos.py --scenario fire --seed 7 --keep     # replay one run, keep its scratch folder
    Chaos/chaos.py --scenario fire --tamper            # check the checks: must fail, listing the damage
    Chaos/chaos.py --scenario power --tamper           # the same for the power cuts (commits not synced)

Scenarios (run in this order by `--scenario all`):
  fire          downloads (to a folder and to moto's S3 server) and video stores from a
                fault-injecting origin (cuts, 500s, 429 + Retry-After, trickles, content that
                changes between requests, no range support, weak validators, 404s) while workers
                are SIGKILLed every few seconds, the supervisor is SIGKILLed and restarted, a
                worker is SIGSTOPped until it is declared hung, and SIGHUP reloads a changed, then
                an invalid, configuration. Then it settles and checks the invariants.
  telegram      300 messages with media and links to four bots on fake Bot APIs, relayed to folders
                and Telegram chats, while the telegram, download and upload workers and the
                supervisor are SIGKILLed and the fake servers answer 429s and 5xx and cut
                connections; every message must become exactly one download, every upload reach
                its chat once (twice only after an attempt in doubt), byte-identical, paced.
  aria2         100+ mixed downloads through aria2 (torrents as magnets and .torrent URLs, single
                files and folders, from a loopback seeder and tracker; FTP with cut connections;
                HTTP from the origin, some through aria2) while aria2c is SIGKILLed every few
                seconds, a download worker now and then, and the supervisor, and stray tasks are
                added to aria2c over its RPC; aria2's tasks are
                compared with the jobs all along (through an `aria2.program` wrapper that notes
                each aria2c's RPC port and secret). A third of --duration (30 s in the short run).
  disk-full     the state folder on a small tmpfs fills up mid-transfer; space returns.
  full-target   a dir target on a 20 MiB tmpfs gets 40 MiB of uploads: attempts fail with
                disk_full, none for good, sources kept, no partial file at a final name; then
                space returns and every upload succeeds byte-identical, no temporary file left.
  readonly-db   the database's file system turns read-only under the running supervisor
                (an ext4 image with errors=remount-ro and an injected error); then it is repaired.
  s3-faults     uploads to moto's S3 server behind a fault proxy (500 InternalError, 503 SlowDown,
                connections cut halfway through a part, a slow trickle, Complete- and
                CreateMultipartUpload failing after the server did them): every upload ends
                succeeded, each object is there once with the right content, no multipart upload
                is left unfinished.
  cluster       three `ferry serve` nodes (lease 6 s) on one PostgreSQL server the suite starts
                itself (initdb as `nobody` in a temporary folder, loopback only) and one S3 server,
                520+ submissions from the fault-injecting origin spread over the nodes, while a
                whole node is SIGKILLed (the others must finish its jobs and fetch again the files
                whose uploads waited there), another's supervisor is SIGSTOPped past its lease and
                SIGCONTed (it must fence itself: exit 75, no late report applied, no object
                written twice) and PostgreSQL is restarted; then every invariant above holds for
                the whole cluster. Prints node death → take-over beside the lease, SIGCONT →
                fenced exit and completions per node. About 95 s.
  bad-config    truncated and garbage configuration files.
  bad-database  a garbage and a truncated database file.
  bad-api       malformed API requests.
  power         real power cuts: a Debian guest under qemu runs ferry serve with an origin on its
                own loopback and a folder target on the same disk; qemu is SIGKILLed at random
                moments while its disk keeps only what the guest flushed (unflushed writes are lost
                or partly kept, as a disk's write cache is). After each cut the disk is mounted
                and checked, the guest boots again, Ferry recovers and reconciles; then it settles.
                --power-cuts N (default 3; `make chaos-power` runs 20 with the release binary).

The disk scenarios and power need root (mounts); without it they are reported as skipped. Every
process started here (origin, moto, fake Bot APIs, PostgreSQL, ferry, qemu) is killed on exit, and
every mount is undone. The exit status is 0 only when every invariant held; otherwise the violations are
listed, each with its reason.

The code is the package ferrychaos/ next to this file: a shared core (processes, daemon, origin,
invariants, report) and one module per scenario in ferrychaos/scenarios/.

Environment: FERRY_BIN (default .build/debug/ferry), CHAOS_KEEP=1 keeps the scratch folder,
FERRY_POWER_BIN (the binary put in the power guest; default FERRY_BIN, with the Swift runtime
libraries it loads; `make chaos-power` sets the static release binary), FERRY_CHAOS_CACHE (the guest's
cached Debian root, default ~/.cache/ferry-chaos), FERRY_DEBIAN_MIRROR.
"""
import sys

from ferrychaos.cli import main

if __name__ == "__main__":
    sys.exit(main(__doc__))
