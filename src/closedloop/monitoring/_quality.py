"""Data quality of a window of live traffic: missing, out-of-range, unseen, refused.

Rates are over the window's rows (a row counts once however many of its cells are bad),
except the missing rate (over cells of the monitored columns) and the refused rate (over
requests: refused / (answered + refused); refused requests never reach the log, the server
counts them in ``prediction_refusals``). Ranges come from the signature when it has them,
else from the reference profile; known categories from the signature, else the profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from closedloop.core import TableSchema
from closedloop.monitoring._reference import NumericReference, ReferenceProfile
from closedloop.monitoring._sketch import numeric_values

__all__ = ["Quality", "window_quality"]

_TOP_UNSEEN = 10


@dataclass(frozen=True, slots=True)
class Quality:
    """A window's data quality (see the module docstring).

    Attributes:
        rows: Rows checked.
        missing_rate: Missing cells / cells of the monitored columns.
        out_of_range_rate: Rows with a number outside its range / rows.
        unseen_rate: Rows with a category not seen before / rows.
        nonfinite_rate: Rows with ±inf in a numeric column / rows.
        refused: Requests refused by validation in the window's time span.
        refused_rate: ``refused / (answered requests + refused)``.
        columns: Per column: ``missing``, ``out_of_range`` or ``unseen`` counts, and the most
            frequent unseen values.
    """

    rows: int
    missing_rate: float
    out_of_range_rate: float
    unseen_rate: float
    nonfinite_rate: float
    refused: int
    refused_rate: float
    columns: dict[str, dict[str, Any]]

    def values(self) -> dict[str, float]:
        """The flat monitored values (``quality.*``) alert rules read."""
        out = {
            "quality.missing_rate": self.missing_rate,
            "quality.out_of_range_rate": self.out_of_range_rate,
            "quality.unseen_rate": self.unseen_rate,
            "quality.nonfinite_rate": self.nonfinite_rate,
            "quality.refused_rate": self.refused_rate,
        }
        for name, col in self.columns.items():
            out[f"quality.column.{name}.missing_rate"] = col["missing"] / max(self.rows, 1)
        return out

    def to_doc(self) -> dict[str, Any]:
        """A MessagePack-able document."""
        return {
            "rows": self.rows,
            "missing_rate": self.missing_rate,
            "out_of_range_rate": self.out_of_range_rate,
            "unseen_rate": self.unseen_rate,
            "nonfinite_rate": self.nonfinite_rate,
            "refused": self.refused,
            "refused_rate": self.refused_rate,
            "columns": self.columns,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Quality:
        """Read :meth:`to_doc`'s document."""
        return cls(
            rows=int(doc["rows"]),
            missing_rate=float(doc["missing_rate"]),
            out_of_range_rate=float(doc["out_of_range_rate"]),
            unseen_rate=float(doc["unseen_rate"]),
            nonfinite_rate=float(doc["nonfinite_rate"]),
            refused=int(doc["refused"]),
            refused_rate=float(doc["refused_rate"]),
            columns=dict(doc["columns"]),
        )


def _is_missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    out = np.fromiter(
        (v is None or (isinstance(v, float) and v != v) for v in values.tolist()),
        dtype=bool,
        count=len(values),
    )
    return out


def window_quality(
    profile: ReferenceProfile,
    signature: TableSchema,
    columns: Mapping[str, np.ndarray],
    n_rows: int,
    *,
    n_requests: int,
    refused: int,
) -> Quality:
    """The quality of a window's rows (``columns``: monitored column → raw values)."""
    from closedloop.monitoring._sketch import category_counts_of

    cells = missing_cells = 0
    bad_range = np.zeros(n_rows, dtype=bool)
    bad_category = np.zeros(n_rows, dtype=bool)
    nonfinite = np.zeros(n_rows, dtype=bool)
    per_column: dict[str, dict[str, Any]] = {}
    for name, ref in profile.columns.items():
        raw = columns.get(name)
        if raw is None:
            per_column[name] = {"missing": n_rows}
            cells += n_rows
            missing_cells += n_rows
            continue
        missing = _is_missing(raw)
        cells += n_rows
        missing_cells += int(missing.sum())
        entry: dict[str, Any] = {"missing": int(missing.sum())}
        spec = signature.column(name) if name in signature else None
        if isinstance(ref, NumericReference):
            x = numeric_values(raw)
            inf = np.isinf(x)
            nonfinite |= inf
            lo = spec.minimum if spec is not None and spec.minimum is not None else None
            hi = spec.maximum if spec is not None and spec.maximum is not None else None
            if lo is None and ref.values.size:
                lo = float(ref.values[0])
            if hi is None and ref.values.size:
                hi = float(ref.values[-1])
            outside = np.zeros(n_rows, dtype=bool)
            with np.errstate(invalid="ignore"):
                if lo is not None:
                    outside |= x < lo
                if hi is not None:
                    outside |= x > hi
            outside &= ~inf
            bad_range |= outside
            entry["out_of_range"] = int(outside.sum())
        else:
            known = (
                set(spec.categories)
                if spec is not None and spec.categories is not None
                else set(ref.counts)
            )
            counts, _ = category_counts_of(raw)
            unseen = {k: v for k, v in counts.items() if k not in known}
            if unseen:
                from closedloop.monitoring._profile import category_text

                texts = np.array(
                    [
                        None if m else category_text(v)
                        for v, m in zip(raw.tolist(), missing, strict=True)
                    ],
                    dtype=object,
                )
                bad_category |= np.isin(texts, list(unseen))
            entry["unseen"] = int(sum(unseen.values()))
            entry["unseen_values"] = dict(
                sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP_UNSEEN]
            )
        per_column[name] = entry
    rows = max(n_rows, 1)
    return Quality(
        rows=n_rows,
        missing_rate=missing_cells / cells if cells else 0.0,
        out_of_range_rate=float(bad_range.sum()) / rows,
        unseen_rate=float(bad_category.sum()) / rows,
        nonfinite_rate=float(nonfinite.sum()) / rows,
        refused=refused,
        refused_rate=refused / (n_requests + refused) if n_requests + refused else 0.0,
        columns=per_column,
    )
