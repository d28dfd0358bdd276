"""closedloop models onnx: converted (exit 0) or refused with the reason (exit 1)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from cli_support import Cli
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import closedloop
from closedloop import datasets
from closedloop.cli import _models, _onnx
from closedloop.features import FeatureSpec
from closedloop.features._onnx import onnx_available

pytestmark = pytest.mark.skipif(not onnx_available(), reason="the onnx extra is not installed")


@pytest.fixture
def registered(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    """adult/1: a small Adult pipeline trained on an ingested dataset version; adult-test too."""
    monkeypatch.setattr(_onnx, "console", _models.console)  # the fixture's capturing console
    root = (tmp_path / "ws").resolve()
    train_file, test_file = datasets.adult_files()
    frame = datasets.read_adult(train_file).head(3000)
    spec = FeatureSpec(numeric=("age", "hours_per_week"), categorical=("workclass", "sex"))
    pipe = Pipeline([("features", spec.build()), ("model", LogisticRegression(max_iter=500))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(frame[spec.columns], frame["income_per_year"])
    with closedloop.init(root) as client:
        from closedloop import data

        version = data.ingest_frame(client.workspace, frame, "adult", source="adult.data").version
        test = datasets.read_adult(test_file).head(400)
        data.ingest_frame(client.workspace, test, "adult-test", source="adult.test")
        client.models.register(
            "adult",
            pipe,
            signature=spec.signature(version.schema),
            target="income_per_year",
            classes=list(pipe.classes_),
            dataset_version_id=version.id,
        )
    return root


def test_converted_prints_rows_and_difference(cli: Cli, registered: Path) -> None:
    result = cli("-w", registered, "models", "onnx", "adult/1")
    assert result.code == 0, result.out + result.err
    assert "converted adult/1 to ONNX: 3,000 rows checked, max probability difference" in result.out
    assert "3,000 labels identical" in result.out
    with closedloop.Client(registered) as client:
        assert client.models.get("adult/1").onnx_digest is not None


def test_refused_prints_the_reason_and_exits_1(cli: Cli, registered: Path) -> None:
    result = cli(
        "-w",
        registered,
        "models",
        "onnx",
        "adult/1",
        "--dataset",
        "adult-test@latest",
        "--atol",
        "0",
    )
    assert result.code == 1
    assert "refused adult/1: 0 of 400 labels differ, max probability difference" in result.out
    assert "served as it is" in result.out
    with closedloop.Client(registered) as client:
        assert client.models.get("adult/1").onnx_digest is None


def test_negative_atol_is_a_usage_error(cli: Cli, registered: Path) -> None:
    result = cli("-w", registered, "models", "onnx", "adult/1", "--atol", "-1")
    assert result.code == 2
