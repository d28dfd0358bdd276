"""SQLAlchemy Core table definitions of the metadata schema (head revision).

The schema is created and changed only by the Alembic migrations in ``migrations/``; these
definitions mirror the head revision so queries can be built. Timestamps are epoch
milliseconds (BigInteger) so that every backend stores and compares them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_HEAD",
    "VERSION_TABLE",
    "audit_events",
    "dataset_versions",
    "datasets",
    "loop_decisions",
    "model_alias_history",
    "model_aliases",
    "model_tags",
    "model_version_tags",
    "prediction_labels",
    "prediction_requests",
    "model_versions",
    "models",
    "monitor_alerts",
    "monitor_profiles",
    "monitor_windows",
    "prediction_refusals",
    "endpoints",
    "experiments",
    "latest_metrics",
    "metadata",
    "metrics",
    "params",
    "projects",
    "run_artifacts",
    "run_inputs",
    "runs",
    "tags",
]

#: The Alembic revision this code expects; a test checks it equals the scripts' head.
SCHEMA_HEAD = "0005"

#: Alembic's version table. Not Alembic's default ``alembic_version``, which other tools
#: sharing the database (Optuna's RDB storage) keep their own revision in.
VERSION_TABLE = "closedloop_alembic_version"

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_experiments_project_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("user", String(255), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_start", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Float, nullable=True),  # NULL stores NaN
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Float, nullable=True),  # NULL stores NaN
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(71), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_run_artifacts_digest", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("ref", String(512), primary_key=True),
    Column("name", String(255), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(512), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_audit_time", "time"),
    Index("ix_audit_actor_time", "actor", "time"),
)

# --- revision 0002: datasets, model registry, prediction log, loop decisions ------------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(71), nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("schema", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("source_digest", String(71), nullable=True),
    Column("parents", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    UniqueConstraint("dataset_id", "digest", name="uq_dataset_versions_digest"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("description", Text, nullable=True),  # revision 0004
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("dataset_version_id", String(300), nullable=True),
    Column("artifact_digest", String(71), nullable=False),
    Column("signature", Text, nullable=False),
    Column("target", String(255), nullable=False),
    Column("classes", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("description", Text, nullable=True),  # revision 0004
    Column("onnx_digest", String(71), nullable=True),  # revision 0004
    UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

loop_decisions = Table(
    "loop_decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("model", String(255), nullable=False),
    Column("champion_version_id", String(300), nullable=False),
    Column("challenger_version_id", String(300), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_loop_decisions_model_time", "model", "time"),
)

# --- revision 0004: serving in depth --------------------------------------------------------

prediction_requests = Table(
    "prediction_requests",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("model_version_id", String(300), nullable=False),
    Column("endpoint", String(255), nullable=True),
    Column("role", String(16), nullable=False),  # primary | shadow
    Column("n_rows", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("format", String(32), nullable=False),  # columns/1 (sealed) | json-rows/1 (moved)
    Column("key_id", String(64), nullable=True),  # the data key that sealed the payload
    Column("payload", LargeBinary, nullable=False),
    UniqueConstraint(
        "request_id", "model_version_id", name="uq_prediction_requests_request_version"
    ),
    Index("ix_prediction_requests_version_time", "model_version_id", "time"),
    Index("ix_prediction_requests_endpoint_time", "endpoint", "time"),
    Index("ix_prediction_requests_time", "time"),
)

prediction_labels = Table(
    "prediction_labels",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("label", Text, nullable=False),  # JSON
    Column("time", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Index("ix_prediction_labels_time", "time"),
)

model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("model", String(255), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("from_version", Integer, nullable=True),  # NULL: the alias was new
    Column("to_version", Integer, nullable=True),  # NULL: the alias was deleted
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_model_alias_history_model_time", "model", "alias", "time"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("spec", Text, nullable=False),  # JSON: {"routes": [...], "shadows": [...]}
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(255), nullable=False),
)


# --- revision 0005: monitoring in depth -----------------------------------------------------

monitor_profiles = Table(
    "monitor_profiles",
    metadata,
    Column("model_version_id", String(300), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("source", String(400), nullable=False),
    Column("digest", String(128), nullable=False),  # the encrypted profile blob
    Column("n_rows", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("model_version_id", String(300), nullable=False),
    Column("monitor", String(255), nullable=False),  # the window spec, e.g. count:1000
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("first_position", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_requests", Integer, nullable=False),
    Column("drifted", Integer, nullable=False),  # 0 | 1
    Column("complete", Integer, nullable=False),  # 0 | 1: the last window may still fill
    Column("updated_at", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=True),
    Column("payload", LargeBinary, nullable=False),  # sealed sketches and results
    UniqueConstraint(
        "model_version_id", "monitor", "first_position", name="uq_monitor_windows_position"
    ),
    Index("ix_monitor_windows_version_start", "model_version_id", "monitor", "start"),
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("model_version_id", String(300), nullable=False),
    Column("rule", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("dedup_key", String(600), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("window_id", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("deliveries", Text, nullable=False),  # JSON: sink -> state
    Column("key_id", String(64), nullable=True),
    Column("payload", LargeBinary, nullable=False),  # sealed evidence
    Index("ix_monitor_alerts_version_time", "model_version_id", "time"),
    Index("ix_monitor_alerts_dedup", "dedup_key", "status"),
)

prediction_refusals = Table(
    "prediction_refusals",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("endpoint", String(255), nullable=False),
    Column("model_version_id", String(300), nullable=True),
    Column("protocol", String(16), nullable=False),
    Column("status", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Index("ix_prediction_refusals_endpoint_time", "endpoint", "time"),
    Index("ix_prediction_refusals_version_time", "model_version_id", "time"),
)
