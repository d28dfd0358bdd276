"""A large OIP v2 request read in one simdjson parse (``_protocols._simd.read_one_matrix``).

The one-parse path must give exactly what the msgspec path gives, and give way to it for
anything it does not expect, so errors are still named the same way.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import numpy as np
import pytest

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving._protocols import Limits, ProtocolError, _simd, decode_v2, oip

FLOATS = TableSchema(tuple(ColumnSchema(f"f{i}", LogicalType.FLOAT) for i in range(4)))
ROWS = 2_000


def _doc(**extra: Any) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(ROWS, 4))
    tensor = {"name": "x", "shape": [ROWS, 4], "datatype": "FP64", "data": matrix.tolist()}
    return {"inputs": [tensor], "id": "r-1", **extra}


def _msgspec_only(body: bytes, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(oip, "read_one_matrix", lambda _: None)
        return decode_v2(body, FLOATS, Limits())


def _same(a: Any, b: Any) -> None:
    assert (a.id, a.parameters, a.outputs) == (b.id, b.parameters, b.outputs)
    assert a.batch.n_rows == b.batch.n_rows
    for c in FLOATS.names:
        np.testing.assert_array_equal(a.batch.columns[c], b.batch.columns[c])


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"parameters": {"trace": True, "nested": {"k": [1, 2]}}},
        {"outputs": [{"name": "predict_proba"}]},
        {"outputs": [{"name": "predict", "parameters": {"binary_data": False}}]},
    ],
)
def test_one_parse_equals_the_msgspec_path(
    extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps(_doc(**extra)).encode()
    assert len(body) >= _simd.BUFFER_BYTES
    assert _simd.read_one_matrix(body) is not None  # the one-parse path is taken
    _same(decode_v2(body, FLOATS, Limits()), _msgspec_only(body, monkeypatch))


def test_flat_data_is_read_too(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc()
    doc["inputs"][0]["data"] = np.asarray(doc["inputs"][0]["data"]).ravel().tolist()
    body = json.dumps(doc).encode()
    assert _simd.read_one_matrix(body) is not None
    _same(decode_v2(body, FLOATS, Limits()), _msgspec_only(body, monkeypatch))


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("inputs", 0, "parameters"), {"binary_data_size": 10}),  # tensor parameters
        (("inputs", 0, "shape"), [ROWS, 4.0]),  # a float dimension
        (("inputs", 0, "shape"), [ROWS, True]),  # a boolean dimension
        (("inputs", 0, "name"), 7),
        (("id",), 12),
        (("parameters",), [1, 2]),
        (("outputs",), [{"name": 3}]),
        (("outputs",), {"name": "predict"}),
        (("inputs", 0, "data", 5, 1), None),  # not a number
        (("inputs", 0, "data", 5, 1), "1.5"),
        (("extra_key",), 1),
    ],
)
def test_anything_unexpected_goes_to_the_msgspec_path(path: tuple[Any, ...], value: Any) -> None:
    body = _with(_doc(), path, value)
    assert _simd.read_one_matrix(body) is None


def test_a_repeated_key_goes_to_the_msgspec_path() -> None:
    body = json.dumps(_doc()).encode()
    repeated = body[:-1] + b', "id": "r-2"}'
    assert _simd.read_one_matrix(repeated) is None
    assert decode_v2(repeated, FLOATS, Limits()).id == msgspec.json.decode(repeated)["id"]


def test_errors_are_named_as_before() -> None:
    # a wrong column count, an unknown output, a datatype: one-parse reads them, the
    # checks after it refuse them with the msgspec path's words
    wide = _with(_doc(), ("inputs", 0, "shape"), [ROWS // 2, 8])
    with pytest.raises(ProtocolError) as caught:
        decode_v2(wide, FLOATS, Limits())
    assert caught.value.status in (400, 422)
    unknown = json.dumps(_doc(outputs=[{"name": "scores"}])).encode()
    with pytest.raises(ProtocolError, match="unknown output 'scores'"):
        decode_v2(unknown, FLOATS, Limits())
    text = _with(_doc(), ("inputs", 0, "datatype"), "BYTES")
    with pytest.raises(ProtocolError):
        decode_v2(text, FLOATS, Limits())
    too_many = json.dumps(_doc()).encode()
    with pytest.raises(ProtocolError):
        decode_v2(too_many, FLOATS, Limits(max_records=ROWS - 1))


def test_an_integer_column_still_refuses_fractions() -> None:
    schema = TableSchema((ColumnSchema("a", LogicalType.INTEGER), *FLOATS.columns[1:]))
    doc = _doc()
    doc["inputs"][0]["data"] = [
        [float(i), *row[1:]] for i, row in enumerate(doc["inputs"][0]["data"])
    ]
    ok = decode_v2(json.dumps(doc).encode(), schema, Limits())
    assert ok.batch.columns["a"].dtype == np.int64
    doc["inputs"][0]["data"][3][0] = 2.5
    with pytest.raises(ProtocolError):
        decode_v2(json.dumps(doc).encode(), schema, Limits())
