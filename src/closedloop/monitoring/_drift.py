"""``DriftDetector``: fit on reference data, compare current data, get a ``DriftReport``.

The drift rule
--------------
A feature is **drifted when its test's p-value is below ``alpha`` and its PSI is at least
``psi_threshold``**. A test alone measures evidence, not size: with tens of thousands of
rows the KS and chi-square tests call differences significant that no one would act on (a
mean moved by a twentieth of a standard deviation). The population stability index is an
effect size that does not grow with the sample, so requiring both keeps a flag meaningful
on large windows, while the test keeps a small, noisy window from being flagged on PSI
alone. Evidently makes the same trade-off by switching from tests to distance measures on
large samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from closedloop.core import LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError, NotFittedError
from closedloop.monitoring._profile import (
    categorical_distribution,
    category_counts,
    numeric_distribution,
    numeric_summary,
    top_shares,
)
from closedloop.monitoring._report import DriftReport, FeatureDrift, FeatureKind
from closedloop.monitoring._stats import (
    FloatArray,
    bin_proportions,
    chi2_test,
    clean_numeric,
    ks_test,
    psi_categorical,
    psi_edges,
    psi_from_proportions,
)

__all__ = ["DriftDetector"]


@dataclass(frozen=True, slots=True)
class _Reference:
    """What ``fit`` keeps of one reference column."""

    kind: FeatureKind
    values: FloatArray  # numeric: the non-missing values, sorted (empty for categorical)
    counts: dict[str, int]  # categorical: count per category (empty for numeric)
    edges: FloatArray  # numeric: inner PSI bin edges
    proportions: FloatArray  # numeric: reference share per PSI bin
    missing_share: float

    @property
    def n(self) -> int:
        return len(self.values) if self.kind == "numeric" else sum(self.counts.values())


class DriftDetector:
    """Detects distribution drift per column between reference and current data.

    Follows scikit-learn conventions: ``__init__`` only stores its arguments, ``fit``
    learns the reference (attributes ending in ``_``) and returns ``self``, ``compare``
    compares a current frame with it (not ``score``: in scikit-learn that returns one
    number of goodness of fit). Numeric columns (schema types ``integer`` and
    ``float``) get a two-sample KS test and a quantile-binned PSI; all other columns are
    categorical and get a chi-square test and a PSI over category shares. Datetime columns
    are left out by default: time always moves, so they would always drift. The drift rule
    is explained in the module docstring.

    Args:
        schema: The table schema that says which columns are numeric (e.g. a model
            version's signature). Without one, kinds are inferred from the reference dtypes.
        alpha: Significance level of the tests, in (0, 1).
        psi_threshold: Smallest PSI that counts as a meaningful shift (0.1 is the customary
            "moderate shift" bound; 0.25 "major").
        bins: Quantile bins of numeric PSI (fewer when the reference has ties).
        columns: Columns to check; default the schema's (else the reference's) columns,
            datetimes excluded.

    Attributes:
        columns_: The columns checked, in order.
        kinds_: ``numeric`` or ``categorical`` per column.
        n_reference_rows_: Rows of the reference frame.

    Example:
        >>> detector = DriftDetector(version.signature).fit(train_df)  # doctest: +SKIP
        >>> detector.compare(live_df).drifted_features  # doctest: +SKIP
    """

    def __init__(
        self,
        schema: TableSchema | None = None,
        *,
        alpha: float = 0.05,
        psi_threshold: float = 0.1,
        bins: int = 10,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.schema = schema
        self.alpha = alpha
        self.psi_threshold = psi_threshold
        self.bins = bins
        self.columns = columns

    def __repr__(self) -> str:
        return (
            f"DriftDetector(alpha={self.alpha!r}, psi_threshold={self.psi_threshold!r}, "
            f"bins={self.bins!r}, columns={self.columns!r})"
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn's contract; ``deep`` is accepted)."""
        return {
            "schema": self.schema,
            "alpha": self.alpha,
            "psi_threshold": self.psi_threshold,
            "bins": self.bins,
            "columns": self.columns,
        }

    def set_params(self, **params: Any) -> DriftDetector:
        """Change constructor arguments; takes effect at the next ``fit``.

        Raises:
            InvalidArgumentError: An unknown parameter name.
        """
        unknown = sorted(set(params) - set(self.get_params()))
        if unknown:
            raise InvalidArgumentError(
                f"unknown DriftDetector parameter(s): {unknown}",
                hint=f"parameters: {sorted(self.get_params())}",
            )
        for key, value in params.items():
            setattr(self, key, value)
        return self

    # fitting -----------------------------------------------------------------------------------
    def fit(self, reference: pd.DataFrame) -> DriftDetector:
        """Learn the reference distribution of each column.

        Args:
            reference: The reference data (typically the training set).

        Returns:
            ``self``.

        Raises:
            InvalidArgumentError: A parameter is out of range, the frame is empty, or a
                column to check is missing from it (or from the schema).
        """
        self._check_params()
        if not isinstance(reference, pd.DataFrame):
            raise TypeError(f"reference must be a pandas DataFrame, not {type(reference)}")
        if len(reference) == 0:
            raise InvalidArgumentError("the reference data has no rows")
        columns = self._resolve_columns(reference)
        _require_columns(reference, columns, "reference")
        kinds = {name: self._kind(name, reference[name]) for name in columns}
        refs = {name: self._reference(reference[name], kinds[name]) for name in columns}
        self.columns_ = tuple(columns)
        self.kinds_ = kinds
        self.reference_ = refs
        self.n_reference_rows_ = len(reference)
        return self

    def _check_params(self) -> None:
        if not (isinstance(self.alpha, float | int) and 0 < self.alpha < 1):
            raise InvalidArgumentError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if not (
            isinstance(self.psi_threshold, float | int)
            and math.isfinite(self.psi_threshold)
            and self.psi_threshold >= 0
        ):
            raise InvalidArgumentError(
                f"psi_threshold must be a non-negative number, got {self.psi_threshold!r}"
            )
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
            raise InvalidArgumentError(f"bins must be a positive integer, got {self.bins!r}")

    def _resolve_columns(self, reference: pd.DataFrame) -> list[str]:
        if self.columns is not None:
            columns = list(self.columns)
            if self.schema is not None:
                unknown = [c for c in columns if c not in self.schema]
                if unknown:
                    raise InvalidArgumentError(
                        f"column(s) {unknown} are not in the schema",
                        hint=f"schema columns: {self.schema.names}",
                    )
        elif self.schema is not None:
            columns = [c.name for c in self.schema if c.type is not LogicalType.DATETIME]
        else:
            columns = [
                str(c)
                for c in reference.columns
                if not pd.api.types.is_datetime64_any_dtype(reference[c])
            ]
        if not columns:
            raise InvalidArgumentError(
                "no columns to check for drift",
                hint="pass a schema or columns with at least one non-datetime column",
            )
        return columns

    def _kind(self, name: str, values: pd.Series[Any]) -> FeatureKind:
        if self.schema is not None and name in self.schema:
            logical = self.schema.column(name).type
            if logical is LogicalType.DATETIME:
                raise InvalidArgumentError(
                    f"column {name!r} is a datetime; drift of timestamps is not checked",
                    hint="leave it out of columns",
                )
            return "numeric" if logical.is_numeric else "categorical"
        if pd.api.types.is_datetime64_any_dtype(values):
            raise InvalidArgumentError(
                f"column {name!r} is a datetime; drift of timestamps is not checked",
                hint="leave it out of columns",
            )
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            return "categorical"
        return "numeric"

    def _reference(self, values: pd.Series[Any], kind: FeatureKind) -> _Reference:
        empty = np.empty(0, dtype=np.float64)
        if kind == "categorical":
            counts = category_counts(values)
            missing = 1 - sum(counts.values()) / len(values)
            return _Reference(kind, empty, counts, empty, empty, missing)
        clean = np.sort(clean_numeric(values))
        missing = 1 - len(clean) / len(values)
        if len(clean) == 0:
            return _Reference(kind, clean, {}, empty, empty, missing)
        edges = psi_edges(clean, bins=self.bins)
        return _Reference(kind, clean, {}, edges, bin_proportions(clean, edges), missing)

    # comparing ---------------------------------------------------------------------------------
    def compare(self, current: pd.DataFrame) -> DriftReport:
        """Compare ``current`` with the fitted reference, column by column.

        Args:
            current: The data to check (e.g. the inputs of recent predictions).

        Returns:
            The report; ``drifted_features`` names the columns that drifted.

        Raises:
            InvalidArgumentError: ``fit`` was not called, ``current`` has no rows, or it
                lacks columns the detector checks.
        """
        if not hasattr(self, "reference_"):
            raise NotFittedError(
                "this DriftDetector is not fitted yet; call fit first",
                hint="detector.fit(reference_frame).compare(current_frame)",
            )
        if not isinstance(current, pd.DataFrame):
            raise TypeError(f"current must be a pandas DataFrame, not {type(current)}")
        if len(current) == 0:
            raise InvalidArgumentError("the current data has no rows")
        _require_columns(current, self.columns_, "current")
        features = tuple(
            self._compare_numeric(name, self.reference_[name], current[name])
            if self.kinds_[name] == "numeric"
            else self._compare_categorical(name, self.reference_[name], current[name])
            for name in self.columns_
        )
        return DriftReport(
            features=features,
            alpha=float(self.alpha),
            psi_threshold=float(self.psi_threshold),
            reference_rows=self.n_reference_rows_,
            current_rows=len(current),
        )

    def _is_drifted(self, p_value: float, psi: float) -> bool:
        return bool(p_value < self.alpha and psi >= self.psi_threshold)

    def _compare_numeric(self, name: str, ref: _Reference, values: pd.Series[Any]) -> FeatureDrift:
        cur = clean_numeric(values)
        statistic = p_value = psi = math.nan
        if ref.n and len(cur):
            statistic, p_value = ks_test(ref.values, cur)
            psi = psi_from_proportions(ref.proportions, bin_proportions(cur, ref.edges))
        return FeatureDrift(
            name=name,
            kind="numeric",
            test="ks",
            statistic=statistic,
            p_value=p_value,
            psi=psi,
            drifted=self._is_drifted(p_value, psi),
            reference_rows=ref.n,
            current_rows=len(cur),
            reference_missing_share=ref.missing_share,
            current_missing_share=1 - len(cur) / len(values),
            reference_summary=numeric_summary(ref.values),
            current_summary=numeric_summary(cur),
            distribution=numeric_distribution(ref.values, cur),
        )

    def _compare_categorical(
        self, name: str, ref: _Reference, values: pd.Series[Any]
    ) -> FeatureDrift:
        cur = category_counts(values)
        n_cur = sum(cur.values())
        statistic = p_value = psi = math.nan
        if ref.n and n_cur:
            statistic, p_value = chi2_test(ref.counts, cur)
            psi = psi_categorical(ref.counts, cur)
        return FeatureDrift(
            name=name,
            kind="categorical",
            test="chi2",
            statistic=statistic,
            p_value=p_value,
            psi=psi,
            drifted=self._is_drifted(p_value, psi),
            reference_rows=ref.n,
            current_rows=n_cur,
            reference_missing_share=ref.missing_share,
            current_missing_share=1 - n_cur / len(values),
            reference_summary=top_shares(ref.counts),
            current_summary=top_shares(cur),
            distribution=categorical_distribution(ref.counts, cur),
        )


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], label: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidArgumentError(
            f"the {label} data lacks column(s) {missing}",
            hint=f"it has: {[str(c) for c in frame.columns]}",
        )
