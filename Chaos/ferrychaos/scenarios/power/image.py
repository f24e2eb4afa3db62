"""The power-cut guest's disk: a small Debian root built once by debootstrap and cached, and a
fresh ext4 disk image per run with Ferry, its configuration and the guest's scripts inside.

The cache lives in $FERRY_CHAOS_CACHE (default ~/.cache/ferry-chaos) as power-bookworm-<hash>,
the hash naming the package list and this builder's version, and is built again only when missing
(a few minutes: debootstrap fetches about 100 MB from the Debian mirror, $FERRY_DEBIAN_MIRROR).
It holds the root folder, the kernel and an initramfs cut down to the few modules the guest needs
(virtio block and console, ext4), which makes the boot under software emulation much shorter.

Each run copies the root with hard links (nothing in the cache is written), adds its own files
and makes the disk image with `mkfs.ext4 -d`, so no loop device is needed to build it.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from ... import REPO
from ...report import log

# What the guest runs: the kernel, Python for the origin and the driver, iproute2 for the loopback,
# and the libraries the release binary links dynamically (procps: the package depends on it).
PACKAGES = ["linux-image-amd64", "iproute2", "python3", "libsqlite3-0", "libsystemd0", "procps"]
BUILDER_VERSION = 1
MODULES = ["virtio_pci", "virtio_blk", "virtio_console", "ext4"]
GUEST_FILES = Path(__file__).resolve().parent / "guest"
ORIGIN_FILES = [REPO / "Sources/FerryTesting/Origin/test_origin.py", REPO / "Sources/FerryTesting/Origin/loopback.py"]
GUEST_STATE = "/var/lib/ferry-chaos"  # the driver's STATE: Ferry's state, the target folder, its log


def cache_folder():
    return Path(os.environ.get("FERRY_CHAOS_CACHE", Path.home() / ".cache" / "ferry-chaos"))


def base_image():
    """The cached root, kernel and initramfs (built when missing); returns their folder."""
    key = hashlib.sha256(f"{BUILDER_VERSION} bookworm {' '.join(PACKAGES)} {' '.join(MODULES)}".encode())
    folder = cache_folder() / f"power-bookworm-{key.hexdigest()[:12]}"
    if (folder / "done").exists():
        return folder
    cache_folder().mkdir(parents=True, exist_ok=True)
    with open(cache_folder() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "done").exists():
            return folder
        for tool in ("debootstrap", "mkfs.ext4"):
            if not shutil.which(tool):
                raise SystemExit(f"chaos: {tool} is missing: run .ci/install-deps")
        started = time.monotonic()
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        root = folder / "root"
        mirror = os.environ.get("FERRY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        log(f"power: building the guest's Debian root in {folder} (once; a few minutes)")
        with open(folder / "debootstrap.log", "wb") as output:
            result = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                                     "bookworm", str(root), mirror], stdout=output, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise SystemExit(f"chaos: debootstrap failed ({result.returncode}); see {folder / 'debootstrap.log'}")
        finish_root(folder, root)
        (folder / "done").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        log(f"power: guest root built in {time.monotonic() - started:.0f} s")
    return folder


def finish_root(folder, root):
    """After debootstrap: the small initramfs, the kernel and initramfs beside the root, no clutter."""
    # An initramfs with just the modules the guest needs: the generic one takes far longer to
    # unpack and probe under software emulation.
    (root / "etc/initramfs-tools/modules").write_text("\n".join(MODULES) + "\n")
    conf = root / "etc/initramfs-tools/initramfs.conf"
    conf.write_text(conf.read_text().replace("MODULES=most", "MODULES=list"))
    result = subprocess.run(["chroot", str(root), "update-initramfs", "-u", "-k", "all"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"chaos: update-initramfs failed in the guest root: {result.stderr[-2000:]}")
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise SystemExit(f"chaos: no kernel or initramfs in {root / 'boot'}")
    shutil.copy(kernels[-1], folder / "vmlinuz")
    shutil.copy(initrds[-1], folder / "initrd.img")
    # What the guest never needs: package lists and archives, documentation, locales, and the
    # kernel modules (the initramfs carries the few it loads; nothing loads any later).
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*",
                    "usr/share/man/*", "usr/share/locale/*", "boot/*", "usr/lib/modules/*"):
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def missing_libraries(binary, root):
    """Shared libraries the binary loads that the guest root lacks, as host paths: the toolchain's
    Swift runtime for a debug build (the release binary links it statically), libstdc++, …; each
    is copied to the same path in the guest, where the binary's run path finds it."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    found = []
    for line in result.stdout.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and parts[1].strip().startswith("/"):
            path = parts[1].split("(")[0].strip()
            if not (root / path.lstrip("/")).exists():
                found.append(path)
    return found


def make_disk(base, scratch, binary, config_text, size="3G"):
    """A fresh disk image for one run: the cached root plus Ferry, its configuration and the guest files."""
    stage = scratch / "guest-root"
    shutil.rmtree(stage, ignore_errors=True)
    subprocess.run(["cp", "-al", str(base / "root"), str(stage)], check=True)
    own = stage / "ferry-chaos"
    own.mkdir()
    for path in list(GUEST_FILES.iterdir()) + ORIGIN_FILES:
        if path.is_file():
            shutil.copy(path, own / path.name)
    (own / "ferry.yaml").write_text(config_text)
    # New files only: the hard-linked ones are the cache's and must not change.
    shutil.copy(binary, stage / "usr/local/bin/ferry")
    for library in missing_libraries(binary, stage):
        (stage / library.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(library, stage / library.lstrip("/"))
    (stage / GUEST_STATE.lstrip("/") / "target").mkdir(parents=True)
    disk = scratch / "disk.img"
    disk.unlink(missing_ok=True)
    result = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "ferry-guest", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                             "-d", str(stage), str(disk), size],
                            capture_output=True, text=True)
    shutil.rmtree(stage, ignore_errors=True)
    if result.returncode != 0:
        raise SystemExit(f"chaos: mkfs.ext4 -d failed: {result.stderr}")
    return disk
