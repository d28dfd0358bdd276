"""Entities of the lifecycle after tracking, as frozen snapshots with no I/O.

Dataset versions, model versions, logged predictions and loop decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from closedloop.core._schema import TableSchema

__all__ = ["DatasetVersion", "LoopDecision", "ModelVersion", "Prediction"]


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """An immutable, content-addressed version of a dataset.

    Attributes:
        id: ``<dataset>@<first 12 hex of the digest>``, stable for the same content.
        dataset: Dataset name.
        version: 1, 2, … in order of first ingestion.
        digest: sha256 of the canonical Parquet bytes (the artifact blob).
        n_rows: Row count.
        n_columns: Column count.
        schema: The inferred schema.
        source: Where it came from (path or URI) and how it was read.
        source_digest: sha256 of the source bytes, when the source is a file.
        parents: Ids of the dataset versions it was derived from (lineage).
        created_at: Epoch milliseconds.
    """

    id: str
    dataset: str
    version: int
    digest: str
    n_rows: int
    n_columns: int
    schema: TableSchema
    source: str
    source_digest: str | None
    parents: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered model version.

    Attributes:
        id: ``<model>/<version>``.
        model: Model name.
        version: 1, 2, … per model.
        run_id: The run that trained it.
        dataset_version_id: The dataset version it was trained on.
        artifact_digest: sha256 of the serialised model blob.
        signature: The input schema requests must fit.
        target: Name of the predicted column.
        classes: Class labels for classifiers (index = output position).
        metrics: Evaluation metrics recorded at registration.
        aliases: Aliases pointing at it (``champion``, …).
        created_at: Epoch milliseconds.
    """

    id: str
    model: str
    version: int
    run_id: str | None
    dataset_version_id: str | None
    artifact_digest: str
    signature: TableSchema
    target: str
    classes: tuple[str, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class Prediction:
    """One logged prediction (one input row)."""

    request_id: str
    row: int
    time: int
    model_version_id: str
    inputs: Mapping[str, Any]
    output: Any
    latency_ms: float


@dataclass(frozen=True, slots=True)
class LoopDecision:
    """The outcome of comparing a challenger with the champion."""

    id: int
    time: int
    model: str
    champion_version_id: str
    challenger_version_id: str
    decision: str
    reasons: tuple[str, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)
