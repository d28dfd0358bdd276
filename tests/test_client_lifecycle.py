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
        version = client.ingest(csv, "d")
        assert client.ingest(csv, "d") == version
        assert client.load_dataset("d@latest").equals(frame)
        model = DummyClassifier().fit(frame[["x"]], frame["y"])
        sig = TableSchema((ColumnSchema("x", LogicalType.INTEGER),))
        v1 = client.register_model("m", model, signature=sig, target="y", aliases=["champion"])
        client.register_model("m", model, signature=sig, target="y")
        assert client.get_model_version("m@champion") == v1
        assert client.set_alias("m", "champion", 2).id == "m/2"
        assert list(client.load_model("m@champion").predict(frame[["x"]])) == ["a"] * 4


def test_client_ingest_issues_what_it_guessed_as_data_warnings(tmp_path: Path) -> None:
    from closedloop.errors import DataWarning

    csv = tmp_path / "semicolons.csv"
    csv.write_text("a;b;c\n1;2;x\n3;4;y\n", encoding="utf-8")
    with closedloop.init(tmp_path / "ws") as client:
        with pytest.warns(DataWarning, match="delimiter"):
            version = client.ingest(csv, "d")
        assert version.n_columns == 3
