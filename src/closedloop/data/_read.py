"""Read tabular files (CSV, TSV, Parquet, JSON, JSON Lines) into pandas, with clear errors.

Text files are read the way a careful user expects rather than the way pandas defaults:

- **encoding**: UTF-8 unless ``encoding`` is given; a file that is not valid UTF-8 is read
  as cp1252, or else latin-1 (which decodes any bytes), with a warning naming the encoding
  used and the option that chooses another.
- **delimiter** (CSV): unless ``sep`` (or ``delimiter``, or ``compression``) is given, it
  is detected among
  ``,`` ``;`` tab and ``|`` (:func:`closedloop.data._sniff.detect_delimiter`); a delimiter
  other than the comma is reported with a warning.
- **header** (CSV, TSV): the header row is checked as written, before pandas renames a
  repeated name ``a`` to ``a.1``: repeated names and a header of only empty cells are
  refused, each empty cell is a warning.

Whatever the reader raises (a parse error, an integer overflow, an unknown option or
encoding, a corrupt Parquet footer) comes out as an
:class:`~closedloop.errors.InvalidArgumentError` naming the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa

from closedloop.core import ProgressCallback, report_progress
from closedloop.data._checks import IngestWarning, check_header
from closedloop.data._progress import CountingReader
from closedloop.data._sniff import detect_delimiter, raw_header
from closedloop.errors import InvalidArgumentError, NotFoundError

__all__ = [
    "FORMATS",
    "ReadResult",
    "file_digest",
    "infer_format",
    "read_source",
    "read_table",
    "resolve_format",
]

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

_TEXT = frozenset({"csv", "tsv", "json", "jsonl"})
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
#: Compressions pandas infers from a path's suffix; a file object must be told.
_COMPRESSIONS: Mapping[str, str] = {
    ".gz": "gzip",
    ".bz2": "bz2",
    ".zip": "zip",
    ".xz": "xz",
    ".zst": "zstd",
}
# Everything a pandas or pyarrow reader raises for a bad file or bad options: parse,
# empty-data, Arrow and JSON errors are ValueErrors; a bad option a TypeError; an unknown
# encoding a LookupError; a corrupt Parquet footer an OSError; a number too large for its
# type an OverflowError; the python engine's csv.Error.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    UnicodeError,
    ArithmeticError,
    LookupError,
    NotImplementedError,
    csv.Error,
    pa.ArrowException,
)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What :func:`read_table` read.

    Attributes:
        frame: The table, with a default ``RangeIndex``.
        options: The reader options the file was read with: those given, plus a detected
            ``sep`` or a fallback ``encoding`` (so reading again with them gives the same
            table).
        warnings: What the user should know about how the file was read.
    """

    frame: pd.DataFrame
    options: dict[str, Any]
    warnings: tuple[IngestWarning, ...]


