"""Open Inference Protocol v2 (KServe, Triton, MLServer): ``POST /v2/models/{name}/infer``.

Two request forms (JSON tensors only; the binary tensor extension is refused):

- one input tensor per signature column, named after it, shape ``[n]`` or ``[n, 1]``, its
  datatype matching the column (``FP*`` → float, ``INT*``/``UINT*`` → integer or float,
  ``BOOL`` → boolean, ``BYTES`` → category, string or datetime);
- one 2-D tensor ``[n, n_columns]`` of any name, columns in signature order, when every
  column is numeric (what numpy clients and MLServer's sklearn runtime send).

``data`` is row-major, flat or nested. The answer has ``predict`` (labels, shape ``[n]``)
and, for classifiers, ``predict_proba`` (FP64, ``[n, k]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from closedloop.core import LogicalType, TableSchema
from closedloop.serving._batch import Batch, MatrixColumns, Scored
from closedloop.serving._protocols._simd import (
    BUFFER_BYTES,
    numbers,
    read_one_matrix,
    release_parser,
)
from closedloop.serving._protocols._validate import (
    ErrorList,
    Fallback,
    Limits,
    Loc,
    Plan,
    ProtocolError,
    load_json,
    plan_for,
)

__all__ = [
    "V2Request",
    "decode_v2",
    "encode_v2",
    "model_metadata_v2",
    "release_parser",
    "v2_error_body",
]

_FLOATS = ("FP16", "FP32", "FP64")
_INTS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
DATATYPES = frozenset((*_FLOATS, *_INTS, "BOOL", "BYTES"))
_ACCEPTS: dict[LogicalType, frozenset[str]] = {
    LogicalType.FLOAT: frozenset((*_FLOATS, *_INTS)),
    LogicalType.INTEGER: frozenset(_INTS),
    LogicalType.BOOLEAN: frozenset(("BOOL",)),
    LogicalType.CATEGORY: frozenset(("BYTES",)),
    LogicalType.STRING: frozenset(("BYTES",)),
    LogicalType.DATETIME: frozenset(("BYTES",)),
}
_META_TYPE = {
    LogicalType.FLOAT: "FP64",
    LogicalType.INTEGER: "INT64",
    LogicalType.BOOLEAN: "BOOL",
    LogicalType.CATEGORY: "BYTES",
    LogicalType.STRING: "BYTES",
    LogicalType.DATETIME: "BYTES",
}
OUTPUTS = ("predict", "predict_proba")
_HINT = (
    "send one tensor per column (name = column, shape [n]) or, for numeric signatures, one "
    "[n, n_columns] tensor; the inputs are at GET /v2/models/{name}"
)


@dataclass(frozen=True, slots=True)
class V2Request:
    """A decoded inference request.

    Attributes:
        batch: The validated rows.
        id: The request's ``id`` (echoed in the answer).
        parameters: The request's ``parameters``.
        outputs: Names of the requested outputs (``None``: all).
    """

    batch: Batch
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] | None = None


class _Output(msgspec.Struct):
    name: str
    parameters: dict[str, Any] | None = None


class _Tensor(msgspec.Struct):
    name: str
    shape: list[int]
    datatype: str
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    parameters: dict[str, Any] | None = None


class _Body(msgspec.Struct):
    inputs: list[_Tensor]
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[_Output] | None = None


class _SlowTensor(msgspec.Struct):
    name: str
    shape: list[int]
    datatype: str
    data: Any = msgspec.UNSET
    parameters: dict[str, Any] | None = None


class _SlowBody(msgspec.Struct):
    inputs: list[_SlowTensor]
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[_Output] | None = None


_ENVELOPE = msgspec.json.Decoder(_Body)
_FLAT_FLOATS = msgspec.json.Decoder(list[float])
_NESTED_FLOATS = msgspec.json.Decoder(list[list[float]])


def _element_decoder(plan: Plan, name: str, nested: bool) -> msgspec.json.Decoder[Any]:
    key = ("v2", name, nested)
    decoder: msgspec.json.Decoder[Any] | None = plan.cache.get(key)
    if decoder is None:
        kind = plan.by_name[name].fast
        decoder = msgspec.json.Decoder(list[list[kind]] if nested else list[kind])  # type: ignore[valid-type]
        plan.cache[key] = decoder
    return decoder


def _nested(raw: bytes) -> bool:
    return raw.lstrip()[1:].lstrip()[:1] == b"["


def _count(shape: list[int]) -> int:
    return math.prod(shape) if shape else 1


def decode_v2(body: bytes, signature: TableSchema, limits: Limits) -> V2Request:
    """Decode and validate an inference request.

    Args:
        body: The request bytes (JSON).
        signature: The model's input schema.
        limits: What a request may carry.

    Returns:
        The batch, the request's id, parameters and requested outputs.

    Raises:
        ProtocolError: 400 naming the tensor (unknown or missing input, datatype, shape
            against data length, binary data) or 422 naming the invalid value.
    """
    plan = plan_for(signature, limits)
    if len(body) >= BUFFER_BYTES and plan.numeric:
        one = read_one_matrix(body)  # a single parse of the whole body (see _simd)
        if one is not None and one.name not in plan.by_name:
            try:
                batch = _matrix_batch(plan, one.rows, one.columns, one.datatype, one.values)
            except Fallback:
                pass  # the msgspec path decides, and names the problem
            else:
                if one.outputs is not None:
                    _check_outputs(one.outputs)
                return V2Request(batch, one.id, one.parameters, one.outputs)
    message: _Body | _SlowBody
    try:
        message = _ENVELOPE.decode(body)
        batch = _fast(plan, message)
    except (msgspec.DecodeError, Fallback):
        message = _slow_message(body)
        batch = _slow(plan, message)
    outputs = None if message.outputs is None else [o.name for o in message.outputs]
    if outputs is not None:
        _check_outputs(outputs)
    return V2Request(batch, message.id, dict(message.parameters or {}), outputs)


def _check_outputs(outputs: list[str]) -> None:
    for i, name in enumerate(outputs):
        if name not in OUTPUTS:
            raise ProtocolError.single(
                ["body", "outputs", i, "name"],
                f"unknown output {name!r}; this model has {', '.join(OUTPUTS)}",
                "unknown_output",
                value=name,
            )


def _fast(plan: Plan, message: _Body) -> Batch:
    inputs = message.inputs
    if any(t.data is msgspec.UNSET or t.parameters for t in inputs):
        raise Fallback  # the slow path names the problem (or reads harmless parameters)
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].name not in plan.by_name:
        return _fast_matrix(plan, inputs[0])
    lists: dict[str, list[Any]] = {}
    n = -1
    for t in inputs:
        column = plan.by_name.get(t.name)
        if column is None or t.datatype not in _ACCEPTS[column.schema.type] or t.name in lists:
            raise Fallback
        if not (len(t.shape) == 1 or (len(t.shape) == 2 and t.shape[1] == 1)):
            raise Fallback
        assert isinstance(t.data, msgspec.Raw)
        raw = bytes(t.data)
        nested = _nested(raw)
        values = _element_decoder(plan, t.name, nested).decode(raw)
        if nested:
            if any(len(v) != 1 for v in values):
                raise Fallback
            values = [v[0] for v in values]
        if len(values) != t.shape[0] or (n >= 0 and len(values) != n):
            raise Fallback
        n = len(values)
        lists[t.name] = values
    if not 1 <= n <= plan.limits.max_records:
        raise Fallback
    return plan.batch_from_lists(lists, n)


def _fast_matrix(plan: Plan, t: _Tensor) -> Batch:
    n, k = t.shape
    _check_matrix(plan, n, k, t.datatype)
    assert isinstance(t.data, msgspec.Raw)
    raw = bytes(t.data)
    flat_array = numbers(raw) if len(raw) >= BUFFER_BYTES else None
    if flat_array is not None:
        return _flat_batch(plan, n, k, flat_array)
    if _nested(raw):
        rows = _NESTED_FLOATS.decode(raw)
        if len(rows) != n or any(len(r) != k for r in rows):
            raise Fallback
        matrix = np.array(rows, dtype=np.float64)
    else:
        flat = _FLAT_FLOATS.decode(raw)
        if len(flat) != n * k:
            raise Fallback
        matrix = np.fromiter(flat, np.float64, n * k).reshape(n, k)
    return _from_matrix(plan, matrix, n)


def _matrix_batch(plan: Plan, n: int, k: int, datatype: str, flat: np.ndarray) -> Batch:
    """The batch of an ``[n, k]`` tensor whose numbers are ``flat`` (row-major).

    Raises:
        Fallback: The shape or datatype does not fit the signature, or the count is off.
    """
    _check_matrix(plan, n, k, datatype)
    return _flat_batch(plan, n, k, flat)


def _check_matrix(plan: Plan, n: int, k: int, datatype: str) -> None:
    """Raise :class:`Fallback` unless an ``[n, k]`` tensor of ``datatype`` fits the fast path."""
    if not plan.numeric or k != len(plan.columns) or not 1 <= n <= plan.limits.max_records:
        raise Fallback
    if datatype not in _FLOATS and datatype not in _INTS:
        raise Fallback


def _flat_batch(plan: Plan, n: int, k: int, flat: np.ndarray) -> Batch:
    if flat.size != n * k:
        raise Fallback
    return _from_matrix(plan, flat.reshape(n, k), n)


def _from_matrix(plan: Plan, matrix: np.ndarray, n: int) -> Batch:
    if plan.all_float:
        # The matrix is the batch: the range check, the scorer and the log share it, and
        # its columns are views made when asked for.
        matrix = np.ascontiguousarray(matrix)
        return Batch(
            plan.signature, MatrixColumns(plan.positions, matrix), n, numeric_matrix=matrix
        )
    by_column = np.ascontiguousarray(matrix.T)
    columns: dict[str, np.ndarray] = {}
    for c, values in zip(plan.columns, by_column, strict=True):
        if c.schema.type is LogicalType.INTEGER:
            # Integral and within int64 (2**63 is the first float outside it).
            if not (np.all(values == np.trunc(values)) and np.all(np.abs(values) < 2.0**63)):
                raise Fallback
            columns[c.name] = values.astype(np.int64)
        else:
            columns[c.name] = values
    return Batch(plan.signature, columns, n)


def _slow_message(body: bytes) -> _SlowBody:
    data = load_json(body)
    try:
        return msgspec.convert(data, _SlowBody)
    except msgspec.ValidationError as e:
        raise ProtocolError.single(
            ["body"], f"not an inference request: {e}", "body_shape", hint=_HINT
        ) from None


def _flatten(data: Any, depth: int) -> list[Any] | None:
    if not isinstance(data, list):
        return None
    if depth <= 1 or not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    for v in data:
        inner = _flatten(v, depth - 1) if isinstance(v, list) else None
        if inner is None:
            return None
        out.extend(inner)
    return out


def _slow(plan: Plan, message: _SlowBody) -> Batch:
    errors = ErrorList()
    tensors: list[tuple[int, _SlowTensor, list[Any]]] = []
    for i, t in enumerate(message.inputs):
        at = ["body", "inputs", i]
        if t.parameters and "binary_data_size" in t.parameters:
            errors.add([*at, "parameters"], "binary tensor data is not supported", "binary_data")
            continue
        if t.datatype not in DATATYPES:
            errors.add(
                [*at, "datatype"], f"unknown datatype {t.datatype!r}", "datatype", t.datatype
            )
            continue
        if any(d < 0 for d in t.shape):
            errors.add([*at, "shape"], "dimensions must not be negative", "shape", t.shape)
            continue
        flat = _flatten(t.data, len(t.shape))
        if flat is None:
            errors.add([*at, "data"], "data must be a (nested) list", "data_type", t.data)
            continue
        if len(flat) != _count(t.shape):
            errors.add(
                [*at, "data"],
                f"shape {t.shape} holds {_count(t.shape)} values, data has {len(flat)}",
                "shape_mismatch",
            )
            continue
        tensors.append((i, t, flat))
    errors.raise_if_any(status=400, hint=_HINT)
    one = message.inputs[0] if len(message.inputs) == 1 else None
    if one is not None and len(one.shape) == 2 and one.name not in plan.by_name:
        return _slow_matrix(plan, tensors[0])
    columns: dict[str, list[Any]] = {}
    where: dict[str, int] = {}
    for i, t, flat in tensors:
        at = ["body", "inputs", i]
        column = plan.by_name.get(t.name)
        if column is None:
            errors.add([*at, "name"], f"unknown input {t.name!r}", "unknown_input", t.name)
        elif t.name in columns:
            errors.add([*at, "name"], f"input {t.name!r} given twice", "duplicate_input")
        elif not (len(t.shape) == 1 or (len(t.shape) == 2 and t.shape[1] == 1)):
            errors.add([*at, "shape"], f"shape must be [n] or [n, 1], got {t.shape}", "shape")
        elif t.datatype not in _ACCEPTS[column.schema.type]:
            errors.add(
                [*at, "datatype"],
                f"{column.schema.type.value} column {t.name!r} takes "
                f"{' or '.join(sorted(_ACCEPTS[column.schema.type]))}, got {t.datatype}",
                "datatype",
            )
        else:
            columns[t.name] = flat
            where[t.name] = i
    for name in plan.required:
        if name not in columns and not any(t.name == name for _, t, _ in tensors):
            errors.add(["body", "inputs"], f"missing input {name!r}", "missing")
    errors.raise_if_any(status=400, hint=_HINT)
    batch = plan.validate_column_lists(
        columns,
        ["body", "inputs"],
        errors,
        value_loc=lambda name, j: ["body", "inputs", where[name], "data", j],
    )
    errors.raise_if_any(hint=_HINT)
    assert batch is not None
    return batch


def _slow_matrix(plan: Plan, tensor: tuple[int, _SlowTensor, list[Any]]) -> Batch:
    i, t, flat = tensor
    k = t.shape[1]
    at: Loc = ["body", "inputs", i]
    if not plan.numeric:
        raise ProtocolError.single(
            [*at, "name"],
            f"unknown input {t.name!r}: a 2-D tensor is taken only when every column is "
            "numeric; send one tensor per column",
            "unknown_input",
            hint=_HINT,
        )
    if k != len(plan.columns):
        raise ProtocolError.single(
            [*at, "shape"],
            f"shape {t.shape}: the model takes {len(plan.columns)} columns "
            f"({', '.join(plan.names[:10])})",
            "shape",
            hint=_HINT,
        )
    if t.datatype not in _FLOATS and t.datatype not in _INTS:
        raise ProtocolError.single(
            [*at, "datatype"], f"a numeric tensor is FP* or INT*, got {t.datatype}", "datatype"
        )
    columns = {c.name: flat[j::k] for j, c in enumerate(plan.columns)}
    errors = ErrorList()
    batch = plan.validate_column_lists(
        columns,
        ["body", "inputs", i, "data"],
        errors,
        value_loc=lambda name, row: [*at, "data", row, name],
    )
    errors.raise_if_any(hint=_HINT)
    assert batch is not None
    return batch


_ENCODER = msgspec.json.Encoder()


def _labels(labels: np.ndarray) -> tuple[str, list[Any]]:
    values = labels.tolist()
    if labels.dtype.kind in "iu" or (
        labels.dtype.kind == "O" and all(type(v) is int for v in values)
    ):
        return "INT64", values
    if labels.dtype.kind == "b":
        return "BOOL", values
    if labels.dtype.kind == "f":
        return "FP64", values
    if set(map(type, values)) == {str}:  # class names: no call per value
        return "BYTES", values
    return "BYTES", [str(v) for v in values]


def encode_v2(
    scored: Scored,
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: list[str] | None,
) -> bytes:
    """The JSON answer to an inference request.

    Args:
        scored: What the scorer answered.
        model_name: The model's name.
        model_version: Its version.
        request_id: The request's ``id`` (echoed), if it had one.
        outputs: Requested output names (``None``: ``predict`` and, for classifiers,
            ``predict_proba``).

    Returns:
        ``{"model_name", "model_version", "id"?, "outputs": [...]}``.

    Raises:
        ProtocolError: 400, an unknown output, or ``predict_proba`` of a model without
            probabilities.
    """
    wanted = list(OUTPUTS) if outputs is None else outputs
    _check_outputs(wanted)
    n = len(scored.labels)
    tensors: list[dict[str, Any]] = []
    for name in wanted:
        if name == "predict":
            datatype, data = _labels(np.asarray(scored.labels))
            tensors.append({"name": name, "shape": [n], "datatype": datatype, "data": data})
        elif scored.probabilities is not None:
            proba = np.asarray(scored.probabilities, dtype=np.float64)
            tensors.append(
                {
                    "name": name,
                    "shape": list(proba.shape),
                    "datatype": "FP64",
                    "data": proba.ravel().tolist(),
                }
            )
        elif outputs is not None:
            raise ProtocolError.single(
                ["body", "outputs"],
                "predict_proba: this model gives no probabilities",
                "unknown_output",
            )
    answer: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        answer["id"] = request_id
    answer["outputs"] = tensors
    return _ENCODER.encode(answer)


def v2_error_body(message: str) -> bytes:
    """``{"error": message}``, the protocol's error body."""
    return _ENCODER.encode({"error": message})


def model_metadata_v2(
    signature: TableSchema,
    *,
    name: str,
    versions: list[str],
    platform: str = "sklearn",
    classes: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The model metadata answer (``GET /v2/models/{name}``).

    Args:
        signature: The model's input schema: one input per column.
        name: The model's name.
        versions: Its versions.
        platform: What runs it.
        classes: Class labels of a classifier (empty for a regressor).

    Returns:
        ``{"name", "versions", "platform", "inputs", "outputs"}``.
    """
    inputs = [
        {"name": c.name, "datatype": _META_TYPE[c.type], "shape": [-1]} for c in signature.columns
    ]
    label_type = "BYTES"
    if classes and all(str(c).lstrip("-").isdigit() for c in classes):
        label_type = "INT64"
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "datatype": label_type if classes else "FP64", "shape": [-1]}
    ]
    if classes:
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": name,
        "versions": list(versions),
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
    }
