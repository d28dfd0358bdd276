"""Mergeable sketches of a column: what a window keeps so that windows can be combined.

A numeric column is summarised as counts on its reference profile's bins (the reference's
percentiles, open-ended at both sides), with its count, missing and non-finite counts, sum,
sum of squares, minimum and maximum; a categorical column as counts per category. Sketches of
consecutive windows add up (:meth:`WindowSketch.merge`), so a month of windows is scored
from the merged sketch without reading a logged row again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from closedloop.monitoring._profile import category_counts

__all__ = [
    "MAX_CATEGORIES",
    "OTHER",
    "CategoricalSketch",
    "NumericSketch",
    "WindowSketch",
    "category_counts_of",
    "numeric_values",
]

#: Distinct categories a sketch keeps; rarer ones beyond it are counted under :data:`OTHER`.
MAX_CATEGORIES = 2_000
OTHER = "\x00other"


def numeric_values(values: np.ndarray) -> np.ndarray:
    """``values`` as float64, anything unreadable as a number becoming NaN."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.tolist()):
        if isinstance(v, bool):
            out[i] = float(v)
        elif isinstance(v, int | float):
            out[i] = v
        elif isinstance(v, str):
            with contextlib.suppress(ValueError):
                out[i] = float(v)
    return out


def category_counts_of(values: np.ndarray) -> tuple[dict[str, int], int]:
    """Counts per category (compared as text) and the number of missing values."""
    import pandas as pd

    series = pd.Series(values, dtype=object if values.dtype.kind not in "fiub" else None)
    counts = category_counts(series)
    missing = len(series) - sum(counts.values())
    return counts, missing


@dataclass(slots=True)
class NumericSketch:
    """A numeric column of a window (see the module docstring)."""

    counts: np.ndarray  # int64, len(edges) + 1
    n: int = 0
    missing: int = 0
    nonfinite: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    @classmethod
    def of(cls, values: np.ndarray, edges: np.ndarray) -> NumericSketch:
        """The sketch of raw ``values`` on a profile's inner ``edges``."""
        x = numeric_values(values)
        nan = np.isnan(x)
        finite = np.isfinite(x)
        kept = x[finite]
        counts = np.bincount(
            np.searchsorted(edges, kept, side="right"), minlength=len(edges) + 1
        ).astype(np.int64)
        return cls(
            counts=counts,
            n=int(kept.size),
            missing=int(nan.sum()),
            nonfinite=int((~finite & ~nan).sum()),
            total=float(kept.sum()),
            total_sq=float(np.einsum("i,i->", kept, kept)),  # no BLAS threads
            minimum=float(kept.min()) if kept.size else math.inf,
            maximum=float(kept.max()) if kept.size else -math.inf,
        )

    def merge(self, other: NumericSketch) -> NumericSketch:
        """The sketch of both windows' rows."""
        return NumericSketch(
            self.counts + other.counts,
            self.n + other.n,
            self.missing + other.missing,
            self.nonfinite + other.nonfinite,
            self.total + other.total,
            self.total_sq + other.total_sq,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
        )

    @property
    def mean(self) -> float:
        """Mean of the finite values (NaN when none)."""
        return self.total / self.n if self.n else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values (NaN when none)."""
        if not self.n:
            return math.nan
        var = max(self.total_sq / self.n - self.mean**2, 0.0)
        return math.sqrt(var)

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {
            "counts": self.counts.astype("<i8").tobytes(),
            "n": self.n,
            "missing": self.missing,
            "nonfinite": self.nonfinite,
            "total": self.total,
            "total_sq": self.total_sq,
            "min": self.minimum,
            "max": self.maximum,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> NumericSketch:
        """Read :meth:`to_doc`'s document."""
        return cls(
            np.frombuffer(doc["counts"], dtype="<i8").astype(np.int64),
            int(doc["n"]),
            int(doc["missing"]),
            int(doc["nonfinite"]),
            float(doc["total"]),
            float(doc["total_sq"]),
            float(doc["min"]),
            float(doc["max"]),
        )


@dataclass(slots=True)
class CategoricalSketch:
    """A categorical column of a window: counts per category, and missing values."""

    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0

    @classmethod
    def of(cls, values: np.ndarray) -> CategoricalSketch:
        """The sketch of raw ``values``."""
        counts, missing = category_counts_of(values)
        return cls(_capped(counts), missing)

    @property
    def n(self) -> int:
        """Non-missing values counted."""
        return sum(self.counts.values())

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        """The sketch of both windows' rows."""
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        return CategoricalSketch(_capped(counts), self.missing + other.missing)

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {"counts": self.counts, "missing": self.missing}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CategoricalSketch:
        """Read :meth:`to_doc`'s document."""
        return cls({str(k): int(v) for k, v in doc["counts"].items()}, int(doc["missing"]))


def _capped(counts: dict[str, int]) -> dict[str, int]:
    if len(counts) <= MAX_CATEGORIES:
        return counts
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ordered[: MAX_CATEGORIES - 1])
    kept[OTHER] = kept.get(OTHER, 0) + sum(v for _, v in ordered[MAX_CATEGORIES - 1 :])
    return kept


Sketch = NumericSketch | CategoricalSketch


def _merged(mine: Sketch, theirs: Sketch) -> Sketch:
    if isinstance(mine, NumericSketch) and isinstance(theirs, NumericSketch):
        return mine.merge(theirs)
    if isinstance(mine, CategoricalSketch) and isinstance(theirs, CategoricalSketch):
        return mine.merge(theirs)
    return mine  # a column's kind does not change under one profile


@dataclass(slots=True)
class WindowSketch:
    """Every monitored column of a window, and its predictions' score and label."""

    columns: dict[str, Sketch]
    score: NumericSketch | None
    label: CategoricalSketch | None
    n_rows: int

    def merge(self, other: WindowSketch) -> WindowSketch:
        """The sketch of both windows' rows (same profile)."""
        columns: dict[str, Sketch] = {}
        for name, mine in self.columns.items():
            theirs = other.columns.get(name)
            columns[name] = mine if theirs is None else _merged(mine, theirs)
        for name, theirs in other.columns.items():
            columns.setdefault(name, theirs)
        score = (
            other.score
            if self.score is None
            else self.score
            if other.score is None
            else self.score.merge(other.score)
        )
        label = (
            other.label
            if self.label is None
            else self.label
            if other.label is None
            else self.label.merge(other.label)
        )
        return WindowSketch(columns, score, label, self.n_rows + other.n_rows)

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {
            "columns": {
                name: {"numeric" if isinstance(s, NumericSketch) else "categorical": s.to_doc()}
                for name, s in self.columns.items()
            },
            "score": None if self.score is None else self.score.to_doc(),
            "label": None if self.label is None else self.label.to_doc(),
            "n_rows": self.n_rows,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> WindowSketch:
        """Read :meth:`to_doc`'s document."""
        columns: dict[str, Sketch] = {}
        for name, entry in doc["columns"].items():
            ((kind, body),) = entry.items()
            columns[str(name)] = (
                NumericSketch.from_doc(body)
                if kind == "numeric"
                else CategoricalSketch.from_doc(body)
            )
        return cls(
            columns,
            None if doc["score"] is None else NumericSketch.from_doc(doc["score"]),
            None if doc["label"] is None else CategoricalSketch.from_doc(doc["label"]),
            int(doc["n_rows"]),
        )
