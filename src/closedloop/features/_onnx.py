"""ONNX conversion of a fitted pipeline, accepted only when it predicts what the pipeline does.

A component (arguments in, values out; no workspace): :func:`convert_pipeline` converts a
fitted scikit-learn model with skl2onnx, one graph input per signature column, scores the
validation rows with both the model and an onnxruntime session, and accepts the conversion
only when every label is identical and every probability within ``atol``. It lives beside
the feature spec because it must handle exactly the pipelines :class:`FeatureSpec` builds
(imputers, scalers and one-hot encoders in a ``ColumnTransformer``, then an estimator), and
below ``registry`` and ``serving`` so that the registry's verb and the serving scorer share
one way of feeding columns to the graph (:func:`onnx_feeds`).

Graph inputs by column type: a category or string column is a string tensor; an integer
column that cannot be missing is ``int64``; every other number is ``double`` where the
converters of the whole model support it (a pipeline without a numeric imputer), else
``float``. Each is ``[None, 1]``. A model that takes one matrix rather than named columns (an
estimator fitted on a numpy array) gets one ``Concat`` node in front, so it too has one input
per column. A missing category (``None`` or NaN) is fed as :data:`MISSING_CATEGORY`, which
the graph's categorical imputers replace as scikit-learn's ``SimpleImputer`` replaces NaN.

skl2onnx and onnxruntime are the optional ``onnx`` extra; they are imported inside the
functions that use them (:func:`onnx_available` says whether they are installed).
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from closedloop.core import LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MISSING_CATEGORY",
    "OnnxConversion",
    "batch_columns",
    "convert_pipeline",
    "new_session",
    "onnx_available",
    "onnx_feeds",
]

#: What a missing category is fed as. Ingest refuses NUL bytes, so no trained category has it.
MISSING_CATEGORY = "\x00closedloop:missing"

_INSTALL_HINT = "install the onnx extra: pip install 'closedloop[onnx]'"
_MAX_REASON = 400
_ONNX_DTYPES: dict[str, Any] = {
    "tensor(double)": np.float64,
    "tensor(float)": np.float32,
    "tensor(int64)": np.int64,
}


@dataclass(frozen=True, slots=True)
class OnnxConversion:
    """The outcome of :func:`convert_pipeline`.

    Attributes:
        ok: Whether the conversion was accepted (it predicts what the model does).
        onnx_bytes: The serialised ONNX model when accepted, else ``None``.
        reason: What was checked when accepted; why it was refused otherwise (the
            converter's error, or how many labels differ and by how much).
        rows_checked: Validation rows scored by both (0 when conversion itself failed).
        max_abs_diff: Largest absolute difference of a probability (or, for a regressor,
            a predicted value) between the two; NaN when nothing was compared.
    """

    ok: bool
    onnx_bytes: bytes | None
    reason: str
    rows_checked: int
    max_abs_diff: float


def onnx_available() -> bool:
    """Whether skl2onnx and onnxruntime (the ``onnx`` extra) are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("skl2onnx", "onnxruntime"))


