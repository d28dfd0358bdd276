from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop.config import load_settings
from closedloop.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace at tmp_path, closed at the end."""
    Workspace.init(tmp_path)
    ws = Workspace.open(settings=load_settings({"workspace": str(tmp_path)}))
    yield ws
    ws.close()
