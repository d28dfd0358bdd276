"""Initial schema: projects, experiments, runs and their data, artifacts, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _run_fk() -> sa.Column[str]:
    return sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_experiments_project_name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_start", "runs", ["start_time"])
    op.create_table(
        "params",
        _run_fk(),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_params_key_value", "params", ["key", "value"])
    op.create_table(
        "tags",
        _run_fk(),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "metrics",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Float, nullable=True),  # NULL stores NaN
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        _run_fk(),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),  # NULL stores NaN
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "run_artifacts",
        _run_fk(),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_run_artifacts_digest", "run_artifacts", ["digest"])
    op.create_table(
        "run_inputs",
        _run_fk(),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("ref", sa.String(512), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_time", "audit_events", ["time"])
    op.create_index("ix_audit_actor_time", "audit_events", ["actor", "time"])
    # Seed data lives in migrations: every workspace starts with a default project/experiment.
    projects = sa.table("projects", sa.column("name"), sa.column("created_at"))
    experiments = sa.table(
        "experiments", sa.column("project_id"), sa.column("name"), sa.column("created_at")
    )
    op.execute(projects.insert().values(name="default", created_at=0))
    op.execute(
        experiments.insert().from_select(
            ["project_id", "name", "created_at"],
            sa.select(sa.column("id"), sa.literal("default"), sa.literal(0))
            .select_from(sa.table("projects"))
            .where(sa.column("name") == "default"),
        )
    )


def downgrade() -> None:
    for table in (
        "audit_events",
        "run_inputs",
        "run_artifacts",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiments",
        "projects",
    ):
        op.drop_table(table)
