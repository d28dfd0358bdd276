"""Reference profiles: a model version's reference data, summarised once and stored.

Monitoring never reads the training rows again: the first time a version is monitored (or
when ``closedloop monitor profile`` asks), its reference data (by default its own training
dataset version) is summarised per column and stored as an encrypted blob in the artifact
store, recorded in ``monitor_profiles``. A numeric column keeps its finite values sorted —
all of them up to :data:`SKETCH_POINTS`, otherwise that many evenly spaced order statistics,
so tests against the profile equal tests against the data when the reference is at most that
large and stay within ``1 / SKETCH_POINTS`` of the exact ECDF beyond — with its count,
missing and non-finite counts, mean, standard deviation, and its percentile bins
(:data:`FINE_BINS`) with the reference's counts on them (the bins window sketches count on).
A categorical column keeps its counts per category. The model's own predictions on the
reference (the score and the label) are profiled the same way, for prediction drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from closedloop.core import LogicalType, ModelVersion, ProfileRecord, TableSchema, now_ms
from closedloop.errors import InvalidArgumentError, StorageError
from closedloop.monitoring._sketch import category_counts_of, numeric_values
from closedloop.monitoring._stats import bin_counts_sorted, sorted_quantiles

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FINE_BINS",
    "SKETCH_POINTS",
    "CategoricalReference",
    "NumericReference",
    "ReferenceProfile",
    "fit_profile",
]

#: Sorted values a numeric reference column keeps (all of them when it has fewer).
SKETCH_POINTS = 20_000
#: Percentile bins of a numeric column that window sketches count on.
FINE_BINS = 100
_FORMAT = "closedloop-profile/1"
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()


def _f8(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def _from_f8(b: bytes) -> np.ndarray:
    # a read-only view of the decoded bytes, not a copy: a profile's arrays are never
    # written to (the sketch alone is a few MiB on a wide table)
    return np.frombuffer(b, dtype="<f8")


@dataclass(frozen=True, slots=True)
class NumericReference:
    """A numeric reference column (see the module docstring)."""

    values: np.ndarray
    n: int
    missing: int
    nonfinite: int
    mean: float
    std: float
    edges: np.ndarray
    counts: np.ndarray

    @property
    def exact(self) -> bool:
        """Whether ``values`` holds every finite reference value."""
        return len(self.values) == self.n

    @classmethod
    def of(cls, raw: np.ndarray) -> NumericReference:
        """Summarise raw values (NaN/None missing, ±inf counted as non-finite)."""
        x = numeric_values(np.asarray(raw))
        nan = np.isnan(x)
        finite = np.isfinite(x)
        kept = np.sort(x[finite])
        n = int(kept.size)
        if n > SKETCH_POINTS:
            idx = ((np.arange(SKETCH_POINTS) + 0.5) * (n / SKETCH_POINTS)).astype(np.int64)
            values = kept[np.minimum(idx, n - 1)]
        else:
            values = kept
        if n:
            edges = np.unique(sorted_quantiles(kept, np.linspace(0, 1, FINE_BINS + 1))[1:-1])
            if edges.size == 0:  # a constant column: below, at and above the constant
                edges = np.array([kept[0], np.nextafter(kept[0], math.inf)])
            counts = bin_counts_sorted(kept, edges).astype(np.float64)
        else:
            edges = np.empty(0)
            counts = np.zeros(1)
        return cls(
            values=values,
            n=n,
            missing=int(nan.sum()),
            nonfinite=int((~finite & ~nan).sum()),
            mean=float(kept.mean()) if n else math.nan,
            std=float(kept.std()) if n else math.nan,
            edges=edges,
            counts=counts,
        )

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {
            "values": _f8(self.values),
            "n": self.n,
            "missing": self.missing,
            "nonfinite": self.nonfinite,
            "mean": self.mean,
            "std": self.std,
            "edges": _f8(self.edges),
            "counts": _f8(self.counts),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> NumericReference:
        """Read :meth:`to_doc`'s document."""
        return cls(
            _from_f8(doc["values"]),
            int(doc["n"]),
            int(doc["missing"]),
            int(doc["nonfinite"]),
            float(doc["mean"]),
            float(doc["std"]),
            _from_f8(doc["edges"]),
            _from_f8(doc["counts"]),
        )


