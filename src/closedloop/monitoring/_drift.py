"""``DriftDetector``: fit on reference data, compare current data, get a ``DriftReport``.

Each column is judged by its :class:`~closedloop.monitoring._rules.ColumnRule`, by default
the automatic rule of :mod:`closedloop.monitoring._rules`: a test (KS, chi-square) on
windows of up to 1,000 values, a distance (normed Wasserstein, Jensen-Shannon) on larger
ones, and every distance also above its small-sample noise floor. The dataset drifted when
at least ``drift_share`` of the columns did.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from closedloop.core import LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError, NotFittedError
from closedloop.monitoring._distances import (
    hellinger,
    hellinger_rows,
    jensenshannon_categorical,
    jensenshannon_rows,
    numeric_shares,
    total_variation,
    total_variation_rows,
    wasserstein_sorted,
)
from closedloop.monitoring._parallel import per_column
from closedloop.monitoring._profile import (
    CategoricalProfile,
    FittedColumn,
    NumericProfile,
    categorical_column,
    categorical_distribution,
    category_counts,
    column_from_profile,
    numeric_column,
    numeric_distribution,
    numeric_summary,
    top_shares,
)
from closedloop.monitoring._report import Distribution, DriftReport, FeatureDrift
from closedloop.monitoring._rules import (
    DEFAULT_ALPHA,
    DEFAULT_DRIFT_SHARE,
    ColumnRule,
    FeatureKind,
    FloorSampler,
    NullModel,
    ResolvedRule,
    check_alpha,
    check_drift_share,
    effective_size,
    null_model_categorical,
    null_model_numeric,
    resolve_rule,
)
from closedloop.monitoring._stats import (
    FloatArray,
    bin_proportions_sorted,
    chi2_test,
    ks_from_sorted,
    numeric_sample,
    psi_categorical,
    psi_from_proportions,
)

__all__ = ["DriftDetector"]

_NAN = math.nan
_NO_PLOT = Distribution((), (), (), ())


class DriftDetector:
    """Detects distribution drift per column between reference and current data.

    Follows scikit-learn conventions: ``__init__`` only stores its arguments, ``fit``
    learns the reference (attributes ending in ``_``) and returns ``self``, ``compare``
    compares a current frame with it (not ``score``: in scikit-learn that returns one
    number of goodness of fit). Numeric columns are schema types ``integer`` and ``float``;
    all other columns are categorical. Datetime columns are left out by default: time
    always moves, so they would always drift. The rule is explained in
    :mod:`closedloop.monitoring._rules`; +-inf values are counted (``non_finite_share``)
    and left out of the statistics.

    Args:
        schema: The table schema that says which columns are numeric (e.g. a model
            version's signature). Without one, kinds are inferred from the reference dtypes.
        rules: A :class:`ColumnRule` per column name; columns not named use the automatic
            rule.
        alpha: Level of the tests (unless a rule sets one) and false-positive rate of the
            distances' noise floor, in (0, 1).
        drift_share: Share of drifted columns at which the dataset counts as drifted, in
            (0, 1].
        bins: Quantile bins of numeric PSI (fewer when the reference has ties).
        columns: Columns to check; default the schema's (else the reference's) columns,
            datetimes excluded. Non-text labels (e.g. ``0``) are matched by their text.
        resamples: Multinomial resamples behind each noise floor; default 1,000, fewer
            (down to 200) on wide columns.
        random_state: Seed of the noise floor's resamples (reports are reproducible).

    Attributes:
        columns_: The columns checked, in order (as text).
        kinds_: ``numeric`` or ``categorical`` per column.
        n_reference_rows_: Rows of the reference frame.
        noise_floors_: The noise floors reported so far, by (column, method, window size);
            filled by ``compare`` (a distance far beyond its first resamples stops there,
            see :class:`~closedloop.monitoring._rules.FloorSampler`).

    Example:
        >>> detector = DriftDetector(version.signature).fit(train_df)  # doctest: +SKIP
        >>> detector.compare(live_df).drifted_features  # doctest: +SKIP
    """

    def __init__(
        self,
        schema: TableSchema | None = None,
        *,
        rules: Mapping[str, ColumnRule] | None = None,
        alpha: float = DEFAULT_ALPHA,
        drift_share: float = DEFAULT_DRIFT_SHARE,
        bins: int = 10,
        columns: Sequence[Hashable] | None = None,
        resamples: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.schema = schema
        self.rules = rules
        self.alpha = alpha
        self.drift_share = drift_share
        self.bins = bins
        self.columns = columns
        self.resamples = resamples
        self.random_state = random_state

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "schema")
        return f"DriftDetector({shown})"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn's contract; ``deep`` is accepted)."""
        return {
            "schema": self.schema,
            "rules": self.rules,
            "alpha": self.alpha,
            "drift_share": self.drift_share,
            "bins": self.bins,
            "columns": self.columns,
            "resamples": self.resamples,
            "random_state": self.random_state,
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
            InvalidArgumentError: A parameter or rule is invalid, the frame is empty, or a
                column to check is missing from it (or from the schema).
        """
        self._check_params()
        if not isinstance(reference, pd.DataFrame):
            raise TypeError(f"reference must be a pandas DataFrame, not {type(reference)}")
        if len(reference) == 0:
            raise InvalidArgumentError("the reference data has no rows")
        columns = self._resolve_columns(reference)
        labels = _column_labels(reference, columns, "reference")
        kinds = {name: self._kind(name, reference[labels[name]]) for name in columns}
        rules = self._column_rules(columns, kinds)
        fitted = per_column(
            lambda name: self._reference(reference, labels[name], kinds[name]),
            columns,
            len(reference),
        )
        refs = dict(zip(columns, fitted, strict=True))
        self.columns_ = tuple(columns)
        self.kinds_ = kinds
        self.rules_ = rules
        self.reference_ = refs
        self.n_reference_rows_ = len(reference)
        self.noise_floors_: dict[tuple[str, str, int], float] = {}
        self._samplers: dict[tuple[str, str, int], FloorSampler] = {}
        return self

    def _check_params(self) -> None:
        check_alpha(self.alpha)
        check_drift_share(self.drift_share)
        for name in ("bins", "resamples"):
            value = getattr(self, name)
            if name == "resamples" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
        seed = self.random_state
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidArgumentError(f"random_state must be a non-negative integer, got {seed!r}")

    def _column_rules(
        self, columns: Sequence[str], kinds: Mapping[str, FeatureKind]
    ) -> dict[str, ColumnRule]:
        given = dict(self.rules or {})
        by_text = {str(k): v for k, v in given.items()}
        unknown = sorted(set(by_text) - set(columns))
        if unknown:
            raise InvalidArgumentError(
                f"rules name column(s) that are not checked: {unknown}",
                hint=f"checked columns: {list(columns)}",
            )
        for name, rule in by_text.items():
            if not isinstance(rule, ColumnRule):
                raise InvalidArgumentError(
                    f"the rule of column {name!r} is a {type(rule).__name__}, not a ColumnRule",
                    hint=f"rules={{{name!r}: ColumnRule('psi')}}",
                )
            resolve_rule(kinds[name], 0, rule, alpha=self.alpha, column=name)  # kind check
        return {name: by_text.get(name, ColumnRule()) for name in columns}

    def _resolve_columns(self, reference: pd.DataFrame) -> list[str]:
        if self.columns is not None:
            columns = [str(c) for c in self.columns]
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

    def _reference(self, frame: pd.DataFrame, label: Hashable, kind: FeatureKind) -> FittedColumn:
        values = frame[label]
        if kind == "categorical":
            counts = category_counts(values)
            return categorical_column(label, counts, len(values) - sum(counts.values()))
        sample = numeric_sample(values)
        return numeric_column(
            label,
            sample.sorted_values(),
            missing=sample.n_missing / len(values),
            non_finite=sample.n_non_finite / len(values),
            bins=self.bins,
        )

    @classmethod
    def from_profile(
        cls,
        columns: Mapping[str, NumericProfile | CategoricalProfile],
        n_rows: int,
        *,
        rules: Mapping[str, ColumnRule] | None = None,
        alpha: float = DEFAULT_ALPHA,
        drift_share: float = DEFAULT_DRIFT_SHARE,
        bins: int = 10,
        resamples: int | None = None,
        random_state: int = 0,
    ) -> DriftDetector:
        """A detector fitted from stored column summaries instead of reference rows.

        With every finite value kept (``len(values) == n``), the detector equals
        ``fit`` on the data. With a sketch, statistics are computed on the sketch (whose
        ECDF is within ``1 / len(values)`` of the data's) while sizes are the true ones:
        the KS p-value uses ``n`` (asymptotically, see ``ks_test_sorted``), the noise floor
        resamples at the effective size of ``n``, and the Wasserstein scale is the stored
        standard deviation.

        Args:
            columns: Per column name, a :class:`NumericProfile` or
                :class:`CategoricalProfile` (e.g. a monitoring reference profile's columns).
            n_rows: Rows of the reference the summaries describe.
            rules: As in the constructor.
            alpha: As in the constructor.
            drift_share: As in the constructor.
            bins: As in the constructor.
            resamples: As in the constructor.
            random_state: As in the constructor.

        Returns:
            A fitted detector.

        Raises:
            InvalidArgumentError: No columns, or a parameter or rule is invalid.
            TypeError: A summary is neither kind.
        """
        names = [str(name) for name in columns]
        detector = cls(
            rules=rules,
            alpha=alpha,
            drift_share=drift_share,
            bins=bins,
            columns=names,
            resamples=resamples,
            random_state=random_state,
        )
        detector._check_params()
        if not names:
            raise InvalidArgumentError(
                "no columns to check for drift", hint="give at least one column summary"
            )
        refs: dict[str, FittedColumn] = {}
        for name, summary in zip(names, columns.values(), strict=True):
            refs[name] = column_from_profile(name, summary, detector.bins)
        kinds = {name: ref.kind for name, ref in refs.items()}
        detector.columns_ = tuple(names)
        detector.kinds_ = kinds
        detector.rules_ = detector._column_rules(names, kinds)
        detector.reference_ = refs
        detector.n_reference_rows_ = int(n_rows)
        detector.noise_floors_ = {}
        detector._samplers = {}
        return detector

    # comparing ---------------------------------------------------------------------------------
    def compare(self, current: pd.DataFrame, *, details: bool = True) -> DriftReport:
        """Compare ``current`` with the fitted reference, column by column.

        Args:
            current: The data to check (e.g. the inputs of recent predictions).
            details: Also give each feature the summaries and shared-bin distributions a
                report page shows (``reference_summary``, ``current_summary``,
                ``distribution``); without them those are empty and the verdicts are the
                same (a monitor's windows keep sketches instead).

        Returns:
            The report; ``drifted_features`` names the columns that drifted and
            ``dataset_drifted`` says whether the dataset did.

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
        labels = _column_labels(current, self.columns_, "current")

        def one(name: str) -> FeatureDrift:
            ref, values = self.reference_[name], current[labels[name]]
            if self.kinds_[name] == "numeric":
                return self._compare_numeric(name, ref, values, details)
            return self._compare_categorical(name, ref, values, details)

        # the costliest columns first (text is hashed, not sorted): no thread idles at the end
        order = sorted(self.columns_, key=lambda c: self.kinds_[c] != "categorical")
        by_name = dict(zip(order, per_column(one, order, len(current)), strict=True))
        features = tuple(by_name[c] for c in self.columns_)
        return DriftReport(
            features=features,
            alpha=float(self.alpha),
            drift_share=float(self.drift_share),
            reference_rows=self.n_reference_rows_,
            current_rows=len(current),
        )

    def _compare_numeric(
        self, name: str, ref: FittedColumn, values: pd.Series[Any], details: bool
    ) -> FeatureDrift:
        sample = numeric_sample(values)
        cur = sample.sorted_values()
        rule = resolve_rule("numeric", len(cur), self.rules_[name], alpha=self.alpha, column=name)
        statistic = p_value = floor = _NAN
        if ref.n and len(cur):
            statistic, p_value = self._numeric_statistic(ref, cur, rule)
            floor = self._floor(name, ref, len(cur), rule, statistic)
        return FeatureDrift(
            name=name,
            kind="numeric",
            method=rule.method,
            statistic=statistic,
            p_value=p_value,
            threshold=rule.threshold,
            noise_floor=floor,
            drifted=rule.is_drifted(statistic, p_value, floor),
            reference_rows=ref.n,
            current_rows=len(cur),
            reference_missing_share=ref.missing_share,
            current_missing_share=sample.n_missing / len(values),
            reference_non_finite_share=ref.non_finite_share,
            current_non_finite_share=sample.n_non_finite / len(values),
            reference_summary=ref.summary if details else {},
            current_summary=numeric_summary(cur) if details else {},
            distribution=numeric_distribution(ref.values, cur) if details else _NO_PLOT,
        )

    @staticmethod
    def _numeric_statistic(
        ref: FittedColumn, cur: FloatArray, rule: ResolvedRule
    ) -> tuple[float, float]:
        # both sides are sorted and finite here: the unchecked forms copy nothing
        method = rule.method
        if method == "ks":  # n_reference: the true size when values are a sketch
            return ks_from_sorted(ref.values, cur, ref.n)
        if method == "wasserstein":
            return wasserstein_sorted(ref.values, cur) / ref.scale, _NAN
        if method == "psi":
            shares = bin_proportions_sorted(cur, ref.edges)
            return psi_from_proportions(ref.proportions, shares), _NAN
        ref_shares, cur_shares = numeric_shares(ref.values, cur)
        rows = {"jensenshannon": jensenshannon_rows, "tv": total_variation_rows}
        distance = rows.get(method, hellinger_rows)
        return float(distance(ref_shares, cur_shares)), _NAN

    def _compare_categorical(
        self, name: str, ref: FittedColumn, values: pd.Series[Any], details: bool
    ) -> FeatureDrift:
        cur = category_counts(values)
        n_cur = sum(cur.values())
        rule = resolve_rule("categorical", n_cur, self.rules_[name], alpha=self.alpha, column=name)
        statistic = p_value = floor = _NAN
        if ref.n and n_cur:
            if rule.method == "chi2":
                statistic, p_value = chi2_test(ref.counts, cur)
            else:
                distance = {
                    "psi": psi_categorical,
                    "jensenshannon": jensenshannon_categorical,
                    "tv": total_variation,
                }.get(rule.method, hellinger)
                statistic = distance(ref.counts, cur)
            floor = self._floor(name, ref, n_cur, rule, statistic)
        return FeatureDrift(
            name=name,
            kind="categorical",
            method=rule.method,
            statistic=statistic,
            p_value=p_value,
            threshold=rule.threshold,
            noise_floor=floor,
            drifted=rule.is_drifted(statistic, p_value, floor),
            reference_rows=ref.n,
            current_rows=n_cur,
            reference_missing_share=ref.missing_share,
            current_missing_share=1 - n_cur / len(values),
            reference_summary=ref.summary if details else {},
            current_summary=top_shares(cur) if details else {},
            distribution=categorical_distribution(ref.counts, cur) if details else _NO_PLOT,
        )

    def _floor(
        self, name: str, ref: FittedColumn, n_current: int, rule: ResolvedRule, statistic: float
    ) -> float:
        """The noise floor of a distance on ``n_current`` values (cached).

        NaN for a test, and for a distance below its threshold: such a column is not
        drifted whatever its floor, so the resamples are not drawn.
        """
        if rule.is_test or not rule.noise_floor or not statistic >= rule.threshold:
            return _NAN
        key = (name, rule.method, n_current)
        sampler = self._samplers.get(key)
        if sampler is None:
            null: NullModel
            if ref.kind == "categorical":
                null = null_model_categorical(rule.method, list(ref.counts.values()))
            else:
                null = null_model_numeric(
                    rule.method,
                    ref.values,
                    n_current=n_current,
                    psi_edges=ref.edges if rule.method == "psi" else _NO_EDGES,
                    scale=ref.scale,
                )
            # one seed per (column, method, size): a floor does not depend on the compare order
            tag = zlib.crc32(f"{name}\0{rule.method}".encode())
            sampler = FloorSampler(
                null,
                effective_size(ref.n, n_current),
                alpha=self.alpha,
                resamples=self.resamples,
                seed=[self.random_state, n_current, tag],
            )
            self._samplers[key] = sampler
        floor = sampler.floor(statistic)
        self.noise_floors_[key] = floor
        return floor


_NO_EDGES = np.empty(0)  # what a numeric null model other than PSI's is given as edges


def _column_labels(frame: pd.DataFrame, columns: Sequence[str], label: str) -> dict[str, Hashable]:
    """The frame's label of each column name (``0`` for ``"0"``).

    Raises:
        InvalidArgumentError: A column is missing, or two labels read as the same text.
    """
    by_text: dict[str, list[Hashable]] = {}
    for c in frame.columns:
        by_text.setdefault(str(c), []).append(c)
    missing = [c for c in columns if c not in by_text]
    if missing:
        raise InvalidArgumentError(
            f"the {label} data lacks column(s) {missing}",
            hint=f"it has: {list(by_text)}",
        )
    ambiguous = [c for c in columns if len(by_text[c]) > 1]
    if ambiguous:
        raise InvalidArgumentError(
            f"the {label} data has several columns named {ambiguous} (as text)",
            hint="give every column a distinct name",
        )
    return {c: by_text[c][0] for c in columns}
