"""Mount points the disk scenarios made, so that exit (or a failed scenario) undoes every one."""
import os
import subprocess
import time


MOUNTS = []  # mount points to unmount on exit, innermost last


def unmount(path):
    for _ in range(20):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        if not os.path.ismount(path):
            return
        time.sleep(0.5)
    subprocess.run(["umount", "-l", str(path)], capture_output=True)
