"""Mount points the disk scenarios made, so that exit (or a failed scenario) undoes every one."""
import contextlib
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


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of `size` (mount's notation: 40m) at `path`, made here, for the `with` block."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    MOUNTS.append(path)
    try:
        yield path
    finally:
        unmount(path)
        MOUNTS.remove(path)


def resize(path, size):
    """Gives a mounted tmpfs another size: space returns (or goes)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)
