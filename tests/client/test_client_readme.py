"""The README's Python examples run, as written, against a temporary workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import closedloop
from closedloop.core import ColumnSchema, LogicalType, TableSchema

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


def _demo_workspace(folder: Path) -> None:
    """What ``make demo`` leaves behind, in small: an ``adult`` model with a champion."""
    frame = pd.DataFrame({"age": [25, 40, 60, 33], "income": ["<=50K", ">50K", ">50K", "<=50K"]})
    frame.to_csv(folder / "adult.csv", index=False)
    model = DummyClassifier().fit(frame[["age"]], frame["income"])
    signature = TableSchema((ColumnSchema("age", LogicalType.INTEGER),))
    with closedloop.init(folder / "demo-workspace") as client:
        for aliases in ([], ["champion"]):
            client.models.register(
                "adult", model, signature=signature, target="income", aliases=aliases
            )


def test_track_runs_and_the_lifecycle_from_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"a pickled model")
    _demo_workspace(tmp_path)
    (track,) = _python_blocks("Track runs from Python")
    (lifecycle,) = _python_blocks("The lifecycle from Python")
    names: dict[str, object] = {}
    exec(compile(track, "README: Track runs from Python", "exec"), names)
    names["client"].close()  # type: ignore[attr-defined]
    (run,) = names["page"].runs  # type: ignore[attr-defined]
    assert run.metrics["auc"].value == 0.91
    exec(compile(lifecycle, "README: The lifecycle from Python", "exec"), names)
    client = names["client"]
    try:
        assert names["version"].version == 1  # type: ignore[attr-defined]
        assert len(names["frame"]) == 4  # type: ignore[arg-type]
        assert client.models.get("adult@champion").version == 1  # type: ignore[attr-defined]
        assert names["served"] == 0
        assert names["decisions"] == []
        assert [e.resource for e in names["events"]][:1] == ["model:adult@champion"]  # type: ignore[attr-defined]
    finally:
        client.close()  # type: ignore[attr-defined]
