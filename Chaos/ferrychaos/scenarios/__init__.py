"""The scenarios by name, in the order `--scenario all` runs them.

Each is a `run(args, binary, scratch, lifecycles)` that records what it finds in `report.REPORT`;
a new scenario is a module here and one line below.
"""
from . import (aria2, bad_api, bad_config, bad_database, clock_jumps, cluster, disk_full, fire, full_target,
               oom_kills, origin_dies, power, rclone_fire, readonly_db, s3_faults, telegram)
from .cluster import telegram as cluster_telegram

SCENARIOS = {
    "fire": fire.run,
    "telegram": telegram.run,
    "aria2": aria2.run,
    "disk-full": disk_full.run,
    "full-target": full_target.run,
    "readonly-db": readonly_db.run,
    "s3-faults": s3_faults.run,
    "origin-dies": origin_dies.run,
    "clock-jumps": clock_jumps.run,
    "oom-kills": oom_kills.run,
    "rclone-fire": rclone_fire.run,
    "cluster": cluster.run,
    "cluster-telegram": cluster_telegram.run,
    "bad-config": bad_config.run,
    "bad-database": bad_database.run,
    "bad-api": bad_api.run,
    "power": power.run,
}

# Run only when named (or with `--scenario all`), not in the default short run that `make chaos`
# and CI use: a scenario that still fails on some seeds for reasons not yet understood. None now:
# the cluster scenario left it once it held on 25 seeds in a row (31-55); `make chaos-cluster`
# still runs it alone.
OPT_IN = set()