def _read_csv(path: Any, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_csv(path, **options)
    return df


def _read_tsv(path: Any, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_csv(path, **{"sep": "\t", **options})
    return df


def _read_parquet(path: Any, options: dict[str, Any]) -> pd.DataFrame:
    df: pd.DataFrame = pd.read_parquet(path, **options)
    return df


def _read_json(path: Any, options: dict[str, Any]) -> pd.DataFrame:
    # A JSON document holding an array of records: [{"a": 1}, {"a": 2}].
    df: pd.DataFrame = pd.read_json(path, **{"orient": "records", **options})
    return df


def _read_jsonl(path: Any, options: dict[str, Any]) -> pd.DataFrame:
    # One record per line.
    df: pd.DataFrame = pd.read_json(path, **{"orient": "records", **options, "lines": True})
    return df


_READERS: Mapping[str, Callable[[Any, dict[str, Any]], pd.DataFrame]] = {
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
            hint=f"pass -f/--format on the command line, or format= in Python: one of "
            f"{', '.join(FORMATS)} (suffixes: {', '.join(sorted(_SUFFIXES))})",
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


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _unreadable(path: Path, fmt: str, e: BaseException) -> InvalidArgumentError:
    hint = "check the file, the format and the reader options"
    if isinstance(e, UnicodeError | LookupError):
        hint = (
            "name the file's encoding: -o encoding=latin-1 on the command line, "
            "options={'encoding': 'latin-1'} in Python"
        )
    elif isinstance(e, ArithmeticError):
        hint = 'declare the column\'s type: -o dtype=\'{"col": "float64"}\' (or "str")'
    return InvalidArgumentError(f"cannot read {str(path)!r} as {fmt}: {_reason(e)}", hint=hint)


def _read_once(
    path: Path, fmt: str, options: dict[str, Any], progress: ProgressCallback | None
) -> pd.DataFrame:
    """One read of the file through a byte-counting handle (for progress)."""
    passed = dict(options)
    compression = _COMPRESSIONS.get(path.suffix.lower())
    if fmt in _TEXT and compression is not None:
        passed.setdefault("compression", compression)
    total = path.stat().st_size
    task = f"reading {path.name}"
    if "encoding" in options:
        task += f" ({options['encoding']})"  # a retry with a fallback encoding: a new task
    report_progress(progress, task, 0, total, "bytes")
    raw: BinaryIO = path.open("rb", buffering=0)
    with io.BufferedReader(CountingReader(raw, total, progress, task), _CHUNK) as handle:
        df = _READERS[fmt](handle, passed)
    report_progress(progress, task, total, total, "bytes")
    return df


def read_table(
    source: str | Path,
    *,
    format: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> ReadResult:
    """Read a local data file, detecting what pandas would get wrong (see the module doc).

    Args:
        source: Path of a CSV, TSV, Parquet, JSON (an array of records) or JSON Lines file.
        format: One of :data:`FORMATS`; inferred from the suffix when omitted.
        options: Keyword arguments passed on to the pandas reader; an explicit ``sep`` or
            ``encoding`` turns off its detection.
        progress: Called with ``ProgressEvent("reading <file name>", done, total, "bytes")``
            as the file is parsed (a retry with a fallback encoding is the task
            ``"reading <file name> (<encoding>)"``).

    Returns:
        The table, the options it was read with and the warnings.

    Raises:
        NotFoundError: The file does not exist.
        InvalidArgumentError: The format is unknown, the file cannot be parsed (the message
            names the file and quotes the reader's error), or its header repeats a name or
            has no names.
    """
    fmt = resolve_format(source, format)
    path = _existing_file(source)
    opts = dict(options or {})
    warnings: list[IngestWarning] = []
    explicit = {"sep", "delimiter", "compression"} & set(opts)  # compression: by suffix only
    if fmt == "csv" and not explicit:
        skip = opts.get("skiprows", 0)
        skip = skip if isinstance(skip, int) and not isinstance(skip, bool) else 0
        sep = detect_delimiter(path, str(opts.get("encoding", "utf-8")), skip=skip)
        if sep != ",":
            opts["sep"] = sep
            shown = "tab" if sep == "\t" else repr(sep)
            warnings.append(
                IngestWarning(
                    "delimiter",
                    f"read with the delimiter {shown} (detected); pass -o sep=... "
                    "(options={'sep': ...}) to choose another",
                )
            )
    names: list[str] | None = None
    try:
        try:
            df = _read_once(path, fmt, opts, progress)
        except UnicodeDecodeError as e:
            if fmt not in _TEXT or "encoding" in opts:
                raise
            df, encoding = _read_fallback(path, fmt, opts, progress)
            opts["encoding"] = encoding
            warnings.append(
                IngestWarning(
                    "encoding",
                    f"{path.name!r} is not valid UTF-8 (it holds the byte "
                    f"0x{e.object[e.start]:02x}); read it as {encoding}: pass -o encoding=... "
                    "(options={'encoding': ...}) if that is wrong",
                )
            )
        if fmt in ("csv", "tsv"):
            names = raw_header(path, {"sep": "\t", **opts} if fmt == "tsv" else opts)
    except _READ_ERRORS as e:
        raise _unreadable(path, fmt, e) from e
    if names is not None:
        warnings.extend(check_header(names, what=repr(str(path))))
    return ReadResult(df, opts, tuple(warnings))


def _read_fallback(
    path: Path, fmt: str, options: dict[str, Any], progress: ProgressCallback | None
) -> tuple[pd.DataFrame, str]:
    """Read with the first fallback encoding that decodes the file."""
    for encoding in _FALLBACK_ENCODINGS[:-1]:
        try:
            return _read_once(path, fmt, {**options, "encoding": encoding}, progress), encoding
        except UnicodeDecodeError:
            continue
    last = _FALLBACK_ENCODINGS[-1]
    return _read_once(path, fmt, {**options, "encoding": last}, progress), last


def read_source(
    source: str | Path,
    *,
    format: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read a local data file into a DataFrame (:func:`read_table` without the details).

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
    return read_table(source, format=format, options=options).frame


def file_digest(path: str | Path, *, progress: ProgressCallback | None = None) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks.

    Args:
        path: A local file.
        progress: Called with ``ProgressEvent("hashing <file name>", done, total, "bytes")``.

    Returns:
        ``"sha256:"`` followed by 64 lowercase hex characters.

    Raises:
        NotFoundError: The file does not exist.
    """
    file = _existing_file(path)
    total = file.stat().st_size
    task = f"hashing {file.name}"
    report_progress(progress, task, 0, total, "bytes")
    h = hashlib.sha256()
    with file.open("rb", buffering=0) as raw, CountingReader(raw, total, progress, task) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    report_progress(progress, task, total, total, "bytes")
    return f"sha256:{h.hexdigest()}"
