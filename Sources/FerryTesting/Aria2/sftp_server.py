"""A real SFTP server on loopback for the aria2 tests (asyncssh), serving one folder to any user
with any password, with a host key made at start.

Arguments: <folder> <port file> [--rate BYTES_PER_S]
  --rate R   reads are slowed so that a file goes out at about R bytes per second
Once listening it writes its port to the port file (atomically, by rename) and serves until
killed or orphaned.
"""
import argparse
import asyncio
import os

import asyncssh

arguments = argparse.ArgumentParser()
arguments.add_argument("folder")
arguments.add_argument("port_file")
arguments.add_argument("--rate", type=int, default=0)
options = arguments.parse_args()


class AnyPassword(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return True


class Folder(asyncssh.SFTPServer):
    def __init__(self, channel):
        super().__init__(channel, chroot=options.folder)

    async def read(self, file_object, offset, size):
        if options.rate:
            await asyncio.sleep(size / options.rate)
        return super().read(file_object, offset, size)


async def exit_with_parent(parent):
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os._exit(0)


async def main():
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[key], server_factory=AnyPassword, sftp_factory=Folder,
        allow_scp=False)
    port = server.sockets[0].getsockname()[1]
    temporary = options.port_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(str(port))
    os.rename(temporary, options.port_file)
    await exit_with_parent(os.getppid())


asyncio.run(main())
