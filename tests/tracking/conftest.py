from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from closedloop.config import load_settings
from closedloop.workspace import Workspace


@pytest.fixture
def make_workspace(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    """Open the workspace at tmp_path (created once) with the given setting overrides."""
    opened: list[Workspace] = []
    Workspace.init(tmp_path)

    def make(**overrides: Any) -> Workspace:
        ws = Workspace.open(settings=load_settings({"workspace": str(tmp_path), **overrides}))
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace()
