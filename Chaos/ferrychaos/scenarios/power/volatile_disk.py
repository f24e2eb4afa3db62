"""A disk with a volatile write cache, served to qemu over NBD on a Unix socket: what makes the
power-cut model honest about writes the guest handed to its disk but never flushed.

    python3 volatile_disk.py IMAGE SOCKET REPORT --seed N --keep P

A plain image file behind qemu keeps every write qemu received, flushed or not, once qemu is
SIGKILLed (whatever the drive's cache mode: the bytes are already in the host's page cache). A
real disk does not: its write cache is lost at a power cut, and it may have written back any part
of it, in any order. This server keeps each write in memory (in 4 KiB blocks) until the guest
flushes (NBD_CMD_FLUSH, which qemu sends for the guest's cache flushes) or writes with FUA; only
then does it reach the image. Reads see the cached writes. When the connection ends without
NBD_CMD_DISC (qemu was killed: the power cut), each block still in the cache is written to the
image with probability P and lost otherwise — a disk that wrote back part of its cache in any
order, with 4 KiB atomic writes. A clean disconnect (the guest powered off) writes everything.

One connection, then it exits; REPORT gets a JSON summary (writes, flushes, what the cut kept).
Protocol: the fixed newstyle handshake with NBD_OPT_GO (and NBD_OPT_EXPORT_NAME), simple
replies; READ, WRITE (FUA), FLUSH, TRIM, WRITE_ZEROES and DISC.
"""
import argparse
import json
import os
import random
import socket
import struct

BLOCK = 4096
NBDMAGIC, IHAVEOPT, REPLY_MAGIC = 0x4E42444D41474943, 0x49484156454F5054, 0x3E889045565A9
REQUEST_MAGIC, SIMPLE_REPLY = 0x25609513, 0x67446698
OPT_EXPORT_NAME, OPT_ABORT, OPT_INFO, OPT_GO = 1, 2, 6, 7
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, (1 << 31) + 1
FLAG_HAS_FLAGS, FLAG_SEND_FLUSH, FLAG_SEND_FUA, FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES = 1, 4, 8, 32, 64
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_WRITE_ZEROES = 0, 1, 2, 3, 4, 6
CMD_FLAG_FUA = 1
EINVAL = 22


def receive(connection, count):
    data = bytearray()
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


class VolatileDisk:
    def __init__(self, path):
        self.descriptor = os.open(path, os.O_RDWR)
        self.size = os.fstat(self.descriptor).st_size
        self.cache = {}  # block number -> bytes (BLOCK long): written, not yet flushed
        self.stats = {"writes": 0, "bytes_written": 0, "flushes": 0, "fua_writes": 0, "blocks_flushed": 0,
                      "largest_cache_blocks": 0}

    def block(self, number):
        cached = self.cache.get(number)
        if cached is not None:
            return cached
        return os.pread(self.descriptor, BLOCK, number * BLOCK).ljust(BLOCK, b"\0")

    def read(self, offset, length):
        if not self.cache:
            return os.pread(self.descriptor, length, offset).ljust(length, b"\0")
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        if not any(n in self.cache for n in range(first, last + 1)):
            return os.pread(self.descriptor, length, offset).ljust(length, b"\0")
        data = b"".join(self.block(n) for n in range(first, last + 1))
        start = offset - first * BLOCK
        return data[start:start + length]

    def write(self, offset, data, fua):
        self.stats["writes"] += 1
        self.stats["bytes_written"] += len(data)
        first, last = offset // BLOCK, (offset + len(data) - 1) // BLOCK
        head = offset - first * BLOCK
        if head or len(data) % BLOCK:
            # Partial blocks: merge with what the block holds now (cache or image).
            merged = bytearray(b"".join(self.block(n) for n in range(first, last + 1)))
            merged[head:head + len(data)] = data
            data = bytes(merged)
        for index, number in enumerate(range(first, last + 1)):
            self.cache[number] = data[index * BLOCK:(index + 1) * BLOCK]
        if fua:
            self.stats["fua_writes"] += 1
            self.persist(range(first, last + 1))
        self.stats["largest_cache_blocks"] = max(self.stats["largest_cache_blocks"], len(self.cache))

    def persist(self, numbers):
        """Writes these cached blocks to the image, in runs, and drops them from the cache."""
        run_start, run = None, []
        for number in sorted(n for n in numbers if n in self.cache):
            if run and number != run_start + len(run):
                self.write_run(run_start, run)
                run = []
            if not run:
                run_start = number
            run.append(self.cache.pop(number))
        if run:
            self.write_run(run_start, run)

    def write_run(self, start, blocks):
        data = b"".join(blocks)
        end = min(len(data), self.size - start * BLOCK)
        os.pwrite(self.descriptor, data[:end], start * BLOCK)
        self.stats["blocks_flushed"] += len(blocks)

    def flush(self):
        self.stats["flushes"] += 1
        self.persist(list(self.cache))

    def power_cut(self, rng, keep):
        """The cut: each block still cached reaches the image with probability `keep`."""
        pending = list(self.cache)
        kept = [n for n in pending if rng.random() < keep]
        self.persist(kept)
        self.stats["cut_unflushed_blocks"] = len(pending)
        self.stats["cut_kept_blocks"] = len(kept)
        self.stats["cut_lost_blocks"] = len(pending) - len(kept)
        self.cache.clear()


