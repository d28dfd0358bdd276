"""Versions registered straight through the store, for tests of the registry's verbs."""

from __future__ import annotations

from closedloop.core import ColumnSchema, LogicalType, ModelVersion, TableSchema
from closedloop.workspace import Workspace

SIGNATURE = TableSchema(
    (ColumnSchema("age", LogicalType.INTEGER), ColumnSchema("job", LogicalType.CATEGORY))
)
OTHER_SIGNATURE = TableSchema((ColumnSchema("age", LogicalType.INTEGER),))


def add_version(
    ws: Workspace, model: str = "adult", signature: TableSchema = SIGNATURE
) -> ModelVersion:
    """The next version of ``model`` (its blob is never read by these tests)."""
    return ws.metadata.models.create_version(
        model,
        artifact_digest="sha256:" + "d" * 64,
        signature=signature,
        target="y",
        classes=["0", "1"],
        metrics={"auc": 0.8},
    )
