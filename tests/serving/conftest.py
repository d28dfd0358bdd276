"""A workspace with a small real scikit-learn classifier registered as ``m@champion``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_support import SIGNATURE, Served, TestClient, make_frame, train

from closedloop.registry import register_model
from closedloop.serving import create_app
from closedloop.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Work from an empty folder (tests/conftest.py already drops CLOSEDLOOP_* variables)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "ws"
    Workspace.init(root)
    with Workspace.open(root) as ws:
        pipe = train(make_frame(300, seed=0))
        version = register_model(
            ws,
            "m",
            pipe,
            signature=SIGNATURE,
            target="y",
            classes=list(pipe.classes_),
            metrics={"accuracy": 0.75},
            aliases=["champion"],
        )
        yield Served(ws, pipe, version, make_frame(40, seed=1))


@pytest.fixture
def client(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.ws, "m@champion")) as c:
        yield c
