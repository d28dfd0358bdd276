"""The ONNX fast path: conversion accepted only when faithful, and the scorer over batches."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from closedloop import datasets
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.data import infer_schema
from closedloop.features import FeatureSpec
from closedloop.features._onnx import batch_columns
from closedloop.serving._batch import Batch
from closedloop.serving._onnx import OnnxScorer, convert_pipeline, onnx_available
from closedloop.training import get_candidate

pytestmark = pytest.mark.skipif(not onnx_available(), reason="the onnx extra is not installed")

NUMERIC = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")
CATEGORICAL = (
    "workclass",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
)


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, pd.DataFrame, TableSchema]:
    train_file, test_file = datasets.adult_files()
    train = datasets.read_adult(train_file)
    test = datasets.read_adult(test_file)
    # 2,000 held-out rows: the first 1,800 and 200 with a missing category.
    missing = test[list(CATEGORICAL)].isna().any(axis=1)
    rows = pd.concat([test[~missing].head(1800), test[missing].head(200)], ignore_index=True)
    return train.sample(8000, random_state=0), rows, infer_schema(train)


def _fit(train: pd.DataFrame, candidate: str, **options: Any) -> tuple[Pipeline, FeatureSpec]:
    spec = FeatureSpec(numeric=NUMERIC, categorical=CATEGORICAL, **options)
    pipe = Pipeline([("features", spec.build()), ("model", get_candidate(candidate).make(0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence on unscaled columns
        pipe.fit(train[spec.columns], train["income_per_year"])
    return pipe, spec


def _batch(frame: pd.DataFrame, signature: TableSchema) -> Batch:
    return Batch.from_columns(signature, batch_columns(frame, signature))


@pytest.mark.parametrize(
    ("candidate", "options"),
    [
        ("logistic_regression", {}),
        ("hist_gradient_boosting", {}),
        ("logistic_regression", {"numeric_impute": "mean", "categorical_impute": "constant"}),
        ("hist_gradient_boosting", {"scale": False}),
    ],
)
def test_adult_pipeline_converts_and_scores_like_the_pipeline(
    adult: tuple[pd.DataFrame, pd.DataFrame, TableSchema], candidate: str, options: dict[str, Any]
) -> None:
    train, rows, schema = adult
    pipe, spec = _fit(train, candidate, **options)
    signature = spec.signature(schema)
    outcome = convert_pipeline(pipe, signature, rows, atol=1e-4)
    assert outcome.ok, outcome.reason
    assert outcome.onnx_bytes is not None
    assert outcome.rows_checked == 2000
    assert outcome.max_abs_diff <= 1e-4
    assert "2,000 labels identical" in outcome.reason

    scorer = OnnxScorer(outcome.onnx_bytes, signature, list(pipe.classes_), "adult/1")
    batch = _batch(rows, signature)
    assert any(v is None for v in batch.columns["workclass"])  # missing values are fed
    scored = scorer.score(batch)
    frame = batch.frame()
    assert scored.labels.tolist() == pipe.predict(frame).tolist()
    assert scored.probabilities is not None
    assert scored.probabilities.dtype == np.float64
    assert scored.probabilities.shape == (2000, 2)
    np.testing.assert_allclose(scored.probabilities, pipe.predict_proba(frame), atol=1e-4)
    assert scored.classes == ("<=50K", ">50K")
    assert scored.model_version_id == "adult/1"
    # one row, as a request carries it
    one = scorer.score(Batch.from_columns(signature, {k: v[:1] for k, v in batch.columns.items()}))
    assert one.labels.tolist() == pipe.predict(frame.head(1)).tolist()


def test_a_missing_category_is_imputed_as_the_pipeline_does(
    adult: tuple[pd.DataFrame, pd.DataFrame, TableSchema],
) -> None:
    train, rows, schema = adult
    pipe, spec = _fit(train, "logistic_regression")
    signature = spec.signature(schema)
    outcome = convert_pipeline(pipe, signature, rows)
    assert outcome.onnx_bytes is not None
    scorer = OnnxScorer(outcome.onnx_bytes, signature, list(pipe.classes_), "adult/1")
    row = rows.head(1).copy()
    base = _batch(row, signature)
    gone = {k: v.copy() for k, v in base.columns.items()}
    for name in ("workclass", "occupation", "native_country"):
        gone[name][0] = None
    imputed = {k: v.copy() for k, v in base.columns.items()}
    for name, value in zip(
        ("workclass", "occupation", "native_country"),
        pipe.named_steps["features"]
        .named_transformers_["categorical"]["impute"]
        .statistics_[[0, 2, 6]],
        strict=True,
    ):
        imputed[name][0] = value
    p_missing = scorer.score(Batch.from_columns(signature, gone)).probabilities
    p_imputed = scorer.score(Batch.from_columns(signature, imputed)).probabilities
    np.testing.assert_allclose(p_missing, p_imputed, atol=1e-6)
    # as the pipeline imputes NaN (a one-row frame of None alone is an object column, in
    # which scikit-learn's imputer does not see None as missing)
    as_nan = Batch.from_columns(signature, gone).frame()
    as_nan[["workclass", "occupation", "native_country"]] = np.nan
    np.testing.assert_allclose(p_missing, pipe.predict_proba(as_nan), atol=1e-4)
    np.testing.assert_allclose(p_imputed, pipe.predict_proba(pd.DataFrame(imputed)), atol=1e-4)


def test_infrequent_categories_are_refused_with_the_reason(
    adult: tuple[pd.DataFrame, pd.DataFrame, TableSchema],
) -> None:
    train, rows, schema = adult
    pipe, spec = _fit(train, "logistic_regression", min_frequency=50)
    outcome = convert_pipeline(pipe, spec.signature(schema), rows)
    assert not outcome.ok
    assert outcome.onnx_bytes is None
    assert "Infrequent categories are not implemented" in outcome.reason
    assert outcome.rows_checked == 0


def test_atol_zero_refuses_a_float32_graph_naming_the_difference(
    adult: tuple[pd.DataFrame, pd.DataFrame, TableSchema],
) -> None:
    train, rows, schema = adult
    pipe, spec = _fit(train, "logistic_regression")
    outcome = convert_pipeline(pipe, spec.signature(schema), rows, atol=0.0)
    assert not outcome.ok
    assert outcome.onnx_bytes is None
    assert outcome.rows_checked == 2000
    assert 0 < outcome.max_abs_diff < 1e-4
    assert "0 of 2,000 labels differ, max probability difference" in outcome.reason


def test_different_labels_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import closedloop.features._onnx as onnx_module

    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(x, y)
    signature = _float_signature(x.shape[1])
    frame = pd.DataFrame(x, columns=signature.names)
    real = onnx_module._score_onnx

    def flipped(session: Any, columns: Any) -> Any:
        got = real(session, columns)
        labels = got.labels.copy()
        labels[:3] = 1 - labels[:3]
        return onnx_module._Predictions(labels, got.probabilities)

    monkeypatch.setattr(onnx_module, "_score_onnx", flipped)
    outcome = convert_pipeline(model, signature, frame)
    assert not outcome.ok
    assert outcome.reason.startswith(f"3 of {len(frame):,} labels differ")


def _float_signature(n: int) -> TableSchema:
    return TableSchema(
        tuple(ColumnSchema(f"f{i}", LogicalType.FLOAT, nullable=False) for i in range(n))
    )


def test_estimator_fitted_on_numpy_gets_one_input_per_column() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(x, y)
    signature = _float_signature(x.shape[1])
    frame = pd.DataFrame(x, columns=signature.names)
    outcome = convert_pipeline(model, signature, frame, atol=1e-9)
    assert outcome.ok, outcome.reason
    assert "double inputs" in outcome.reason  # probabilities in float64, not float32
    assert outcome.onnx_bytes is not None
    scorer = OnnxScorer(outcome.onnx_bytes, signature, ["0", "1"], "cancer/1")
    scored = scorer.score(_batch(frame, signature))
    assert scored.labels.tolist() == model.predict(x).tolist()
    assert scored.probabilities is not None
    np.testing.assert_allclose(scored.probabilities, model.predict_proba(x), atol=1e-9)


def test_nan_in_a_float_column_goes_through_the_imputer() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    x[rng.random(x.shape) < 0.1] = np.nan
    signature = TableSchema(tuple(ColumnSchema(f"f{i}", LogicalType.FLOAT) for i in range(3)))
    frame = pd.DataFrame(x, columns=signature.names)
    spec = FeatureSpec(numeric=tuple(signature.names))
    model = make_pipeline(spec.build(), LogisticRegression()).fit(frame, y)
    outcome = convert_pipeline(model, signature, frame)
    assert outcome.ok, outcome.reason
    assert outcome.onnx_bytes is not None
    scored = OnnxScorer(outcome.onnx_bytes, signature, ["0", "1"], "m/1").score(
        _batch(frame, signature)
    )
    assert scored.labels.tolist() == model.predict(frame).tolist()


class _Doubler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def fit(self, x: Any, y: Any = None) -> _Doubler:
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x) * 2


def test_unconvertible_model_is_refused_without_raising() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    # scaled: unscaled doubled features can leave lbfgs short of convergence (a warning)
    model = make_pipeline(_Doubler(), StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)
    signature = _float_signature(x.shape[1])
    outcome = convert_pipeline(model, signature, pd.DataFrame(x, columns=signature.names))
    assert not outcome.ok
    assert outcome.onnx_bytes is None
    assert "skl2onnx cannot convert it" in outcome.reason
    assert "_Doubler" in outcome.reason
    assert outcome.rows_checked == 0


def test_validation_without_the_signature_columns_is_refused() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(x, y)
    outcome = convert_pipeline(model, _float_signature(x.shape[1]), pd.DataFrame({"a": [1.0]}))
    assert not outcome.ok
    assert "lack the model's input columns" in outcome.reason


def test_scorer_refuses_a_graph_for_other_columns() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(x, y)
    signature = _float_signature(x.shape[1])
    outcome = convert_pipeline(model, signature, pd.DataFrame(x, columns=signature.names))
    assert outcome.onnx_bytes is not None
    other = TableSchema((ColumnSchema("z", LogicalType.FLOAT),))
    with pytest.raises(Exception, match="not the signature's columns"):
        OnnxScorer(outcome.onnx_bytes, other, ["0", "1"], "cancer/1")


@pytest.mark.parametrize("name", ["LinearSVC", "RidgeClassifier"])
def test_a_classifier_without_probabilities_is_refused_not_crashed(name: str) -> None:
    from sklearn.linear_model import RidgeClassifier
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = np.where(x[:, 0] > 0, "yes", "no")  # text labels: nothing to subtract
    model = {"LinearSVC": LinearSVC, "RidgeClassifier": RidgeClassifier}[name]().fit(x, y)
    signature = TableSchema(
        tuple(ColumnSchema(f"f{i}", LogicalType.FLOAT, nullable=False) for i in range(4))
    )
    outcome = convert_pipeline(model, signature, pd.DataFrame(x, columns=signature.names))
    assert not outcome.ok
    assert outcome.onnx_bytes is None
    assert f"{name} is a classifier without predict_proba" in outcome.reason