def option_reply(connection, option, kind, data=b""):
    connection.sendall(struct.pack(">QIII", REPLY_MAGIC, option, kind, len(data)) + data)


def handshake(connection, disk):
    """The fixed newstyle negotiation; True once the transmission phase starts."""
    flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
    connection.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 1 | 2))  # FIXED_NEWSTYLE | NO_ZEROES
    client_flags = struct.unpack(">I", receive(connection, 4))[0]
    while True:
        magic, option, length = struct.unpack(">QII", receive(connection, 16))
        if magic != IHAVEOPT:
            return False
        receive(connection, length)  # the export name and info requests: there is one export
        if option == OPT_EXPORT_NAME:
            connection.sendall(struct.pack(">QH", disk.size, flags) + (b"" if client_flags & 2 else b"\0" * 124))
            return True
        if option in (OPT_INFO, OPT_GO):
            option_reply(connection, option, REP_INFO, struct.pack(">HQH", 0, disk.size, flags))
            option_reply(connection, option, REP_ACK)
            if option == OPT_GO:
                return True
        elif option == OPT_ABORT:
            option_reply(connection, option, REP_ACK)
            return False
        else:
            option_reply(connection, option, REP_ERR_UNSUP)


def serve(connection, disk, rng, keep):
    """Answers requests until DISC (a clean end: everything written) or EOF (a power cut)."""
    try:
        while True:
            magic, flags, kind, handle, offset, length = struct.unpack(">IHHQQI", receive(connection, 28))
            if magic != REQUEST_MAGIC:
                raise EOFError
            error, payload = 0, b""
            if kind == CMD_WRITE:
                data = receive(connection, length)
                if offset + length > disk.size:
                    error = EINVAL
                else:
                    disk.write(offset, data, flags & CMD_FLAG_FUA)
            elif kind == CMD_READ:
                if offset + length > disk.size:
                    error = EINVAL
                else:
                    payload = disk.read(offset, length)
            elif kind == CMD_FLUSH:
                disk.flush()
            elif kind in (CMD_TRIM, CMD_WRITE_ZEROES):
                # Both read back as zeroes here (TRIM may, WRITE_ZEROES must); cached like a write.
                if offset + length > disk.size:
                    error = EINVAL
                elif length:
                    disk.write(offset, b"\0" * length, flags & CMD_FLAG_FUA)
            elif kind == CMD_DISC:
                disk.flush()
                disk.stats["end"] = "disconnect"
                return
            else:
                error = EINVAL
            connection.sendall(struct.pack(">IIQ", SIMPLE_REPLY, error, handle) + (b"" if error else payload))
    except (EOFError, ConnectionError):
        disk.stats["end"] = "power cut"
        disk.power_cut(rng, keep)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("socket")
    parser.add_argument("report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=float, default=0.5, help="chance that an unflushed block survives the cut")
    args = parser.parse_args()
    disk = VolatileDisk(args.image)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(1)
    connection, _ = listener.accept()
    listener.close()
    os.unlink(args.socket)
    try:
        if handshake(connection, disk):
            serve(connection, disk, random.Random(args.seed), args.keep)
    except (EOFError, ConnectionError):
        disk.stats["end"] = "closed during the handshake"
    finally:
        connection.close()
        if disk.cache:  # never reached for a clean end; a cut already applied its policy
            disk.power_cut(random.Random(args.seed), args.keep)
        os.close(disk.descriptor)
        disk.stats["keep"] = args.keep
        with open(args.report + ".tmp", "w") as handle:
            json.dump(disk.stats, handle)
        os.rename(args.report + ".tmp", args.report)


if __name__ == "__main__":
    main()
