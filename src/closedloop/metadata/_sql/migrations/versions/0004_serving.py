"""Serving in depth: a request-level encrypted prediction log, labels, registry history,
descriptions and tags, ONNX conversions, and endpoints.

- ``prediction_requests`` replaces ``predictions``: one row per answered request per model
  version (a shadow version logs its own row under the same request id), with the ids,
  times, version, endpoint, role, row count and latency in the clear and the rows' inputs
  and outputs in ``payload``: a columnar MessagePack document sealed with a workspace data key
  (``key_id`` names it) or, for rows this migration moves from ``predictions``, the old
  JSON rows unsealed (``key_id`` NULL, ``format`` ``json-rows/1``).
- ``prediction_labels``: ground truth attached to logged rows by request id and row.
- ``model_alias_history``: every alias move with who and why.
- ``models.description``, ``model_versions.description``, ``model_tags``,
  ``model_version_tags``; ``model_versions.onnx_digest`` (a verified ONNX conversion).
- ``endpoints``: named traffic splits over model versions (canary weights, shadows).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_MOVE_BATCH = 5_000


def upgrade() -> None:
    op.create_table(
        "prediction_requests",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("model_version_id", sa.String(300), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint(
            "request_id", "model_version_id", name="uq_prediction_requests_request_version"
        ),
    )
    op.create_index(
        "ix_prediction_requests_version_time", "prediction_requests", ["model_version_id", "time"]
    )
    op.create_index(
        "ix_prediction_requests_endpoint_time", "prediction_requests", ["endpoint", "time"]
    )
    op.create_index("ix_prediction_requests_time", "prediction_requests", ["time"])
    _move_predictions()
    op.drop_index("ix_predictions_model_time", table_name="predictions")
    op.drop_table("predictions")

    op.create_table(
        "prediction_labels",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
    )
    op.create_index("ix_prediction_labels_time", "prediction_labels", ["time"])

    op.create_table(
        "model_alias_history",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_model_alias_history_model_time", "model_alias_history", ["model", "alias", "time"]
    )
    op.add_column("models", sa.Column("description", sa.Text, nullable=True))
    op.add_column("model_versions", sa.Column("description", sa.Text, nullable=True))
    op.add_column("model_versions", sa.Column("onnx_digest", sa.String(71), nullable=True))
    op.create_table(
        "model_tags",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )


def _move_predictions() -> None:
    """Group the per-row log into per-request rows (JSON, unsealed: no key here)."""
    conn = op.get_bind()
    old = sa.table(
        "predictions",
        sa.column("id"),
        sa.column("request_id"),
        sa.column("row"),
        sa.column("time"),
        sa.column("model_version_id"),
        sa.column("inputs"),
        sa.column("output"),
        sa.column("latency_ms"),
    )
    new = sa.table(
        "prediction_requests",
        sa.column("request_id"),
        sa.column("time"),
        sa.column("model_version_id"),
        sa.column("endpoint"),
        sa.column("role"),
        sa.column("n_rows"),
        sa.column("latency_ms"),
        sa.column("format"),
        sa.column("key_id"),
        sa.column("payload"),
    )
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in conn.execute(sa.select(old).order_by(old.c.id)):
        groups[(r.request_id, r.model_version_id)].append(r)
    rows = []
    for (request_id, version_id), items in groups.items():
        items.sort(key=lambda r: r.row)
        doc = {
            "rows": [
                {"row": r.row, "inputs": json.loads(r.inputs), "output": json.loads(r.output)}
                for r in items
            ]
        }
        rows.append(
            {
                "request_id": request_id,
                "time": min(r.time for r in items),
                "model_version_id": version_id,
                "endpoint": None,
                "role": "primary",
                "n_rows": len(items),
                "latency_ms": max(r.latency_ms for r in items),
                "format": "json-rows/1",
                "key_id": None,
                "payload": json.dumps(doc, sort_keys=True).encode("utf-8"),
            }
        )
        if len(rows) >= _MOVE_BATCH:
            conn.execute(sa.insert(new), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(new), rows)


def downgrade() -> None:
    conn = op.get_bind()
    sealed = conn.execute(
        sa.text("SELECT count(*) FROM prediction_requests WHERE format != 'json-rows/1'")
    ).scalar()
    if sealed:
        raise RuntimeError(
            f"cannot downgrade below 0004: {sealed} prediction-log requests are columnar "
            "(and sealed with a workspace key), which the 0003 layout (plain JSON per row) "
            "cannot hold"
        )
    op.drop_table("endpoints")
    op.drop_table("model_version_tags")
    op.drop_table("model_tags")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("onnx_digest")
        batch.drop_column("description")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("description")
    op.drop_index("ix_model_alias_history_model_time", table_name="model_alias_history")
    op.drop_table("model_alias_history")
    op.drop_index("ix_prediction_labels_time", table_name="prediction_labels")
    op.drop_table("prediction_labels")
    op.create_table(
        "predictions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("model_version_id", sa.String(300), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.UniqueConstraint("request_id", "row", name="uq_predictions_request_row"),
    )
    op.create_index("ix_predictions_model_time", "predictions", ["model_version_id", "time"])
    old = sa.table(
        "predictions",
        sa.column("request_id"),
        sa.column("row"),
        sa.column("time"),
        sa.column("model_version_id"),
        sa.column("inputs"),
        sa.column("output"),
        sa.column("latency_ms"),
    )
    rows = []
    for r in conn.execute(
        sa.text(
            "SELECT request_id, time, model_version_id, latency_ms, payload "
            "FROM prediction_requests WHERE role = 'primary' ORDER BY id"
        )
    ):
        for item in json.loads(bytes(r.payload))["rows"]:
            rows.append(
                {
                    "request_id": r.request_id,
                    "row": item["row"],
                    "time": r.time,
                    "model_version_id": r.model_version_id,
                    "inputs": json.dumps(item["inputs"], sort_keys=True),
                    "output": json.dumps(item["output"], sort_keys=True),
                    "latency_ms": r.latency_ms,
                }
            )
    if rows:
        conn.execute(sa.insert(old), rows)
    op.drop_index("ix_prediction_requests_time", table_name="prediction_requests")
    op.drop_index("ix_prediction_requests_endpoint_time", table_name="prediction_requests")
    op.drop_index("ix_prediction_requests_version_time", table_name="prediction_requests")
    op.drop_table("prediction_requests")
