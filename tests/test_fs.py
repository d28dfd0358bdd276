from __future__ import annotations

import os
import stat
from pathlib import Path

from closedloop._fs import create_private_file, make_private_dirs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dirs_are_owner_only_and_existing_ones_are_kept(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        (tmp_path / "kept").mkdir(mode=0o755)
        make_private_dirs(tmp_path / "kept" / "a" / "b")
        create_private_file(tmp_path / "kept" / "c" / "db")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "kept") == 0o755
    assert _mode(tmp_path / "kept" / "a") == 0o700
    assert _mode(tmp_path / "kept" / "a" / "b") == 0o700
    assert _mode(tmp_path / "kept" / "c") == 0o700
    assert _mode(tmp_path / "kept" / "c" / "db") == 0o600


def test_an_existing_file_is_left_untouched(tmp_path: Path) -> None:
    target = tmp_path / "db"
    target.write_bytes(b"data")
    create_private_file(target)
    assert target.read_bytes() == b"data"


def test_a_new_private_file_is_owner_only_and_never_overwrites(tmp_path: Path) -> None:
    import pytest

    from closedloop._fs import write_new_private_file

    target = tmp_path / "key"
    old = os.umask(0o022)
    try:
        write_new_private_file(target, b"secret")
    finally:
        os.umask(old)
    assert _mode(target) == 0o600
    assert target.read_bytes() == b"secret"
    with pytest.raises(FileExistsError):
        write_new_private_file(target, b"other")
    assert target.read_bytes() == b"secret"
