"""read_source: every format, and the errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from closedloop.data import FORMATS, file_digest, infer_format, read_source
from closedloop.errors import InvalidArgumentError, NotFoundError

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, 1.5, 2.5]})


def _check(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["a", "b", "c"]
    assert df["a"].tolist() == [1, 2, 3]
    assert df["b"].iloc[:2].tolist() == ["x", "y"]
    assert pd.isna(df["b"].iloc[2])
    assert df["c"].tolist() == [0.5, 1.5, 2.5]


def test_reads_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    FRAME.to_csv(path, index=False)
    _check(read_source(path))


def test_reads_tsv(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    FRAME.to_csv(path, index=False, sep="\t")
    _check(read_source(path))


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_reads_parquet(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    FRAME.to_parquet(path, index=False)
    _check(read_source(path))


def test_reads_json_records(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(FRAME.astype(object).where(FRAME.notna(), None).to_dict("records")))
    _check(read_source(path))


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_reads_json_lines(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    records = FRAME.astype(object).where(FRAME.notna(), None).to_dict("records")
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    _check(read_source(path))


def test_explicit_format_and_options(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("a;b\n1;?\n2;z\n")
    df = read_source(path, format="CSV", options={"sep": ";", "na_values": ["?"]})
    assert df["a"].tolist() == [1, 2]
    assert pd.isna(df["b"].iloc[0])


def test_suffix_inference_is_case_insensitive() -> None:
    assert infer_format("X.CSV") == "csv"
    assert infer_format(Path("a/b.NDJSON")) == "jsonl"
    assert set(FORMATS) == {"csv", "tsv", "parquet", "json", "jsonl"}


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(NotFoundError, match=r"nope\.csv"):
        read_source(missing)


def test_unknown_suffix_lists_formats(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(InvalidArgumentError) as info:
        read_source(path)
    assert "csv, tsv, parquet, json, jsonl" in (info.value.hint or "")
    assert "-f/--format on the command line, or format= in Python" in (info.value.hint or "")


def test_unknown_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    with pytest.raises(InvalidArgumentError, match="unknown data format 'excel'") as info:
        read_source(path, format="excel")
    assert "parquet" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("bad.json", "{not json", None),
        ("bad.parquet", "this is not parquet", None),
        ("bad.csv", 'a,b\n"unterminated,2\n', None),
        ("empty.csv", "", None),
    ],
)
def test_parse_failure_names_file(tmp_path: Path, name: str, content: str, fmt: str | None) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidArgumentError, match=f"cannot read .*{name}") as info:
        read_source(path, format=fmt)
    assert info.value.__cause__ is not None


def test_bad_reader_option_is_an_argument_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    with pytest.raises(InvalidArgumentError, match="no_such_option"):
        read_source(path, options={"no_such_option": 1})


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(InvalidArgumentError, match="not a file"):
        read_source(folder)


def test_file_digest_streams_sha256(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    content = bytes(range(256)) * 10_000  # > 1 MiB: several chunks
    path.write_bytes(content)
    assert file_digest(path) == "sha256:" + hashlib.sha256(content).hexdigest()
    with pytest.raises(NotFoundError):
        file_digest(tmp_path / "missing.bin")
