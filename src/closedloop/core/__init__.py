"""The domain: frozen entities and the search language. Imports only the stdlib and errors."""

from closedloop.core._entities import (
    ArtifactRef,
    AuditEvent,
    Experiment,
    Metric,
    Project,
    Run,
    RunInput,
    RunPage,
    RunStatus,
    ms_to_datetime,
    now_ms,
)
from closedloop.core._lifecycle import DatasetVersion, LoopDecision, ModelVersion, Prediction
from closedloop.core._progress import ProgressCallback, ProgressEvent, report_progress
from closedloop.core._query import (
    ATTRIBUTES,
    And,
    Comparison,
    Field,
    FilterExpr,
    Not,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from closedloop.core._schema import ColumnSchema, LogicalType, TableSchema

__all__ = [
    "ATTRIBUTES",
    "And",
    "ArtifactRef",
    "AuditEvent",
    "ColumnSchema",
    "DatasetVersion",
    "Comparison",
    "Experiment",
    "Field",
    "FilterExpr",
    "LogicalType",
    "LoopDecision",
    "Metric",
    "ModelVersion",
    "Not",
    "Or",
    "Prediction",
    "ProgressCallback",
    "ProgressEvent",
    "OrderBy",
    "Project",
    "Run",
    "RunInput",
    "RunPage",
    "RunStatus",
    "TableSchema",
    "ms_to_datetime",
    "now_ms",
    "parse_filter",
    "parse_order_by",
    "report_progress",
]
