"""ingest / ingest_frame / load / validate_batch / get_version / list_versions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from closedloop import data
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import DataValidationError, InvalidArgumentError, NotFoundError
from closedloop.workspace import Workspace


def blob_count(ws: Workspace) -> int:
    return sum(1 for _ in ws.artifacts.iter_blobs())


def _events(ws: Workspace, action: str) -> list[str]:
    return [e.outcome for e in ws.metadata.list_audit_events(action=action, limit=1000)]


def test_ingest_creates_version_one(workspace: Workspace, people_csv: Path) -> None:
    result = data.ingest(workspace, people_csv, "people")
    v = result.version
    assert result.created
    assert result.report is None
    assert (v.dataset, v.version, v.n_rows, v.n_columns) == ("people", 1, 4, 4)
    assert v.id == f"people@{v.digest.removeprefix('sha256:')[:12]}"
    assert v.source_digest == data.file_digest(people_csv)
    assert json.loads(v.source) == {
        "path": str(people_csv.resolve()),
        "format": "csv",
        "options": {},
    }
    assert v.schema == data.infer_schema(data.read_source(people_csv))
    assert workspace.artifacts.exists(v.digest)
    assert _events(workspace, "dataset.ingest") == ["ok"]


def test_ingest_twice_is_the_same_version(workspace: Workspace, people_csv: Path) -> None:
    first = data.ingest(workspace, people_csv, "people")
    again = data.ingest(workspace, people_csv, "people")
    assert again.version.id == first.version.id
    assert again.version == first.version
    assert not again.created
    assert blob_count(workspace) == 1
    assert len(data.list_versions(workspace, "people")) == 1
    events = workspace.metadata.list_audit_events(action="dataset.ingest")
    assert [e.outcome for e in events] == ["ok", "ok"]
    assert events[0].detail["digest"] == events[1].detail["digest"]  # the same content twice


def test_a_different_file_is_version_two(
    workspace: Workspace, people_csv: Path, people: pd.DataFrame, tmp_path: Path
) -> None:
    data.ingest(workspace, people_csv, "people")
    other = tmp_path / "more.parquet"
    people.assign(age=people["age"] + 1).to_parquet(other, index=False)
    second = data.ingest(workspace, other, "people")
    assert second.created
    assert second.version.version == 2
    assert json.loads(second.version.source)["format"] == "parquet"
    assert [v.version for v in data.list_versions(workspace, "people")] == [1, 2]
    assert data.get_version(workspace, "people@latest") == second.version
    assert data.get_version(workspace, "people/1").version == 1
    assert blob_count(workspace) == 2


def test_same_content_in_another_format_is_the_same_version(
    workspace: Workspace, people_csv: Path, people: pd.DataFrame, tmp_path: Path
) -> None:
    first = data.ingest(workspace, people_csv, "people")
    as_parquet = tmp_path / "people.parquet"
    data.read_source(people_csv).to_parquet(as_parquet, index=False)
    again = data.ingest(workspace, as_parquet, "people")
    assert again.version.id == first.version.id  # content-addressed by canonical Parquet
    assert not again.created


def test_refused_batch_stores_nothing(workspace: Workspace, tmp_path: Path) -> None:
    schema = TableSchema(
        (
            ColumnSchema("age", LogicalType.INTEGER, nullable=False),
            ColumnSchema("sex", LogicalType.CATEGORY, categories=("F", "M")),
        )
    )
    good = tmp_path / "good.csv"
    good.write_text("age,sex\n30,F\n40,M\n")
    data.ingest(workspace, good, "people", schema=schema)
    versions, blobs = len(data.list_versions(workspace)), blob_count(workspace)

    wrong_type = tmp_path / "wrong_type.csv"
    wrong_type.write_text("age,sex\n30,F\nabc,M\n")
    unknown_column = tmp_path / "unknown.csv"
    unknown_column.write_text("age,sex,extra\n30,F,1\n")
    for path, rule in ((wrong_type, "type"), (unknown_column, "unknown_column")):
        with pytest.raises(DataValidationError) as info:
            data.ingest(workspace, path, "people", schema=schema)
        report = info.value.report
        assert isinstance(report, data.ValidationReport)
        assert [i.rule for i in report.errors] == [rule]
        assert len(data.list_versions(workspace)) == versions
        assert blob_count(workspace) == blobs
    assert _events(workspace, "dataset.ingest") == [
        "error:DATA_VALIDATION",
        "error:DATA_VALIDATION",
        "ok",
    ]


def test_accepted_batch_carries_its_warnings(workspace: Workspace, tmp_path: Path) -> None:
    schema = TableSchema((ColumnSchema("sex", LogicalType.CATEGORY, categories=("F", "M")),))
    path = tmp_path / "b.csv"
    path.write_text("sex\nF\nX\n")
    result = data.ingest(workspace, path, "people", schema=schema)
    assert result.created
    assert result.report is not None
    assert [i.rule for i in result.report.warnings] == ["category"]


def test_load_round_trips_values_and_dtypes(workspace: Workspace) -> None:
    df = pd.DataFrame(
        {
            "i": pd.Series([1, 2, 3], dtype="int64"),
            "n": pd.Series([1, None, 3], dtype="Int64"),
            "f": [0.1, float("nan"), 3.5],
            "b": [True, False, True],
            "s": ["x", None, "z"],
            "c": pd.Categorical(["a", "b", "a"]),
            "t": pd.to_datetime(["2024-01-01", None, "2024-03-01"]).tz_localize("UTC"),
        },
        index=[7, 8, 9],  # not stored
    )
    result = data.ingest_frame(workspace, df, "mixed", source="test frame")
    loaded = data.load(workspace, result.version)
    pd.testing.assert_frame_equal(loaded, df.reset_index(drop=True))
    pd.testing.assert_frame_equal(data.load(workspace, "mixed@latest"), loaded)
    assert "ok" in _events(workspace, "dataset.read")


def test_canonical_parquet_is_byte_identical(people: pd.DataFrame) -> None:
    assert data.to_parquet_bytes(people) == data.to_parquet_bytes(people.copy())


def test_ingest_frame_records_parents(workspace: Workspace, people_csv: Path) -> None:
    raw = data.ingest(workspace, people_csv, "people").version
    frame = data.load(workspace, raw)
    adults = frame[frame["age"] >= 30]
    derived = data.ingest_frame(
        workspace, adults, "people_30plus", source="age >= 30 of people/1", parents=["people/1"]
    )
    v = derived.version
    assert derived.created
    assert v.parents == (raw.id,)  # references resolved to ids
    assert v.source == "age >= 30 of people/1"
    assert v.source_digest is None
    assert v.n_rows == 3
    assert data.get_version(workspace, v.id).parents == (raw.id,)
    with pytest.raises(NotFoundError):
        data.ingest_frame(workspace, adults, "other", source="x", parents=["people/9"])
    assert [d.dataset for d in data.list_versions(workspace)] == ["people", "people_30plus"]


def test_validate_batch(workspace: Workspace, people_csv: Path, tmp_path: Path) -> None:
    version = data.ingest(workspace, people_csv, "people").version
    ok = data.validate_batch(workspace, "people@latest", people_csv)
    assert ok.ok
    assert ok.issues == ()
    frame = data.read_source(people_csv).assign(sex=["F", "M", "X", "F"])
    warned = data.validate_batch(workspace, version, frame)
    assert [i.rule for i in warned.issues] == ["category"]
    bad = tmp_path / "bad.csv"
    bad.write_text("age,income,sex,member,extra\nold,1.0,F,True,1\n")
    blobs = blob_count(workspace)
    with pytest.raises(DataValidationError) as info:
        data.validate_batch(workspace, version, bad)
    report = info.value.report
    assert isinstance(report, data.ValidationReport)
    assert {(i.column, i.rule) for i in report.errors} == {
        ("age", "type"),
        ("extra", "unknown_column"),
    }
    assert blob_count(workspace) == blobs
    assert len(data.list_versions(workspace)) == 1
    assert _events(workspace, "dataset.validate") == ["error:DATA_VALIDATION", "ok", "ok"]


def test_reads_are_audited(workspace: Workspace, people_csv: Path) -> None:
    data.ingest(workspace, people_csv, "people")
    data.list_versions(workspace)
    data.get_version(workspace, "people/1")
    with pytest.raises(NotFoundError):
        data.get_version(workspace, "people/2")
    with pytest.raises(NotFoundError):
        data.load(workspace, "nobody@latest")
    assert _events(workspace, "dataset.list") == ["ok"]
    assert _events(workspace, "dataset.read") == ["error:NOT_FOUND", "error:NOT_FOUND", "ok"]


@pytest.mark.parametrize("name", ["", "  ", "a@b", "a/b", "x" * 256])
def test_bad_dataset_names(workspace: Workspace, people_csv: Path, name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        data.ingest(workspace, people_csv, name)
    assert blob_count(workspace) == 0


def test_missing_source_file(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"missing\.csv"):
        data.ingest(workspace, tmp_path / "missing.csv", "people")
    assert _events(workspace, "dataset.ingest") == ["error:NOT_FOUND"]


def test_unstorable_frame(workspace: Workspace) -> None:
    mixed = pd.DataFrame({"m": pd.Series([1, "a", 2.5], dtype=object)})
    with pytest.raises(InvalidArgumentError, match="Parquet"):
        data.ingest_frame(workspace, mixed, "mixed", source="x")
    with pytest.raises(InvalidArgumentError, match="not a string"):
        data.ingest_frame(workspace, pd.DataFrame([[1]]), "unnamed", source="x")
    assert blob_count(workspace) == 0
