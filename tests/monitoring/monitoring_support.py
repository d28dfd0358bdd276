"""Data and records shared by the monitoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from closedloop import data
from closedloop.core import (
    ColumnSchema,
    DatasetVersion,
    LogicalType,
    ModelVersion,
    TableSchema,
)
from closedloop.testing import log_frame
from closedloop.workspace import Workspace

SIGNATURE = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER),
        ColumnSchema("income", LogicalType.FLOAT),
        ColumnSchema("color", LogicalType.CATEGORY),
    )
)
T_OLD, T_NEW = 1_700_000_000_000, 1_700_000_600_000  # two batches ten minutes apart


def register(ws: Workspace) -> ModelVersion:
    return ws.metadata.models.create_version(
        "m",
        artifact_digest="sha256:" + "0" * 64,
        signature=SIGNATURE,
        target="y",
        classes=("0", "1"),
        metrics={},
    )


def log_predictions(ws: Workspace, version: ModelVersion, frame: pd.DataFrame, t0: int) -> None:
    """Log ``frame`` as served requests of ten rows (answered 1), with an extra column."""
    log_frame(ws, version.id, frame.assign(extra="ignored"), 1, t0=t0)


def people(
    n: int,
    seed: int,
    *,
    age_shift: float = 0.0,
    colors: tuple[float, float, float] = (0.5, 0.3, 0.2),
) -> pd.DataFrame:
    """``n`` rows of age (integer), income (float) and color (category), from ``seed``."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": (rng.normal(40, 12, n) + age_shift).round().astype("int64"),
            "income": rng.lognormal(10, 0.5, n),
            "color": rng.choice(["red", "green", "blue"], n, p=list(colors)),
        }
    )


def register_with_lineage(ws: Workspace, training: pd.DataFrame) -> DatasetVersion:
    """Version m/1 trained on ``training`` (stored as ``train/1``), with two logged batches."""
    dataset = data.ingest_frame(ws, training, "train", source="test").version
    version = ws.metadata.models.create_version(
        "m",
        artifact_digest="sha256:" + "0" * 64,
        signature=SIGNATURE,
        target="y",
        classes=("0", "1"),
        metrics={},
        dataset_version_id=dataset.id,
    )
    log_batches(ws, version)
    return dataset


def log_batches(ws: Workspace, version: ModelVersion) -> None:
    """1000 unshifted rows at T_OLD, 1000 with age + 10 at T_NEW."""
    log_predictions(ws, version, people(1000, seed=2), T_OLD)
    log_predictions(ws, version, people(1000, seed=3, age_shift=10), T_NEW)
