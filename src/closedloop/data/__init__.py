"""Data: read files, infer and check schemas, and keep immutable dataset versions.

Example:
    >>> from closedloop import data
    >>> result = data.ingest(ws, "train.csv", "churn")
    >>> df = data.load(ws, "churn@latest")
    >>> data.validate_batch(ws, "churn@latest", "new_batch.csv").warnings

Importing this package imports pandas and pyarrow; ``import closedloop`` does not import it.
"""

from closedloop.data._checks import IngestWarning
from closedloop.data._read import (
    FORMATS,
    ReadResult,
    file_digest,
    infer_format,
    read_source,
    read_table,
    resolve_format,
)
from closedloop.data._schema import infer_schema
from closedloop.data._validate import Issue, Severity, ValidationReport, check, validate
from closedloop.data._versions import (
    IngestResult,
    get_version,
    ingest,
    ingest_frame,
    list_versions,
    load,
    to_parquet_bytes,
    validate_batch,
)

__all__ = [
    "FORMATS",
    "IngestResult",
    "IngestWarning",
    "Issue",
    "ReadResult",
    "Severity",
    "ValidationReport",
    "check",
    "file_digest",
    "get_version",
    "infer_format",
    "infer_schema",
    "ingest",
    "ingest_frame",
    "list_versions",
    "load",
    "read_source",
    "read_table",
    "resolve_format",
    "to_parquet_bytes",
    "validate",
    "validate_batch",
]
