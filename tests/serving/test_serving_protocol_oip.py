"""Open Inference Protocol v2, checked with tritonclient's own request builder and parser."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pytest
import tritonclient.http as triton

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving._batch import Scored
from closedloop.serving._protocols import (
    Limits,
    ProtocolError,
    decode_v2,
    encode_v2,
    model_metadata_v2,
    v2_error_body,
)

MIXED = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False),
        ColumnSchema("hours", LogicalType.FLOAT),
        ColumnSchema("sex", LogicalType.CATEGORY),
    )
)
NUMERIC = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False),
        ColumnSchema("hours", LogicalType.FLOAT),
    )
)


def _tensor(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=False)
    return tensor


def _body(*inputs: triton.InferInput, outputs: list[str] | None = None) -> bytes:
    requested = (
        None
        if outputs is None
        else [triton.InferRequestedOutput(o, binary_data=False) for o in outputs]
    )
    body, header = triton.InferenceServerClient.generate_request_body(
        list(inputs), outputs=requested, request_id="req-1"
    )
    assert header is None  # all JSON
    return bytes(body)


def test_one_tensor_per_column_from_tritonclient() -> None:
    body = _body(
        _tensor("age", np.array([30, 40], dtype=np.int64), "INT64"),
        _tensor("hours", np.array([[1.5], [2.0]]), "FP64"),
        _tensor("sex", np.array(["F", "M"], dtype=object), "BYTES"),
        outputs=["predict"],
    )
    request = decode_v2(body, MIXED, Limits())
    assert request.id == "req-1"
    assert request.outputs == ["predict"]
    columns = request.batch.columns
    assert columns["age"].dtype == np.int64
    assert columns["age"].tolist() == [30, 40]
    assert columns["hours"].tolist() == [1.5, 2.0]
    assert columns["sex"].tolist() == ["F", "M"]


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "INT64", "INT32"])
def test_one_2d_tensor_for_a_numeric_signature(datatype: str) -> None:
    dtype = triton.triton_to_np_dtype(datatype)
    array = np.array([[30, 1.5], [40, 2.5]]).astype(dtype)
    request = decode_v2(_body(_tensor("input-0", array, datatype)), NUMERIC, Limits())
    assert request.batch.columns["age"].dtype == np.int64
    assert request.batch.columns["age"].tolist() == [30, 40]
    assert request.batch.columns["hours"].tolist() == array[:, 1].astype(float).tolist()
    assert request.parameters == {"binary_data_output": True}


def test_nested_and_flat_data_are_the_same() -> None:
    head = b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": '
    flat = head + b"[30, 1.5, 40, 2.5]}]}"
    nested = head + b"[[30, 1.5], [40, 2.5]]}]}"
    a, b = decode_v2(flat, NUMERIC, Limits()).batch, decode_v2(nested, NUMERIC, Limits()).batch
    assert {k: v.tolist() for k, v in a.columns.items()} == {
        k: v.tolist() for k, v in b.columns.items()
    }


def _refused(body: dict[str, object], signature: TableSchema = MIXED) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_v2(json.dumps(body).encode(), signature, Limits())
    return info.value


def _input(name: str, shape: list[int], datatype: str, data: list[object]) -> dict[str, object]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_clear_errors() -> None:
    age = _input("age", [2], "INT64", [1, 2])
    shape = _refused({"inputs": [_input("age", [3], "INT64", [1, 2])]})
    assert shape.status == 400
    assert "shape [3] holds 3 values, data has 2" in shape.message
    datatype = _refused({"inputs": [_input("age", [2], "FP64", [1.0, 2.0])]})
    assert "INT" in datatype.message
    assert datatype.detail[0]["loc"] == [
        "body",
        "inputs",
        0,
        "datatype",
    ]
    assert "unknown datatype" in _refused({"inputs": [_input("age", [2], "FP128", [1, 2])]}).message
    unknown = _refused({"inputs": [age, _input("colour", [2], "BYTES", ["a", "b"])]})
    assert "unknown input 'colour'" in unknown.message
    missing = _refused({"inputs": [_input("hours", [1], "FP64", [1.0])]})
    assert "missing input 'age'" in missing.message
    value = _refused({"inputs": [_input("age", [2], "INT64", [1, "x"])]})
    assert value.status == 422
    assert value.detail[0]["loc"] == ["body", "inputs", 0, "data", 1]
    fraction = _refused({"inputs": [_input("m", [1, 2], "FP64", [30.5, 1.0])]}, NUMERIC)
    assert fraction.detail[0]["loc"] == ["body", "inputs", 0, "data", 0, "age"]
    wide = _refused({"inputs": [_input("m", [1, 3], "FP64", [1.0, 2.0, 3.0])]}, NUMERIC)
    assert "takes 2 columns" in wide.message
    binary = _refused({"inputs": [{**age, "parameters": {"binary_data_size": 16}}]})
    assert "binary" in binary.message
    outputs = _refused({"inputs": [age], "outputs": [{"name": "nope"}]}, NUMERIC)
    assert outputs.status == 400
    assert "unknown output 'nope'" in outputs.message
    assert _refused({"inputs": "x"}).status == 400


def test_encode_v2_is_read_by_tritonclient() -> None:
    scored = Scored(
        np.array(["no", "yes", "no"], dtype=object),
        np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]),
        ["no", "yes"],
        "m/3",
    )
    body = encode_v2(scored, model_name="m", model_version="3", request_id="req-1", outputs=None)
    result = triton.InferResult.from_response_body(body)
    assert result.as_numpy("predict").tolist() == ["no", "yes", "no"]
    assert result.as_numpy("predict_proba").tolist() == scored.probabilities.tolist()
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == (
        "m",
        "3",
        "req-1",
    )
    ints = Scored(np.array([0, 1]), None, [], "m/3")
    only = encode_v2(ints, model_name="m", model_version="3", request_id=None, outputs=["predict"])
    parsed = triton.InferResult.from_response_body(only)
    assert parsed.as_numpy("predict").dtype == np.int64
    assert parsed.get_output("predict")["datatype"] == "INT64"
    assert parsed.get_output("predict_proba") is None
    floats = msgspec.json.decode(
        encode_v2(
            Scored(np.array([1.5]), None, [], "r/1"),
            model_name="r",
            model_version="1",
            request_id=None,
            outputs=None,
        )
    )
    assert floats["outputs"] == [
        {"name": "predict", "shape": [1], "datatype": "FP64", "data": [1.5]}
    ]
    with pytest.raises(ProtocolError):
        encode_v2(ints, model_name="m", model_version="3", request_id=None, outputs=["scores"])


def test_metadata_and_errors() -> None:
    meta = model_metadata_v2(MIXED, name="m", versions=["3"], classes=["no", "yes"])
    assert meta["inputs"] == [
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "hours", "datatype": "FP64", "shape": [-1]},
        {"name": "sex", "datatype": "BYTES", "shape": [-1]},
    ]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["outputs"][1]["shape"] == [-1, 2]
    assert json.loads(v2_error_body('bad "x"')) == {"error": 'bad "x"'}


def test_a_large_tensor_is_read_from_a_buffer_and_still_validated() -> None:
    rng = np.random.default_rng(0)
    matrix = np.column_stack([rng.integers(18, 90, 5000), rng.normal(40, 10, 5000)])
    body = _body(_tensor("x", matrix, "FP64"))
    assert len(body) > 64 * 1024  # the simdjson buffer path
    batch = decode_v2(body, NUMERIC, Limits()).batch
    np.testing.assert_array_equal(batch.columns["age"], matrix[:, 0].astype(np.int64))
    np.testing.assert_array_equal(batch.columns["hours"], matrix[:, 1])
    doc = json.loads(body)
    doc["inputs"][0]["data"][6] = (
        None  # age (row 3, column 0) is not nullable: the msgspec path names it
    )
    with pytest.raises(ProtocolError) as caught:
        decode_v2(json.dumps(doc).encode(), NUMERIC, Limits())
    assert caught.value.status in (400, 422)
    doc["inputs"][0]["data"][6] = 40.5  # a fraction for an integer column is refused too
    with pytest.raises(ProtocolError):
        decode_v2(json.dumps(doc).encode(), NUMERIC, Limits())