def new_session(onnx_bytes: bytes) -> Any:
    """An onnxruntime session for latency: one thread, sequential execution.

    A server has several workers; one request's rows are few, so threads inside a session
    would only contend. ``session.run`` releases the GIL and is safe to call from threads.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # No arena: it would keep the largest batch's buffers for good (3 MiB after one
    # 10,000-row request); the allocator reuses and returns them instead.
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def batch_columns(frame: pd.DataFrame, signature: TableSchema) -> dict[str, np.ndarray]:
    """The signature's columns of ``frame`` as the arrays a serving ``Batch`` holds.

    Floats are ``float64`` (NaN missing); integers ``int64``, or ``float64`` with NaN when
    a value is missing; booleans ``bool``, or ``object`` with ``None``; categories and
    strings ``object`` arrays of ``str`` with ``None`` for missing.

    Raises:
        InvalidArgumentError: A signature column is not in the frame.
    """
    missing = [n for n in signature.names if n not in frame.columns]
    if missing:
        raise InvalidArgumentError(
            f"validation data lack the model's input columns {missing}",
            hint="give validation rows with every column of the model's signature",
        )
    out: dict[str, np.ndarray] = {}
    for column in signature:
        series = frame[column.name]
        na = series.isna().to_numpy()
        kind = column.type
        if kind is LogicalType.FLOAT or (kind is LogicalType.INTEGER and na.any()):
            out[column.name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        elif kind is LogicalType.INTEGER:
            out[column.name] = series.to_numpy(dtype=np.int64)
        elif kind is LogicalType.BOOLEAN and not na.any():
            out[column.name] = series.to_numpy(dtype=bool)
        elif kind is LogicalType.DATETIME:
            out[column.name] = series.to_numpy(dtype="datetime64[ns]")
        else:
            values = series.to_numpy(dtype=object)
            values[na] = None
            if kind is not LogicalType.BOOLEAN:
                values[~na] = [str(v) for v in values[~na]]
            out[column.name] = values
    return out


def onnx_feeds(
    columns: Mapping[str, np.ndarray], input_types: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Each column as the ``[n, 1]`` array its graph input expects.

    Args:
        columns: Column name → array of the types a serving ``Batch`` holds.
        input_types: Graph input name → onnxruntime type (``tensor(double)``, …).

    Raises:
        InvalidArgumentError: A column is missing, or an ``int64`` input has a missing value.
    """
    feeds: dict[str, np.ndarray] = {}
    for name, onnx_type in input_types.items():
        if name not in columns:
            raise InvalidArgumentError(f"the ONNX model needs column {name!r}, which is missing")
        values = columns[name]
        if onnx_type == "tensor(string)":
            feeds[name] = _strings(values).reshape(-1, 1)
            continue
        dtype = _ONNX_DTYPES.get(onnx_type)
        if dtype is None:
            raise InvalidArgumentError(f"ONNX input {name!r} has unsupported type {onnx_type}")
        if values.dtype == object:  # booleans with a missing value
            values = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if dtype is np.int64 and values.dtype.kind == "f" and np.isnan(values).any():
            raise InvalidArgumentError(
                f"column {name!r} has a missing value, which its int64 ONNX input cannot take",
                hint="re-convert the model with a signature marking the column nullable",
            )
        feeds[name] = np.ascontiguousarray(values, dtype=dtype).reshape(-1, 1)
    return feeds


