"""What ingest refuses or warns about (issue 6, items 2 and 9), through the SDK."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from closedloop import data
from closedloop.core import ProgressEvent
from closedloop.errors import ArtifactIntegrityError, InvalidArgumentError
from closedloop.workspace import Workspace


def blob_count(ws: Workspace) -> int:
    return sum(1 for _ in ws.artifacts.iter_blobs())


def _file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _refused(ws: Workspace, path: Path, *, match: str, **kwargs: object) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        data.ingest(ws, path, "t", **kwargs)  # type: ignore[arg-type]
    assert info.value.hint
    assert blob_count(ws) == 0
    assert data.list_versions(ws) == []
    return info.value


def test_huge_integer_is_refused_naming_column_row_and_value(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = _file(tmp_path, "big.csv", "a,b\n1,x\n99999999999999999999999999,y\n")
    e = _refused(workspace, path, match=r"column 'a' .*data row 2.*99999999999999999999999999")
    assert '"a": "float64"' in (e.hint or "")
    # The hint works: declared as float the column is read (rounded); as text it is kept.
    as_float = data.ingest(workspace, path, "t", options={"dtype": {"a": "float64"}})
    assert as_float.version.schema.column("a").type.value == "float"
    as_text = data.ingest(workspace, path, "t2", options={"dtype": {"a": "str"}})
    assert data.load(workspace, as_text.version)["a"].tolist()[1] == "99999999999999999999999999"


def test_huge_integer_in_a_frame_is_an_error_not_an_overflow(workspace: Workspace) -> None:
    frame = pd.DataFrame({"n": pd.Series([1, 10**30], dtype=object)})
    with pytest.raises(InvalidArgumentError, match=r"column 'n' .*64 bits.*data row 2"):
        data.ingest_frame(workspace, frame, "t", source="x")
    # The writer's own guard, for a frame that skipped the checks.
    with pytest.raises(InvalidArgumentError, match="Parquet"):
        data.to_parquet_bytes(frame)


def test_duplicate_column_names_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "dup.csv", "a,b,a\n1,2,3\n")
    _refused(workspace, path, match=r"duplicate column name\(s\) .*'a'")
    frame = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(InvalidArgumentError, match="duplicate column name"):
        data.ingest_frame(workspace, frame, "t", source="x")


def test_a_column_really_named_like_a_renamed_one_is_kept(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = _file(tmp_path, "dots.csv", "a,a.1\n1,2\n")
    result = data.ingest(workspace, path, "t")
    assert result.version.schema.names == ["a", "a.1"]
    assert result.warnings == ()


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_the_delimiter_is_detected_and_reported(
    workspace: Workspace, tmp_path: Path, sep: str, shown: str
) -> None:
    path = _file(tmp_path, "semi.csv", sep.join("abc") + "\n" + sep.join("123") + "\n")
    result = data.ingest(workspace, path, "t")
    assert result.version.schema.names == ["a", "b", "c"]
    assert [w.rule for w in result.warnings] == ["delimiter"]
    assert shown in result.warnings[0].message
    assert json.loads(result.version.source)["options"] == {"sep": sep}  # re-readable


def test_the_delimiter_of_a_gzipped_file_is_detected(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "semi.csv.gz", gzip.compress(b"a;b\n1;2\n3;4\n"))
    result = data.ingest(workspace, path, "t", format="csv")
    assert result.version.schema.names == ["a", "b"]
    assert [w.rule for w in result.warnings] == ["delimiter"]
    assert data.load(workspace, result.version)["b"].tolist() == [2, 4]


def test_commas_win_over_semicolons_in_values(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "c.csv", 'a,b\n1,"x;y"\n2,z;w;v\n')
    result = data.ingest(workspace, path, "t")
    assert result.version.schema.names == ["a", "b"]
    assert result.warnings == ()


def test_an_explicit_separator_wins(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "semi.csv", "a;b;c\n1;2;3\n")
    result = data.ingest(workspace, path, "t", options={"sep": ","})
    assert result.version.schema.names == ["a;b;c"]
    assert result.warnings == ()


def test_a_file_of_only_delimiters_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "delims.csv", ",,,\n,,,\n,,,\n")
    _refused(workspace, path, match="header row .* has no column names")


def test_all_empty_rows_under_a_header_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "empty.csv", "a,b\n,\n,\n")
    _refused(workspace, path, match=r"no data .*every value of the 2 row\(s\) is empty")


def test_a_header_only_file_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "header.csv", "a,b,c\n")
    _refused(workspace, path, match="no data rows .*types cannot be inferred from no rows")


def test_unnamed_and_empty_columns_are_warnings(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "idx.csv", ",a,b\n0,1,\n1,2,\n")
    result = data.ingest(workspace, path, "t")
    assert [(w.rule, w.column) for w in result.warnings] == [
        ("unnamed_column", "Unnamed: 0"),
        ("empty_column", "b"),
    ]
    assert "no name in the header" in result.warnings[0].message
    assert "is a guess" in str(result.warnings[1])


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400"])
def test_non_finite_numbers_are_refused(workspace: Workspace, tmp_path: Path, value: str) -> None:
    path = _file(tmp_path, "inf.csv", f"a,b\n5,x\n7,y\n{value},z\n")
    e = _refused(workspace, path, match=r"column 'a' .*non-finite value in data row 3")
    assert "na_values" in (e.hint or "")


def test_inf_read_as_missing_keeps_the_range_true(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "inf.csv", "a,b\n5,x\n7,y\ninf,z\n")
    result = data.ingest(workspace, path, "t", options={"na_values": ["inf", "-inf"]})
    column = result.version.schema.column("a")
    assert (column.minimum, column.maximum, column.nullable) == (5.0, 7.0, True)
    frame = pd.DataFrame({"f": [1.0, float("inf")]})
    with pytest.raises(InvalidArgumentError, match="non-finite"):
        data.ingest_frame(workspace, frame, "t", source="x")


def test_nul_bytes_are_refused_naming_column_and_row(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "nul.csv", b"a,b\n1,ok\n2,x\x00y\n")
    _refused(workspace, path, match=r"column 'b' .*NUL byte in data row 2")
    named = _file(tmp_path, "nulname.csv", b"a,b\x00c\n1,2\n")
    _refused(workspace, named, match="NUL byte")


def test_a_latin1_file_is_read_with_a_warning(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "latin.csv", "name,city\nJosé,Málaga\nAnne,Zürich\n".encode("latin-1"))
    result = data.ingest(workspace, path, "t")
    assert data.load(workspace, result.version)["city"].tolist() == ["Málaga", "Zürich"]
    assert [w.rule for w in result.warnings] == ["encoding"]
    assert "not valid UTF-8" in result.warnings[0].message
    assert "-o encoding=" in result.warnings[0].message
    assert json.loads(result.version.source)["options"] == {"encoding": "cp1252"}


def test_a_wrong_explicit_encoding_names_the_option(workspace: Workspace, tmp_path: Path) -> None:
    path = _file(tmp_path, "latin.csv", "a\nJosé\n".encode("latin-1"))
    e = _refused(workspace, path, match="cannot read", options={"encoding": "utf-8"})
    assert "-o encoding=latin-1" in (e.hint or "")
    e = _refused(workspace, path, match="cannot read", options={"encoding": "no-such-codec"})
    assert "encoding" in (e.hint or "")


def test_progress_reports_each_phase_in_bytes(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = "\n".join(f"{i},{i * 0.5},name{i % 7}" for i in range(120_000))
    path.write_text("a,b,c\n" + rows + "\n")  # about 2.5 MB: several reports per phase
    size = path.stat().st_size
    events: list[ProgressEvent] = []
    result = data.ingest(workspace, path, "big", progress=events.append)
    tasks = list(dict.fromkeys(e.task for e in events))
    assert tasks == ["hashing big.csv", "reading big.csv", "writing big"]
    for task in tasks:
        mine = [e for e in events if e.task == task]
        assert all(e.unit == "bytes" for e in mine)
        done = [e.completed for e in mine]
        assert done == sorted(done)  # never decreasing
        assert mine[-1].finished
    for task in tasks[:2]:
        mine = [e for e in events if e.task == task]
        assert {e.total for e in mine} == {size}
        assert mine[0].completed == 0
        assert len(mine) > 3  # reported as it goes, not only at the start and the end
    writing = [e for e in events if e.task == "writing big"]
    assert writing[0].total is None  # before the Parquet size is known
    assert writing[-1].total == writing[-1].completed > 0
    assert result.version.n_rows == 120_000


def test_validate_verifies_the_version_it_validates_against(
    workspace: Workspace, people_csv: Path, tmp_path: Path
) -> None:
    version = data.ingest(workspace, people_csv, "people").version
    assert data.validate_batch(workspace, version.id, people_csv).ok
    hex_digest = version.digest.removeprefix("sha256:")
    objects = tmp_path / "ws" / ".closedloop" / "artifacts" / "objects"  # the conftest's ws
    path = objects / hex_digest[:2] / hex_digest[2:]
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ArtifactIntegrityError, match=f"dataset version {version.id}"):
        data.validate_batch(workspace, version.id, people_csv)
    events = workspace.metadata.list_audit_events(action="dataset.validate")
    assert events[0].outcome.startswith("error:ARTIFACT")
