"""Owner-only permissions of a local workspace: create folders 0700, find looser paths.

A workspace holds the metadata database, the blobs and the key, so no other local user
should read any of it. New folders are made 0700 and new files 0600 by the code that
creates them; :func:`loose_permissions` finds what is looser (an older workspace, a copy,
a ``chmod``) for ``closedloop doctor``. Only local paths are checked: a PostgreSQL
database or a remote artifact store has its own access control.
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from closedloop.workspace._location import WorkspaceLocation

__all__ = ["LoosePath", "local_artifact_dir", "loose_permissions"]


@dataclass(frozen=True, slots=True)
class LoosePath:
    """A workspace path that other users may access.

    Attributes:
        path: The file or folder.
        mode: Its permission bits (e.g. ``0o644``).
        is_dir: Whether it is a folder.
    """

    path: Path
    mode: int
    is_dir: bool

    @property
    def fix(self) -> str:
        """The shell command that makes this one path owner-only."""
        return f"chmod {'700' if self.is_dir else '600'} {shlex.quote(str(self.path))}"


def local_artifact_dir(uri: str) -> Path | None:
    """The folder of a local artifact store (a path or ``file://`` URL), else ``None``."""
    if "://" not in uri:
        return Path(uri)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return None


def _sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    database = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _tops(location: WorkspaceLocation) -> list[Path]:
    tops: list[Path] = []
    if location.state_dir is not None:
        tops.append(location.state_dir)
    artifacts = local_artifact_dir(location.artifact_uri)
    if artifacts is not None:
        tops.append(artifacts)
    database = _sqlite_file(location.metadata_uri)
    if database is not None:
        tops += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    tops.append(location.key_file)
    return tops


def _check(path: Path, found: dict[Path, LoosePath]) -> bool:
    """Record ``path`` if it is loose; return whether it is a folder to descend into."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(info.st_mode):
        return False
    mode = stat.S_IMODE(info.st_mode)
    is_dir = stat.S_ISDIR(info.st_mode)
    if mode & 0o077 and path not in found:
        found[path] = LoosePath(path, mode, is_dir)
    return is_dir


def loose_permissions(location: WorkspaceLocation) -> list[LoosePath]:
    """Every local workspace path that grants any access to group or others.

    Checked: the ``.closedloop`` folder and everything in it, a local artifact folder kept
    elsewhere, a SQLite database kept elsewhere with its ``-wal``/``-shm`` files, and the
    key file. Always empty off POSIX.

    Returns:
        The loose paths, sorted.
    """
    if os.name != "posix":
        return []
    found: dict[Path, LoosePath] = {}
    for top in _tops(location):
        if not _check(top, found):
            continue
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                _check(Path(folder) / name, found)
    return [found[p] for p in sorted(found)]
