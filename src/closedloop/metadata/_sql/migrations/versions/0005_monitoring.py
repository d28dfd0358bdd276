"""Monitoring in depth: reference profiles, windows, alerts, and refused requests.

- ``monitor_profiles``: a model version's stored reference profile (an encrypted blob in the
  artifact store, ``digest``), per name (``default`` is built from its training data).
- ``monitor_windows``: one row per summarised window of a version's logged traffic, per
  window spec (``monitor``); its log-position range, times and row counts in the clear, its
  sketches and results sealed in ``payload``.
- ``monitor_alerts``: alerts with their rule, value, de-duplication key, status, sink
  deliveries, and sealed evidence.
- ``prediction_refusals``: scoring requests the server refused, for the schema-violation
  rate of a window.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_profiles",
        sa.Column("model_version_id", sa.String(300), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("model_version_id", sa.String(300), nullable=False),
        sa.Column("monitor", sa.String(255), nullable=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("end", sa.BigInteger, nullable=False),
        sa.Column("first_position", sa.BigInteger, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("n_requests", sa.Integer, nullable=False),
        sa.Column("drifted", sa.Integer, nullable=False),
        sa.Column("complete", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint(
            "model_version_id", "monitor", "first_position", name="uq_monitor_windows_position"
        ),
    )
    op.create_index(
        "ix_monitor_windows_version_start",
        "monitor_windows",
        ["model_version_id", "monitor", "start"],
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("model_version_id", sa.String(300), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("dedup_key", sa.String(600), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("window_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_monitor_alerts_version_time", "monitor_alerts", ["model_version_id", "time"]
    )
    op.create_index("ix_monitor_alerts_dedup", "monitor_alerts", ["dedup_key", "status"])
    op.create_table(
        "prediction_refusals",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("model_version_id", sa.String(300), nullable=True),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_prediction_refusals_endpoint_time", "prediction_refusals", ["endpoint", "time"]
    )
    op.create_index(
        "ix_prediction_refusals_version_time",
        "prediction_refusals",
        ["model_version_id", "time"],
    )


def downgrade() -> None:
    op.drop_index("ix_prediction_refusals_version_time", table_name="prediction_refusals")
    op.drop_index("ix_prediction_refusals_endpoint_time", table_name="prediction_refusals")
    op.drop_table("prediction_refusals")
    op.drop_index("ix_monitor_alerts_dedup", table_name="monitor_alerts")
    op.drop_index("ix_monitor_alerts_version_time", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_windows_version_start", table_name="monitor_windows")
    op.drop_table("monitor_windows")
    op.drop_table("monitor_profiles")
