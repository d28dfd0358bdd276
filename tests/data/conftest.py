from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from closedloop.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace in tmp_path/ws, closed at the end."""
    root = tmp_path / "ws"
    Workspace.init(root)
    ws = Workspace.open(root)
    yield ws
    ws.close()


@pytest.fixture
def people() -> pd.DataFrame:
    """A small mixed-type table."""
    return pd.DataFrame(
        {
            "age": [31, 45, 27, 60],
            "income": [1200.5, 3400.0, None, 2100.25],
            "sex": ["F", "M", "F", "M"],
            "member": [True, False, True, True],
        }
    )


@pytest.fixture
def people_csv(tmp_path: Path, people: pd.DataFrame) -> Path:
    path = tmp_path / "people.csv"
    people.to_csv(path, index=False)
    return path
