"""The SDK's data and model areas end to end: ingest, load, register, promote, load again."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import closedloop
from closedloop.core import ColumnSchema, LogicalType, TableSchema


def test_client_ingests_loads_registers_and_promotes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", "b", "a", "b"]})
    csv = tmp_path / "d.csv"
    frame.to_csv(csv, index=False)
    with closedloop.init(tmp_path / "ws") as client:
        version = client.datasets.ingest(csv, "d")
        assert client.datasets.ingest(csv, "d") == version
        assert client.datasets.load("d@latest").equals(frame)
        model = DummyClassifier().fit(frame[["x"]], frame["y"])
        sig = TableSchema((ColumnSchema("x", LogicalType.INTEGER),))
        v1 = client.models.register("m", model, signature=sig, target="y", aliases=["champion"])
        client.models.register("m", model, signature=sig, target="y")
        assert client.models.get("m@champion") == v1
        assert client.models.set_alias("m", "champion", 2).id == "m/2"
        assert list(client.models.load("m@champion").predict(frame[["x"]])) == ["a"] * 4


def test_client_ingest_issues_what_it_guessed_as_data_warnings(tmp_path: Path) -> None:
    from closedloop.errors import DataWarning

    csv = tmp_path / "semicolons.csv"
    csv.write_text("a;b;c\n1;2;x\n3;4;y\n", encoding="utf-8")
    with closedloop.init(tmp_path / "ws") as client:
        with pytest.warns(DataWarning, match="delimiter"):
            version = client.datasets.ingest(csv, "d")
        assert version.n_columns == 3
