"""The domain: frozen entities and the search language. Imports only the stdlib and errors."""

from closedloop.core._audit import Audit, PendingAudit, commit_audit
from closedloop.core._datasets import DatasetVersion
from closedloop.core._decisions import LoopDecision
from closedloop.core._endpoints import Endpoint, Route
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
from closedloop.core._models import AliasChange, ModelVersion, RegisteredModel
from closedloop.core._monitoring import ALERT_STATES, Alert, MonitorWindow, ProfileRecord, Refusal
from closedloop.core._predictions import ROLES, Label, LoggedRequest, Prediction
from closedloop.core._principal import PRINCIPAL_KINDS, Principal, PrincipalKind
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
    "ALERT_STATES",
    "ATTRIBUTES",
    "Alert",
    "MonitorWindow",
    "ProfileRecord",
    "Refusal",
    "PRINCIPAL_KINDS",
    "AliasChange",
    "Audit",
    "And",
    "ArtifactRef",
    "AuditEvent",
    "ColumnSchema",
    "DatasetVersion",
    "Endpoint",
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
    "PendingAudit",
    "Label",
    "LoggedRequest",
    "Prediction",
    "ROLES",
    "Principal",
    "PrincipalKind",
    "ProgressCallback",
    "ProgressEvent",
    "OrderBy",
    "Project",
    "RegisteredModel",
    "Route",
    "Run",
    "RunInput",
    "RunPage",
    "RunStatus",
    "TableSchema",
    "commit_audit",
    "ms_to_datetime",
    "now_ms",
    "parse_filter",
    "parse_order_by",
    "report_progress",
]
