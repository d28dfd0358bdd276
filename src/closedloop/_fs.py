"""Owner-only files and folders on the local disk, shared by every store that creates them."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["create_private_file", "make_private_dirs", "write_new_private_file"]


def make_private_dirs(folder: str | Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700; existing ones are kept.

    Safe against a concurrent creator: a folder that appears meanwhile is left as it is.
    """
    missing: list[Path] = []
    path = Path(folder)
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for each in reversed(missing):
        try:
            each.mkdir(mode=0o700)
        except FileExistsError:
            continue


def create_private_file(path: str | Path) -> None:
    """Create an empty file with mode 0600 (and missing folders 0700) unless it exists.

    Created here, before a library (SQLite) opens it, the file never exists with the
    permissive mode the umask would give it; an existing file is left untouched.
    """
    target = Path(path)
    make_private_dirs(target.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines.


def write_new_private_file(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a file that must not exist, created 0600 from the first instant.

    The file is flushed and fsynced; if writing fails, the partial file is removed.

    Raises:
        FileExistsError: ``path`` exists already (nothing is changed).
    """
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
    try:  # from here on the file is ours, so a failure may remove it
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
