"""Read tabular files (CSV, TSV, Parquet, JSON, JSON Lines) into pandas, with clear errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from closedloop.errors import InvalidArgumentError, NotFoundError

__all__ = ["FORMATS", "file_digest", "infer_format", "read_source", "resolve_format"]

#: File suffix → format name understood by :func:`read_source`.
_SUFFIXES: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

#: The formats :func:`read_source` reads, in the order they are listed in errors.
FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "json", "jsonl")

_CHUNK = 1 << 20


def _read_csv(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_csv(path, **options)
    return df


def _read_tsv(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_csv(path, **{"sep": "\t", **options})
    return df


def _read_parquet(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_parquet(path, **options)
    return df


def _read_json(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    # A JSON document holding an array of records: [{"a": 1}, {"a": 2}].
    df: pd.DataFrame = pd.read_json(path, **{"orient": "records", **options})
    return df


def _read_jsonl(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    # One record per line.
    df: pd.DataFrame = pd.read_json(path, **{"orient": "records", **options, "lines": True})
    return df


_READERS: Mapping[str, Callable[[Path, dict[str, Any]], pd.DataFrame]] = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "parquet": _read_parquet,
    "json": _read_json,
    "jsonl": _read_jsonl,
}


def infer_format(source: str | Path) -> str:
    """The format named by a file's suffix (case-insensitive).

    Args:
        source: A file path.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        InvalidArgumentError: The suffix is not one of ``.csv``, ``.tsv``, ``.parquet``,
            ``.pq``, ``.json``, ``.jsonl`` or ``.ndjson``.
    """
    suffix = Path(source).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise InvalidArgumentError(
            f"cannot tell the format of {str(source)!r} from its suffix {suffix or '(none)'!r}",
            hint=f"pass format= one of {', '.join(FORMATS)} "
            f"(suffixes: {', '.join(sorted(_SUFFIXES))})",
        ) from None


def resolve_format(source: str | Path, format: str | None = None) -> str:
    """``format`` checked and normalised, or the format inferred from ``source``'s suffix.

    Raises:
        InvalidArgumentError: The format is unknown or cannot be inferred.
    """
    if format is None:
        return infer_format(source)
    name = format.strip().lower()
    if name not in _READERS:
        raise InvalidArgumentError(
            f"unknown data format {format!r}", hint=f"use one of {', '.join(FORMATS)}"
        )
    return name


def _existing_file(source: str | Path) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFoundError(f"no such file: {str(path)!r}", hint="check the path")
    if not path.is_file():
        raise InvalidArgumentError(f"{str(path)!r} is not a file", hint="name a data file")
    return path


def read_source(
    source: str | Path,
    *,
    format: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read a local data file into a DataFrame.

    Args:
        source: Path of a CSV, TSV, Parquet, JSON (an array of records) or JSON Lines file.
        format: One of :data:`FORMATS`; inferred from the suffix when omitted.
        options: Keyword arguments passed on to the pandas reader (``pd.read_csv``,
            ``pd.read_parquet`` or ``pd.read_json``), e.g. ``{"sep": ";"}``.

    Returns:
        The table, with a default ``RangeIndex``.

    Raises:
        NotFoundError: The file does not exist.
        InvalidArgumentError: The format is unknown, or the file cannot be parsed (the
            message names the file and quotes the reader's error).

    Example:
        >>> df = read_source("batch.csv", options={"na_values": ["?"]})
    """
    fmt = resolve_format(source, format)
    path = _existing_file(source)
    reader = _READERS[fmt]
    try:
        df = reader(path, dict(options or {}))
    except (ValueError, TypeError, OSError, UnicodeError) as e:
        # ParserError, EmptyDataError, ArrowInvalid and JSON errors are ValueErrors;
        # a bad reader option is a TypeError; a corrupt Parquet footer an OSError.
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidArgumentError(
            f"cannot read {str(path)!r} as {fmt}: {reason}",
            hint="check the file, the format and the reader options",
        ) from e
    return df


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks.

    Args:
        path: A local file.

    Returns:
        ``"sha256:"`` followed by 64 lowercase hex characters.

    Raises:
        NotFoundError: The file does not exist.
    """
    file = _existing_file(path)
    h = hashlib.sha256()
    with file.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"
