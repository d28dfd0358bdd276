"""A declarative feature spec, turned into one fitted scikit-learn transformer.

The same fitted transformer travels inside the registered model pipeline, so exactly the
transformation learned at training time is applied at serving time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from closedloop.core import LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError

__all__ = ["FeatureSpec"]

_NUMERIC_IMPUTE = ("mean", "median")
_CATEGORICAL_IMPUTE = ("most_frequent", "constant")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which columns feed the model, and how each kind is prepared.

    Attributes:
        numeric: Numeric columns: imputed, then standardised.
        categorical: Categorical columns: imputed, then one-hot encoded (unseen categories at
            serving time encode as all zeros instead of failing).
        numeric_impute: ``median`` or ``mean``.
        categorical_impute: ``most_frequent`` or ``constant`` (fills ``"missing"``).
        scale: Standardise numeric columns.
        min_frequency: One-hot categories rarer than this (count) are grouped as infrequent.
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numeric_impute: str = "median"
    categorical_impute: str = "most_frequent"
    scale: bool = True
    min_frequency: int | None = None

    def __post_init__(self) -> None:
        overlap = sorted(set(self.numeric) & set(self.categorical))
        if overlap:
            raise InvalidArgumentError(f"columns are both numeric and categorical: {overlap}")
        if not self.numeric and not self.categorical:
            raise InvalidArgumentError("a feature spec needs at least one column")
        if self.numeric_impute not in _NUMERIC_IMPUTE:
            raise InvalidArgumentError(
                f"numeric_impute must be one of {_NUMERIC_IMPUTE}, got {self.numeric_impute!r}"
            )
        if self.categorical_impute not in _CATEGORICAL_IMPUTE:
            raise InvalidArgumentError(
                f"categorical_impute must be one of {_CATEGORICAL_IMPUTE}, "
                f"got {self.categorical_impute!r}"
            )

    @property
    def columns(self) -> list[str]:
        """Every input column, numeric first."""
        return [*self.numeric, *self.categorical]

    @classmethod
    def from_schema(
        cls, schema: TableSchema, *, target: str, exclude: Sequence[str] = (), **options: Any
    ) -> FeatureSpec:
        """Numeric columns of the schema as numeric features, the rest as categorical.

        Args:
            schema: The training data's schema.
            target: The label column (left out).
            exclude: Other columns to leave out (ids, weights, leakage).
            **options: Other ``FeatureSpec`` fields.
        """
        if target not in schema:
            raise InvalidArgumentError(
                f"target {target!r} is not a column of the data", hint=f"columns: {schema.names}"
            )
        skip = {target, *exclude}
        numeric = tuple(c.name for c in schema if c.type.is_numeric and c.name not in skip)
        categorical = tuple(
            c.name
            for c in schema
            if c.name not in skip
            and c.type in (LogicalType.CATEGORY, LogicalType.STRING, LogicalType.BOOLEAN)
        )
        return cls(numeric=numeric, categorical=categorical, **options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (logged as run params, stored with models)."""
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "numeric_impute": self.numeric_impute,
            "categorical_impute": self.categorical_impute,
            "scale": self.scale,
            "min_frequency": self.min_frequency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidArgumentError(f"unknown feature spec fields: {unknown}")
        known["numeric"] = tuple(known.get("numeric", ()))
        known["categorical"] = tuple(known.get("categorical", ()))
        return cls(**known)

    def signature(self, schema: TableSchema) -> TableSchema:
        """The model's input schema: these columns, typed as in the training data."""
        missing = [c for c in self.columns if c not in schema]
        if missing:
            raise InvalidArgumentError(f"feature columns missing from the data: {missing}")
        return schema.select(self.columns)

    def build(self) -> Any:
        """An unfitted ``ColumnTransformer`` implementing the spec."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        parts: list[tuple[str, Any, list[str]]] = []
        if self.numeric:
            steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=self.numeric_impute))]
            if self.scale:
                steps.append(("scale", StandardScaler()))
            parts.append(("numeric", Pipeline(steps), list(self.numeric)))
        if self.categorical:
            imputer = SimpleImputer(
                strategy=self.categorical_impute,
                fill_value="missing" if self.categorical_impute == "constant" else None,
            )
            encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist" if self.min_frequency else "ignore",
                min_frequency=self.min_frequency,
                sparse_output=False,
            )
            parts.append(
                (
                    "categorical",
                    Pipeline([("impute", imputer), ("onehot", encoder)]),
                    list(self.categorical),
                )
            )
        return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
