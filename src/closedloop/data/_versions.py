"""Dataset versions in a workspace: ingest, load, validate, list.

Every verb passes through ``Workspace.action`` (audited). A version is the table stored as
canonical Parquet in the artifact store (encrypted, content-addressed) plus a record in the
metadata store: its digest, counts, inferred schema, source and parents. The same table
always gives the same Parquet bytes (within one pyarrow version), so ingesting it again
returns the existing version instead of a new one.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from closedloop.core import DatasetVersion, ProgressCallback, TableSchema, report_progress
from closedloop.data._checks import IngestWarning, check_frame
from closedloop.data._read import file_digest, read_source, read_table, resolve_format
from closedloop.data._schema import column_name, infer_schema
from closedloop.data._validate import ValidationReport, check, raise_for_report, validate
from closedloop.errors import ArtifactIntegrityError, InvalidArgumentError
from closedloop.workspace import Action, Actions, Workspace

__all__ = [
    "IngestResult",
    "get_version",
    "ingest",
    "ingest_frame",
    "list_versions",
    "load",
    "to_parquet_bytes",
    "validate_batch",
]

_MAX_NAME = 255

# Fixed writer settings: the bytes (and so the digest) must depend on the data alone.
_PARQUET_OPTIONS: Mapping[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
    "store_schema": True,
}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :func:`ingest` and :func:`ingest_frame` did.

    Attributes:
        version: The dataset version holding the data.
        created: False when the same data was already a version of the dataset.
        report: The validation report when a schema was given (warnings only, as a batch
            with errors is refused), else ``None``.
        warnings: What was accepted but worth knowing: a detected delimiter or fallback
            encoding, a column without a name or without values (see
            :mod:`closedloop.data._checks`).
    """

    version: DatasetVersion
    created: bool
    report: ValidationReport | None
    warnings: tuple[IngestWarning, ...] = ()


def _check_name(dataset: str) -> str:
    if not isinstance(dataset, str) or not dataset.strip():
        raise InvalidArgumentError(
            f"dataset name {dataset!r} is empty", hint="use a name such as adult"
        )
    if "@" in dataset or "/" in dataset:
        raise InvalidArgumentError(
            f"dataset name {dataset!r} contains '@' or '/'",
            hint="those separate a name from a version in references (adult@latest, adult/2)",
        )
    if len(dataset) > _MAX_NAME:
        raise InvalidArgumentError(
            f"dataset name is {len(dataset)} characters long; the limit is {_MAX_NAME}"
        )
    return dataset


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    """The canonical Parquet encoding of a table (zstd, fixed settings, no index).

    The frame's index is dropped; dtypes pandas can restore (categories, nullable integers,
    time zones) are kept in the file's pandas metadata.

    Raises:
        InvalidArgumentError: A column label is not a string, or a column holds values
            Parquet cannot store in one column (numbers and text in an object column, an
            integer beyond 64 bits).
    """
    for label in df.columns:
        column_name(label)
    try:
        with warnings.catch_warnings():
            # pyarrow reads tz-aware columns through Series.values, which pandas 3 deprecates.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            table = pa.Table.from_pandas(df, preserve_index=False)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **_PARQUET_OPTIONS)
    except (pa.ArrowException, ValueError, TypeError, ArithmeticError) as e:
        # ArithmeticError: an OverflowError for a Python int beyond 64 bits.
        raise InvalidArgumentError(
            f"the table cannot be stored as Parquet: {e}",
            hint="give each column values of one type (e.g. df[col].astype(str))",
        ) from e
    return bytes(sink.getvalue().to_pybytes())


def _resolve(ws: Workspace, ref: str | DatasetVersion) -> DatasetVersion:
    if isinstance(ref, DatasetVersion):
        return ref
    return ws.metadata.datasets.get_version(ref)


def _ref_text(ref: str | DatasetVersion) -> str:
    return ref.id if isinstance(ref, DatasetVersion) else ref


