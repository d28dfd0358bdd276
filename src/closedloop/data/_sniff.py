"""Look at a delimited text file before pandas reads it: its delimiter and its header row.

pandas reads a ``;``-separated file as one column ``a;b;c`` and silently renames a second
column ``a`` to ``a.1``; these helpers let :mod:`closedloop.data._read` notice both.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CANDIDATE_DELIMITERS", "detect_delimiter", "raw_header"]

#: The delimiters :func:`detect_delimiter` chooses from, the default first.
CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")

_SAMPLE_BYTES = 64 * 1024

_SAMPLE_LINES = 50

# Reader options that change how the header row is cut into names; passed on when the raw
# header is read. Everything else (dtype, usecols, converters …) is about values.
_TOKENIZING = (
    "comment",
    "compression",
    "dialect",
    "doublequote",
    "encoding",
    "encoding_errors",
    "escapechar",
    "lineterminator",
    "quotechar",
    "quoting",
    "skip_blank_lines",
    "skipinitialspace",
    "skiprows",
)


def _head(path: Path) -> bytes:
    """The first bytes of the file's content (``.gz``, ``.bz2`` and ``.xz`` decompressed)."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return f.read(_SAMPLE_BYTES)
    if suffix == ".bz2":
        with bz2.open(path, "rb") as f:
            return f.read(_SAMPLE_BYTES)
    if suffix == ".xz":
        with lzma.open(path, "rb") as f:
            return f.read(_SAMPLE_BYTES)
    with path.open("rb") as f:
        return f.read(_SAMPLE_BYTES)


def _field_counts(lines: list[str], delimiter: str) -> set[int] | None:
    try:
        rows = list(csv.reader(io.StringIO("".join(lines)), delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return {len(row) for row in rows if row}


def detect_delimiter(path: Path, encoding: str = "utf-8", *, skip: int = 0) -> str:
    """The delimiter of a delimited text file, judged from its first lines.

    A delimiter is *consistent* when it cuts every sampled line (up to 50 lines or 64 KiB,
    quoting respected) into the same number of fields, at least two. The comma is kept
    whenever it is consistent; otherwise the first consistent one of ``;``, tab and ``|``
    that gives the most fields is chosen; when none is, the comma (pandas' default) is
    returned and pandas reports what it makes of the file.

    Args:
        path: The file; a ``.gz``, ``.bz2`` or ``.xz`` file is decompressed first.
        encoding: How to decode the sample (undecodable bytes are replaced).
        skip: Lines to ignore at the start (the reader's ``skiprows``, when a number).

    Returns:
        One of :data:`CANDIDATE_DELIMITERS`.
    """
    try:
        raw = _head(path)
        text = raw.decode(encoding, errors="replace")
    except (OSError, EOFError, LookupError, lzma.LZMAError):  # the real read reports it
        return ","
    lines = text.splitlines(keepends=True)
    if len(raw) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    lines = [line for line in lines[skip : skip + _SAMPLE_LINES] if line.strip()]
    best, best_fields = ",", 1
    for delimiter in CANDIDATE_DELIMITERS:
        counts = _field_counts(lines, delimiter)
        if counts is None or len(counts) != 1:
            continue
        (fields,) = counts
        if delimiter == "," and fields > 1:
            return ","
        if fields > best_fields:
            best, best_fields = delimiter, fields
    return best


def raw_header(path: Path, options: Mapping[str, Any]) -> list[str] | None:
    """The header row's names exactly as written (empty names as ``""``), or None.

    None means the names do not come from one header row of the file: ``names`` or
    ``usecols`` is given, or ``header`` is not a row number (``None``, a list of rows).

    Args:
        path: The file.
        options: The reader options the table is read with (including ``sep``).

    Raises:
        ValueError, OSError, UnicodeError: As ``pd.read_csv`` does for the same options.
    """
    if "names" in options or "usecols" in options:
        return None
    header = options.get("header", "infer")
    if header == "infer":
        header = 0
    if not isinstance(header, int) or isinstance(header, bool) or header < 0:
        return None
    passed = {k: v for k, v in options.items() if k in _TOKENIZING}
    sep = options.get("sep", options.get("delimiter", ","))
    rows: pd.DataFrame = pd.read_csv(
        path,
        **passed,
        sep=sep,
        header=None,
        nrows=header + 1,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
    )
    if len(rows) <= header:
        return None
    return [str(v) for v in rows.iloc[header].tolist()]
