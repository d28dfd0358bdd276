from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    Workspace.init(tmp_path)
    ws = Workspace.open(tmp_path)
    yield ws
    ws.close()