def _store(
    ws: Workspace,
    act: Action,
    df: pd.DataFrame,
    dataset: str,
    *,
    source: str,
    source_digest: str | None,
    parents: Sequence[str | DatasetVersion],
    schema: TableSchema | None,
    what: str = "",
    warnings: Sequence[IngestWarning] = (),
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Check, validate, encode, put the blob and record the version, inside ``act``."""
    task = f"writing {dataset}"
    report_progress(progress, task, 0, None, "bytes")  # checks and encoding: size unknown
    found = [*warnings, *check_frame(df, what=what)]  # refuse before any write
    report = check(df, schema) if schema is not None else None
    parent_ids = tuple(dict.fromkeys(_resolve(ws, p).id for p in parents))
    inferred = infer_schema(df)
    data = to_parquet_bytes(df)
    report_progress(progress, task, 0, len(data), "bytes")
    blob = ws.artifacts.put_bytes(data)
    act.update(digest=blob.digest, n_rows=len(df), n_columns=len(df.columns))
    if found:
        act["warnings"] = [w.rule for w in found]
    version, created = ws.metadata.datasets.add_version(
        dataset,
        digest=blob.digest,
        n_rows=len(df),
        n_columns=len(df.columns),
        schema=inferred,
        source=source,
        source_digest=source_digest,
        parents=parent_ids,
        audit=act,
    )
    report_progress(progress, task, len(data), len(data), "bytes")
    return IngestResult(version, created, report, tuple(found))


def ingest(
    ws: Workspace,
    source: str | Path,
    dataset: str,
    *,
    format: str | None = None,
    options: Mapping[str, Any] | None = None,
    schema: TableSchema | None = None,
    parents: Sequence[str | DatasetVersion] = (),
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Read a data file and store it as a version of ``dataset``.

    Ingesting the same content again returns the existing version (``created=False``).

    The file is read as :func:`~closedloop.data.read_table` describes (detected delimiter,
    encoding fallback, header checks) and the table checked as
    :mod:`closedloop.data._checks` describes: duplicate or missing column names, no rows,
    no data, non-finite numbers, integers beyond 64 bits and NUL bytes are refused (nothing
    is stored); a detected delimiter, a fallback encoding, an unnamed or an empty column are
    accepted with a warning in ``result.warnings``.

    Args:
        ws: The workspace.
        source: A CSV, TSV, Parquet, JSON or JSON Lines file.
        dataset: Dataset name (no ``@`` or ``/``, at most 255 characters).
        format: The file format; inferred from the suffix when omitted.
        options: Keyword arguments for the pandas reader. The version records the options
            the file was read with: these, plus a detected ``sep`` or fallback ``encoding``.
        schema: When given, the batch must pass :func:`~closedloop.data.check` against it;
            a refused batch stores nothing (no blob, no record).
        parents: Versions (or references such as ``raw/1``) the data was derived from.
        progress: Called with :class:`~closedloop.core.ProgressEvent` values (unit
            ``"bytes"``) as the ingest goes through its phases, one task each:
            ``"hashing <file name>"`` and ``"reading <file name>"`` (bytes of the file),
            then ``"writing <dataset>"`` (checks and Parquet encoding with no total, then
            the blob's bytes once it is encoded).

    Returns:
        The version, whether it is new, the validation report when a schema was given, and
        the warnings.

    Raises:
        NotFoundError: The file or a parent version does not exist.
        InvalidArgumentError: Bad name, unknown format, unreadable file, or a table the
            checks refuse (the message names the column, the data row and the value).
        DataValidationError: The batch breaks ``schema``; ``e.report`` says how.

    Example:
        >>> result = ingest(ws, "sales.csv", "sales", progress=print)
        ProgressEvent(task='hashing sales.csv', completed=0, total=2048, unit='bytes')
        ...
        >>> [str(w) for w in result.warnings]
        ["read with the delimiter ';' (detected); pass -o sep=... (options={'sep': ...}) ..."]
    """
    _check_name(dataset)
    with ws.action(Actions.DATASET_INGEST, f"dataset:{dataset}", source=str(source)) as act:
        fmt = resolve_format(source, format)
        digest = file_digest(source, progress=progress)
        read = read_table(source, format=fmt, options=options, progress=progress)
        described = {
            "path": str(Path(source).expanduser().resolve()),
            "format": fmt,
            "options": read.options,
        }
        return _store(
            ws,
            act,
            read.frame,
            dataset,
            source=json.dumps(described, sort_keys=True, default=str),
            source_digest=digest,
            parents=parents,
            schema=schema,
            what=repr(str(source)),
            warnings=read.warnings,
            progress=progress,
        )


def ingest_frame(
    ws: Workspace,
    df: pd.DataFrame,
    dataset: str,
    *,
    source: str,
    source_digest: str | None = None,
    parents: Sequence[str | DatasetVersion] = (),
    schema: TableSchema | None = None,
) -> IngestResult:
    """Store a DataFrame as a version of ``dataset``, e.g. data derived from other versions.

    Args:
        ws: The workspace.
        df: The table (its index is not stored; the frame is not changed).
        dataset: Dataset name (no ``@`` or ``/``, at most 255 characters).
        source: How the data came about, recorded as given (e.g. ``"split of adult/1"``).
        source_digest: A digest of the source, if there is one.
        parents: Versions (or references) it was derived from; stored as version ids.
        schema: When given, the frame must pass :func:`~closedloop.data.check` first.

    Returns:
        The version, whether it is new, and the validation report when a schema was given.

    Raises:
        NotFoundError: A parent version does not exist.
        InvalidArgumentError: Bad name, the frame cannot be stored as Parquet, or it breaks
            a rule of :mod:`closedloop.data._checks` (duplicate names, no rows, no data,
            non-finite numbers, integers beyond 64 bits, NUL bytes); nothing is stored.
        DataValidationError: The frame breaks ``schema``; nothing is stored.
    """
    _check_name(dataset)
    with ws.action(Actions.DATASET_INGEST, f"dataset:{dataset}", source=source) as act:
        return _store(
            ws,
            act,
            df,
            dataset,
            source=source,
            source_digest=source_digest,
            parents=parents,
            schema=schema,
        )


def load(ws: Workspace, ref: str | DatasetVersion) -> pd.DataFrame:
    """A dataset version's table, read from its verified blob.

    Args:
        ws: The workspace.
        ref: A version or a reference: ``name@latest``, ``name/<number>`` or
            ``name@<digest prefix>``.

    Returns:
        A fresh DataFrame with a ``RangeIndex`` and the dtypes Parquet keeps.

    Raises:
        NotFoundError: No such version (or its blob is gone).
        ArtifactIntegrityError: The blob does not match its digest.
    """
    with ws.action(Actions.DATASET_READ, f"dataset:{_ref_text(ref)}") as act:
        version = _resolve(ws, ref)
        act["version"] = version.id
        data = ws.artifacts.get_bytes(version.digest)
    return pd.read_parquet(io.BytesIO(data))


def validate_batch(
    ws: Workspace,
    ref: str | DatasetVersion,
    source_or_frame: str | Path | pd.DataFrame,
    *,
    format: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> ValidationReport:
    """Check a new batch against a version's schema; stores nothing.

    Args:
        ws: The workspace.
        ref: The version whose schema the batch must fit.
        source_or_frame: A data file (read as by :func:`~closedloop.data.read_source`) or
            a DataFrame.
        format: The file's format, when it cannot be told from its suffix.
        options: Keyword arguments for the pandas reader.

    Returns:
        The report, when the batch has no errors (it may have warnings).

    The version's blob is read and verified first (its schema is only as good as its
    data), so a corrupt version is an error rather than a pass.

    Raises:
        DataValidationError: The batch has errors; ``e.report`` is the full report.
        NotFoundError: No such version or file, or the version's blob is gone.
        ArtifactIntegrityError: The version's blob fails verification (names the version).
    """
    with ws.action(Actions.DATASET_VALIDATE, f"dataset:{_ref_text(ref)}") as act:
        version = _resolve(ws, ref)
        act["version"] = version.id
        _verify(ws, version)
        if isinstance(source_or_frame, pd.DataFrame):
            df = source_or_frame
        else:
            act["source"] = str(source_or_frame)
            df = read_source(source_or_frame, format=format, options=options)
        report = validate(df, version.schema)
        act.update(errors=len(report.errors), warnings=len(report.warnings))
        raise_for_report(report)
    return report


def _verify(ws: Workspace, version: DatasetVersion) -> None:
    """Read the version's blob in full and check it, so a corrupt version is not trusted.

    Raises:
        NotFoundError: The blob is gone.
        ArtifactIntegrityError: The blob fails verification; the message names the version.
    """
    try:
        ws.artifacts.verify(version.digest)
    except ArtifactIntegrityError as e:
        raise type(e)(
            f"dataset version {version.id} ({version.dataset}/{version.version}) is corrupt: "
            f"{e.message}",
            hint="ingest the original data again (closedloop data ingest; the same content "
            "repairs the blob), or restore the blob from a copy",
        ) from e


def get_version(ws: Workspace, ref: str) -> DatasetVersion:
    """One dataset version by reference (``name@latest``, ``name/2``, ``name@<digest>``).

    Raises:
        NotFoundError: No such version.
    """
    with ws.action(Actions.DATASET_READ, f"dataset:{ref}"):
        return ws.metadata.datasets.get_version(ref)


def list_versions(ws: Workspace, dataset: str | None = None) -> list[DatasetVersion]:
    """Versions of one dataset (or all), by dataset name then version number."""
    with ws.action(Actions.DATASET_LIST, f"dataset:{dataset or '*'}"):
        return ws.metadata.datasets.list_versions(dataset)