@dataclass(frozen=True, slots=True)
class CategoricalReference:
    """A categorical reference column: counts per category (as text) and missing values."""

    counts: dict[str, int]
    missing: int

    @property
    def n(self) -> int:
        """Non-missing reference values."""
        return sum(self.counts.values())

    @classmethod
    def of(cls, raw: np.ndarray) -> CategoricalReference:
        """Summarise raw values."""
        counts, missing = category_counts_of(np.asarray(raw))
        return cls(counts, missing)

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {"counts": self.counts, "missing": self.missing}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CategoricalReference:
        """Read :meth:`to_doc`'s document."""
        return cls({str(k): int(v) for k, v in doc["counts"].items()}, int(doc["missing"]))


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """A model version's reference, summarised (see the module docstring).

    Attributes:
        model_version_id: The version it belongs to.
        source: What it was built from (``dataset:<id>``, ``frame`` or ``window:<id>``).
        n_rows: Reference rows.
        created_at: Epoch ms.
        columns: Per monitored input column, its summary.
        score: The model's score on the reference (the positive class's probability for a
            binary classifier, the top probability otherwise), when it gives probabilities.
        label: The model's predicted labels on the reference.
        classes: The probability columns' classes.
        target: The target column, when the reference holds it.
        performance: Metrics of the model on the reference, when it holds the target.
        calibrator: The serialised calibration of the model's probabilities on the
            reference (for estimated performance), when it holds the target.
    """

    model_version_id: str
    source: str
    n_rows: int
    created_at: int
    columns: dict[str, ColumnReference]
    score: NumericReference | None = None
    label: CategoricalReference | None = None
    classes: tuple[str, ...] = ()
    target: str | None = None
    performance: dict[str, float] = field(default_factory=dict)
    calibrator: dict[str, Any] | None = None

    def kind(self, column: str) -> str:
        """``numeric`` or ``categorical``."""
        return "numeric" if isinstance(self.columns[column], NumericReference) else "categorical"

    def record(self, name: str, digest: str) -> ProfileRecord:
        """The store's record of this profile saved under ``name`` as blob ``digest``."""
        return ProfileRecord(
            self.model_version_id, name, self.source, digest, self.n_rows, self.created_at
        )

    def to_bytes(self) -> bytes:
        """The stored form (MessagePack)."""
        doc = {
            "format": _FORMAT,
            "model_version_id": self.model_version_id,
            "source": self.source,
            "n_rows": self.n_rows,
            "created_at": self.created_at,
            "columns": {
                name: {"numeric" if isinstance(c, NumericReference) else "categorical": c.to_doc()}
                for name, c in self.columns.items()
            },
            "score": None if self.score is None else self.score.to_doc(),
            "label": None if self.label is None else self.label.to_doc(),
            "classes": list(self.classes),
            "target": self.target,
            "performance": self.performance,
            "calibrator": self.calibrator,
        }
        return _ENCODER.encode(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        """Read :meth:`to_bytes`'s form.

        Raises:
            StorageError: Not a profile this closedloop reads.
        """
        try:
            doc = _DECODER.decode(data)
            if doc.get("format") != _FORMAT:
                raise StorageError(f"a reference profile is in format {doc.get('format')!r}")
            columns: dict[str, ColumnReference] = {}
            for name, entry in doc["columns"].items():
                ((kind, body),) = entry.items()
                columns[str(name)] = (
                    NumericReference.from_doc(body)
                    if kind == "numeric"
                    else CategoricalReference.from_doc(body)
                )
            return cls(
                model_version_id=doc["model_version_id"],
                source=doc["source"],
                n_rows=int(doc["n_rows"]),
                created_at=int(doc["created_at"]),
                columns=columns,
                score=None if doc["score"] is None else NumericReference.from_doc(doc["score"]),
                label=None if doc["label"] is None else CategoricalReference.from_doc(doc["label"]),
                classes=tuple(doc["classes"]),
                target=doc["target"],
                performance={str(k): float(v) for k, v in doc["performance"].items()},
                calibrator=doc["calibrator"],
            )
        except StorageError:
            raise
        except (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise StorageError(
                f"a stored reference profile is damaged ({type(e).__name__}: {e})",
                hint="rebuild it: closedloop monitor profile MODEL_REF --rebuild",
            ) from e


def monitored_columns(signature: TableSchema) -> list[tuple[str, str]]:
    """``(name, kind)`` of the signature's columns that drift is checked on.

    Datetime columns are left out: time always moves, so they would always drift.
    """
    return [
        (c.name, "numeric" if c.type.is_numeric else "categorical")
        for c in signature
        if c.type is not LogicalType.DATETIME
    ]


def score_of(probabilities: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """The monitored score: P(positive class) for two classes, the top probability else."""
    if probabilities.ndim != 2 or probabilities.shape[1] == 0:
        return np.empty(0)
    if len(classes) == 2:
        return np.asarray(probabilities[:, 1], dtype=np.float64)
    return np.asarray(probabilities.max(axis=1), dtype=np.float64)


def fit_profile(
    version: ModelVersion,
    frame: pd.DataFrame,
    *,
    source: str,
    probabilities: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    classes: tuple[str, ...] = (),
    performance: Mapping[str, float] | None = None,
    calibrator: dict[str, Any] | None = None,
) -> ReferenceProfile:
    """Summarise ``frame`` (the reference rows) for ``version``.

    Args:
        version: The model version; its signature names the monitored columns and kinds.
        frame: The reference rows (column labels are matched as text).
        source: What the rows are (recorded with the profile).
        probabilities: The model's probabilities on the rows (``n x len(classes)``).
        labels: The model's predicted labels on the rows.
        classes: The probability columns' classes.
        performance: The model's metrics on the rows (when they hold the target).
        calibrator: The serialised calibration fitted on the rows.

    Raises:
        InvalidArgumentError: The frame is empty or lacks monitored columns.
    """
    if len(frame) == 0:
        raise InvalidArgumentError(
            f"the reference data for {version.id} has no rows",
            hint="name a reference dataset version with rows",
        )
    by_text = {str(c): c for c in frame.columns}
    wanted = monitored_columns(version.signature)
    missing = [name for name, _ in wanted if name not in by_text]
    if missing:
        raise InvalidArgumentError(
            f"the reference data for {version.id} lacks column(s) {missing}",
            hint=f"it has: {sorted(by_text)}; name a reference with the model's input columns",
        )
    columns: dict[str, ColumnReference] = {}
    for name, kind in wanted:
        raw = frame[by_text[name]].to_numpy()
        columns[name] = (
            NumericReference.of(raw) if kind == "numeric" else CategoricalReference.of(raw)
        )
    score = None
    if probabilities is not None and len(classes):
        score = NumericReference.of(score_of(probabilities, classes))
    label = None if labels is None else CategoricalReference.of(np.asarray(labels, dtype=object))
    return ReferenceProfile(
        model_version_id=version.id,
        source=source,
        n_rows=len(frame),
        created_at=now_ms(),
        columns=columns,
        score=score,
        label=label,
        classes=tuple(classes),
        target=version.target if version.target in by_text else None,
        performance=dict(performance or {}),
        calibrator=calibrator,
    )
