"""One boot of the power-cut guest: qemu under software emulation, its disk behind the volatile
write cache (volatile_disk.py), and the driver's acknowledgements read from the virtio-serial port.

qemu gets no network device (`-nic none`); the kernel starts /ferry-chaos/init directly (no
systemd: the guest reaches Ferry sooner). `/dev/kvm` is not used: guests hang with it on these
machines, so `-accel tcg` (with one thread per virtual CPU).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...processes import CHILDREN, spawn, wait_until

VOLATILE_DISK = Path(__file__).resolve().parent / "volatile_disk.py"


class Boot:
    """qemu running the guest once; `messages` fills with the driver's JSON lines as they arrive."""

    def __init__(self, base, disk, folder, number, mode, seed, keep, memory="1536"):
        self.folder = folder
        self.number = number
        self.console = folder / f"console-{number}.log"
        self.acks = folder / f"acks-{number}.jsonl"
        self.disk_report = folder / f"disk-{number}.json"
        self.messages = []
        self.lock = threading.Lock()
        self.started = time.monotonic()
        socket_path = folder / f"disk-{number}.sock"
        self.disk = spawn([sys.executable, str(VOLATILE_DISK), str(disk), str(socket_path), str(self.disk_report),
                           "--seed", str(seed * 1000 + number), "--keep", str(keep)], folder / "disk.log")
        if not wait_until(lambda: socket_path.exists() or self.disk.poll() is not None, 30, 0.05):
            raise SystemExit("chaos: the volatile disk did not start")
        append = (f"root=/dev/vda rw console=ttyS0 panic=-1 init=/ferry-chaos/init loglevel=4 "
                  f"ferrychaos.boot={number} ferrychaos.mode={mode} ferrychaos.seed={seed}")
        qemu = shutil.which("qemu-system-x86_64")
        if not qemu:
            raise SystemExit("chaos: qemu-system-x86_64 is missing: apt-get install qemu-system-x86")
        # cache=writeback: the guest sees a volatile write cache and sends its flushes, which qemu
        # passes to the disk server as NBD_CMD_FLUSH (cache=unsafe would drop them).
        self.qemu = spawn([
            qemu, "-accel", "tcg,thread=multi", "-smp", "2", "-m", memory, "-nodefaults", "-no-user-config",
            "-display", "none", "-nic", "none", "-no-reboot",
            "-kernel", str(base / "vmlinuz"), "-initrd", str(base / "initrd.img"), "-append", append,
            "-drive", f"file=nbd+unix:///?socket={socket_path},format=raw,if=virtio,cache=writeback",
            "-device", "virtio-serial-pci",
            "-chardev", f"file,id=acks,path={self.acks}", "-device", "virtserialport,chardev=acks,name=ferry.acks",
            "-serial", f"file:{self.console}",
        ], folder / f"qemu-{number}.log")
        self.reader = threading.Thread(target=self.read_acks, daemon=True)
        self.reader.start()

    def read_acks(self):
        """Tails the port's file; a line counts once it is whole (a cut may leave half of one)."""
        while not self.acks.exists():
            if self.qemu.poll() is not None:
                return
            time.sleep(0.05)
        with open(self.acks, "rb") as handle:
            pending = b""
            while True:
                chunk = handle.read(65536)
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        try:
                            message = json.loads(line)
                        except ValueError:
                            message = {"t": "garbled", "line": line.decode(errors="replace")}
                        message["host_time"] = time.monotonic() - self.started
                        with self.lock:
                            self.messages.append(message)
                    continue
                if self.qemu.poll() is not None:
                    return
                time.sleep(0.05)

    def seen(self, kind):
        with self.lock:
            return [m for m in self.messages if m["t"] == kind]

    def wait_for(self, kind, timeout):
        return wait_until(lambda: self.seen(kind) or self.qemu.poll() is not None, timeout, 0.1) and self.seen(kind)

    def running(self):
        return self.qemu.poll() is None

    def cut(self):
        """The power cut: qemu SIGKILLed; the disk server then applies its cut to what was unflushed."""
        if self.qemu.poll() is None:
            os.killpg(self.qemu.pid, signal.SIGKILL)
        self.qemu.wait()
        return self.finish()

    def finish(self, timeout=60):
        """Waits for the disk server to write its report; returns it."""
        self.qemu.wait()
        try:
            self.disk.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.disk.pid, signal.SIGKILL)
            self.disk.wait()
        self.reader.join(timeout=10)
        for process in (self.qemu, self.disk):
            if process in CHILDREN:
                CHILDREN.remove(process)
        try:
            return json.loads(self.disk_report.read_text())
        except (OSError, ValueError):
            return {}
