from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Work from an empty folder (tests/conftest.py already drops CLOSEDLOOP_* variables)."""
    monkeypatch.chdir(tmp_path)


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
