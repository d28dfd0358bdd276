"""Datasets, model registry, prediction log and loop decisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("n_columns", sa.Integer, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_digest", sa.String(71), nullable=True),
        sa.Column("parents", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
        sa.UniqueConstraint("dataset_id", "digest", name="uq_dataset_versions_digest"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("dataset_version_id", sa.String(300), nullable=True),
        sa.Column("artifact_digest", sa.String(71), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("classes", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
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
    op.create_table(
        "loop_decisions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("champion_version_id", sa.String(300), nullable=False),
        sa.Column("challenger_version_id", sa.String(300), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_loop_decisions_model_time", "loop_decisions", ["model", "time"])


def downgrade() -> None:
    for table in (
        "loop_decisions",
        "predictions",
        "model_aliases",
        "model_versions",
        "models",
        "dataset_versions",
        "datasets",
    ):
        op.drop_table(table)
