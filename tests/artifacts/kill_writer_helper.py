"""Run by test_store.py as a subprocess: put a stream that stalls midway, until SIGKILLed.

Usage: python kill_writer_helper.py STORE_ROOT KEYRING_PATH TOTAL_MIB STALL_AFTER_MIB
"""

from __future__ import annotations

import hashlib
import sys
import time

from closedloop.artifacts import FsspecArtifactStore
from closedloop.crypto import Keyring

MIB = 1 << 20


def block(i: int) -> bytes:
    """Return the i-th MiB of the test content (test_store.py derives the same bytes)."""
    return hashlib.sha256(str(i).encode()).digest() * (MIB // 32)


class StallingStream:
    """Yields ``total`` MiB, but sleeps (until killed) after ``stall_after`` MiB."""

    def __init__(self, total: int, stall_after: int) -> None:
        self.total, self.stall_after, self.i = total, stall_after, 0

    def read(self, size: int = -1) -> bytes:
        if self.i == self.stall_after:
            time.sleep(120)
        if self.i >= self.total:
            return b""
        self.i += 1
        return block(self.i - 1)


def main() -> None:
    root, keyring_path, total, stall_after = sys.argv[1:5]
    store = FsspecArtifactStore(root, Keyring.load(keyring_path))
    store.put_stream(StallingStream(int(total), int(stall_after)))  # type: ignore[arg-type]
    sys.exit("the writer was expected to be killed before finishing")


if __name__ == "__main__":
    main()
