from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop.config import find_workspace_root
from closedloop.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CLOSEDLOOP_* variable of the developer leaks in; work from tmp_path."""
    for key in list(os.environ):
        if key.startswith("CLOSEDLOOP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder with no workspace at or above it."""
    folder = tmp_path / "nowhere"
    folder.mkdir()
    if find_workspace_root(folder) is not None:  # pragma: no cover - machine-specific
        pytest.skip(f"a parent of {folder} is a closedloop workspace")
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh, initialised workspace folder."""
    folder = (tmp_path / "ws").resolve()
    Workspace.init(folder)
    return folder


@pytest.fixture
def ws(root: Path) -> Iterator[Workspace]:
    """The workspace at ``root``, open."""
    with Workspace.open(root) as workspace:
        yield workspace