def _strings(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "U":
        return values.astype(object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = MISSING_CATEGORY if v is None or v != v else str(v)
    return out


def convert_pipeline(
    model: Any,
    signature: TableSchema,
    validation: pd.DataFrame,
    *,
    atol: float = 1e-4,
) -> OnnxConversion:
    """Convert ``model`` to ONNX and accept it only if it predicts what ``model`` does.

    Every row of ``validation`` is scored by ``model`` (on the frame a serving batch would
    build, missing categories as ``None``) and by the ONNX graph (fed by
    :func:`onnx_feeds`, as the serving scorer feeds it). The conversion is accepted when
    every label is identical and every probability is within ``atol``. Several input
    typings are tried (``double`` numbers first, then ``float``); the first accepted wins.

    Never raises for a model that cannot be converted: that is ``ok=False`` with the reason.

    Args:
        model: A fitted estimator or pipeline with ``predict``.
        signature: The model's input columns (its registered signature).
        validation: Rows with the signature's columns (others are ignored); include rows
            with missing values if the served data can have them.
        atol: Largest accepted absolute difference of a probability.

    Returns:
        The outcome; ``onnx_bytes`` is set only when ``ok``.
    """
    if not onnx_available():
        return OnnxConversion(
            False, None, f"skl2onnx or onnxruntime missing: {_INSTALL_HINT}", 0, _NAN
        )
    if len(validation) == 0:
        return OnnxConversion(False, None, "no validation rows to compare predictions on", 0, _NAN)
    try:
        columns = batch_columns(validation, signature)
        unsupported = [c.name for c in signature if c.type is LogicalType.DATETIME]
        if unsupported:
            return _refused(f"datetime columns {unsupported} have no ONNX input type")
        expected = _score_original(model, signature, columns)
    except Exception as e:  # any model: its own predict may fail on these rows
        return _refused(f"the model cannot score the validation rows: {_describe(e)}")
    if hasattr(model, "classes_") and not _is_classifier(model):
        # e.g. LinearSVC, RidgeClassifier: the graph's second output would be decision
        # scores, which a scorer would answer as probabilities.
        return _refused(
            f"{type(model).__name__} is a classifier without predict_proba: "
            "the pipeline serves it as it is"
        )
    failures: list[str] = []
    best: OnnxConversion | None = None
    for numbers, integers in _TYPINGS:
        try:
            onnx_bytes = _convert(model, signature, numbers, integers)
            session = new_session(onnx_bytes)
            got = _score_onnx(session, columns)
        except Exception as e:  # skl2onnx and onnxruntime raise many kinds
            failures.append(_describe(e))
            continue
        used = ", ".join(sorted({i.type[7:-1] for i in session.get_inputs()}))
        try:
            outcome = _compare(expected, got, onnx_bytes, atol, f"{used} inputs", len(validation))
        except Exception as e:  # predictions that cannot even be compared
            failures.append(f"the predictions cannot be compared: {_describe(e)}")
            continue
        if outcome.ok:
            return outcome
        if best is None or outcome.max_abs_diff < best.max_abs_diff:
            best = outcome
    if best is not None:
        return best
    return _refused("skl2onnx cannot convert it: " + "; ".join(dict.fromkeys(failures)))


_NAN = float("nan")
#: Input typings tried in turn: the number type, and whether integers that cannot be missing
#: are ``int64`` (skl2onnx's integer imputer refuses a non-integer mean).
_TYPINGS = (("double", True), ("double", False), ("float", True), ("float", False))


def _refused(reason: str, rows: int = 0, diff: float = _NAN) -> OnnxConversion:
    if len(reason) > 2 * _MAX_REASON:
        reason = reason[: 2 * _MAX_REASON] + "…"
    return OnnxConversion(False, None, reason, rows, diff)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if len(text) > _MAX_REASON:
        text = text[:_MAX_REASON] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True, slots=True)
class _Predictions:
    labels: np.ndarray
    probabilities: np.ndarray | None


def _takes_columns(model: Any) -> bool:
    """Whether the model's first step selects named columns (a ``ColumnTransformer``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[0][1]
    return isinstance(model, ColumnTransformer)


def _is_classifier(model: Any) -> bool:
    return callable(getattr(model, "predict_proba", None)) and hasattr(model, "classes_")


def _score_original(
    model: Any, signature: TableSchema, columns: Mapping[str, np.ndarray]
) -> _Predictions:
    import pandas as pd

    if _takes_columns(model):
        x: Any = pd.DataFrame(columns, columns=signature.names, copy=False)
    else:
        x = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in signature.names])
    labels = np.asarray(model.predict(x)).ravel()
    probabilities = None
    if _is_classifier(model):
        probabilities = np.asarray(model.predict_proba(x), dtype=np.float64)
    return _Predictions(labels, probabilities)


def _score_onnx(session: Any, columns: Mapping[str, np.ndarray]) -> _Predictions:
    types = {i.name: i.type for i in session.get_inputs()}
    outputs = session.run(None, onnx_feeds(columns, types))
    labels = np.asarray(outputs[0]).ravel()
    probabilities = np.asarray(outputs[1], dtype=np.float64) if len(outputs) > 1 else None
    return _Predictions(labels, probabilities)


def _compare(
    expected: _Predictions,
    got: _Predictions,
    onnx_bytes: bytes,
    atol: float,
    numbers: str,
    rows: int,
) -> OnnxConversion:
    if expected.probabilities is None:  # a regressor: values within atol
        a = expected.labels.astype(np.float64)
        b = got.labels.astype(np.float64)
        diff = float(np.max(np.abs(a - b))) if rows else 0.0
        if diff <= atol:
            return OnnxConversion(
                True,
                onnx_bytes,
                f"{rows:,} predictions within {atol:g} ({numbers}), max difference {diff:.3g}",
                rows,
                diff,
            )
        return _refused(
            f"predictions differ by up to {diff:.3g}, more than atol {atol:g} ({numbers})",
            rows,
            diff,
        )
    if got.probabilities is None or got.probabilities.shape != expected.probabilities.shape:
        shape = None if got.probabilities is None else got.probabilities.shape
        return _refused(
            f"the ONNX model gives probabilities of shape {shape}, "
            f"not {expected.probabilities.shape}",
            rows,
        )
    same = _same_labels(expected.labels, got.labels)
    differ = int(rows - same.sum())
    diff = float(np.max(np.abs(expected.probabilities - got.probabilities)))
    if differ == 0 and diff <= atol:
        return OnnxConversion(
            True,
            onnx_bytes,
            f"{rows:,} labels identical, probabilities within {atol:g} "
            f"(max difference {diff:.3g}; {numbers})",
            rows,
            diff,
        )
    return _refused(
        f"{differ:,} of {rows:,} labels differ, max probability difference {diff:.3g} "
        f"(atol {atol:g}; {numbers})",
        rows,
        diff,
    )


def _same_labels(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    if expected.dtype.kind in "OUS" or got.dtype.kind in "OUS":
        return np.array([str(a) == str(b) for a, b in zip(expected, got, strict=True)], dtype=bool)
    return np.asarray(expected == got, dtype=bool)


def _convert(model: Any, signature: TableSchema, numbers: str, integers: bool) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    number_type = DoubleTensorType if numbers == "double" else FloatTensorType
    options: dict[int, dict[str, Any]] = {}
    for step in _estimators(model):
        if _is_classifier(step):
            options[id(step)] = {"zipmap": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not _takes_columns(model):
            if not all(c.type.is_numeric for c in signature):
                raise InvalidArgumentError("a model fitted on a matrix needs numeric columns only")
            matrix = [("X", number_type([None, len(signature)]))]
            onx = convert_sklearn(
                model, initial_types=matrix, options=options, custom_conversion_functions=_custom()
            )
            return _with_column_inputs(onx, signature.names, numbers).SerializeToString()  # type: ignore[no-any-return]
        types: list[tuple[str, Any]] = []
        for column in signature:
            if column.type in (LogicalType.CATEGORY, LogicalType.STRING):
                types.append((column.name, StringTensorType([None, 1])))
            elif integers and column.type is LogicalType.INTEGER and not column.nullable:
                types.append((column.name, Int64TensorType([None, 1])))
            else:
                types.append((column.name, number_type([None, 1])))
        onx = convert_sklearn(
            model, initial_types=types, options=options, custom_conversion_functions=_custom()
        )
    return onx.SerializeToString()  # type: ignore[no-any-return]


def _estimators(model: Any) -> list[Any]:
    """The model and every nested step (pipelines, column transformers)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    found = [model]
    if isinstance(model, Pipeline):
        for _, step in model.steps:
            found.extend(_estimators(step))
    elif isinstance(model, ColumnTransformer):
        for _, step, _ in getattr(model, "transformers_", ()):
            if not isinstance(step, str):
                found.extend(_estimators(step))
    return found


def _with_column_inputs(onx: Any, names: Sequence[str], numbers: str) -> Any:
    """Replace the graph's one matrix input ``X`` by one ``[None, 1]`` input per column."""
    from onnx import TensorProto, helper

    elem = TensorProto.DOUBLE if numbers == "double" else TensorProto.FLOAT
    graph = onx.graph
    (matrix,) = [i for i in graph.input if i.name == "X"]
    graph.input.remove(matrix)
    inputs = [helper.make_tensor_value_info(n, elem, [None, 1]) for n in names]
    graph.input.extend(inputs)
    concat = helper.make_node("Concat", list(names), ["X"], axis=1, name="closedloop_columns")
    graph.node.insert(0, concat)
    return onx


def _custom() -> dict[Any, Callable[..., None]]:
    """Converters wrapped for closedloop's pipelines (passed per call; nothing global)."""
    from skl2onnx.common._registration import get_converter
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer

    return {
        SimpleImputer: _string_nan_imputer(get_converter("SklearnSimpleImputer")),
        HistGradientBoostingClassifier: _int_attributes(
            get_converter("SklearnHistGradientBoostingClassifier")
        ),
        HistGradientBoostingRegressor: _int_attributes(
            get_converter("SklearnHistGradientBoostingRegressor")
        ),
    }


def _string_nan_imputer(convert: Callable[..., None]) -> Callable[..., None]:
    """A categorical ``SimpleImputer`` whose missing value is NaN, on string inputs.

    skl2onnx converts string imputers only when ``missing_values`` is a string; the feature
    spec's imputer uses NaN (scikit-learn's default, which also matches ``None``). The graph
    is built as for the string :data:`MISSING_CATEGORY`, which :func:`onnx_feeds` feeds for
    ``None`` and NaN.
    """
    from skl2onnx.common.data_types import StringTensorType

    def converter(scope: Any, operator: Any, container: Any) -> None:
        raw = operator.raw_operator
        missing = raw.missing_values
        if isinstance(operator.inputs[0].type, StringTensorType) and not isinstance(missing, str):
            if not (missing is None or (isinstance(missing, float) and missing != missing)):
                raise NotImplementedError(
                    f"a string imputer with missing_values={missing!r} is not supported"
                )
            patched = copy.copy(raw)
            patched.missing_values = MISSING_CATEGORY
            operator.raw_operator = patched
            try:
                convert(scope, operator, container)
            finally:
                operator.raw_operator = raw
        else:
            convert(scope, operator, container)

    return converter


def _int_attributes(convert: Callable[..., None]) -> Callable[..., None]:
    """Tree converters that put Python ``bool`` values in integer lists, which onnx refuses."""

    def converter(scope: Any, operator: Any, container: Any) -> None:
        convert(scope, operator, _IntListContainer(container))

    return converter


class _IntListContainer:
    """A converter container whose ``add_node`` turns booleans in list attributes into ints."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add_node(self, *args: Any, **attrs: Any) -> Any:
        for key, value in attrs.items():
            if isinstance(value, list) and any(isinstance(v, bool | np.bool_) for v in value):
                attrs[key] = [int(v) if isinstance(v, bool | np.bool_) else v for v in value]
        return self._inner.add_node(*args, **attrs)
