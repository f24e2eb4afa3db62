"""The guest's origin: the repository's test origin (test_origin.py, beside this file in the
guest) on a fixed loopback port, so that the URLs of jobs submitted before a power cut still
reach it after the next boot.

    python3 guest_origin.py PORT_FILE PORT
"""
import runpy
import sys

import loopback

PORT = int(sys.argv[2])


class FixedPort(loopback.Server):
    def __init__(self, address, handler):
        super().__init__(("127.0.0.1", PORT), handler)


loopback.Server = FixedPort
sys.argv = [sys.argv[0], sys.argv[1]]
runpy.run_path(sys.path[0] + "/test_origin.py", run_name="__main__")
