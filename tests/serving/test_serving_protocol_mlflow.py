"""MLflow's scoring protocol, checked with payloads MLflow's own helpers make (mlflow-skinny)."""

from __future__ import annotations

import io
import json
import warnings

import msgspec
import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():  # importing mlflow warns about its own type hints
    warnings.simplefilter("ignore")
    from mlflow.models.utils import convert_input_example_to_serving_input
    from mlflow.pyfunc.scoring_server import infer_and_parse_data, parse_csv_input

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving._batch import Scored
from closedloop.serving._protocols import (
    Limits,
    ProtocolError,
    decode_mlflow,
    encode_mlflow,
    mlflow_error_body,
)

SIGNATURE = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False),
        ColumnSchema("hours", LogicalType.FLOAT),
        ColumnSchema("sex", LogicalType.CATEGORY),
    )
)
FRAME = pd.DataFrame({"age": [30, 41, 52], "hours": [40.5, 38.0, 12.25], "sex": ["F", "M", "F"]})
JSON = "application/json"


def _serving_input(example: object) -> str:
    """MLflow's own serving payload of ``example`` (its pandas calls warn on pandas 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        payload: str = convert_input_example_to_serving_input(example)
    return payload


def _check(batch_columns: dict[str, np.ndarray], expected: pd.DataFrame) -> None:
    assert list(batch_columns) == ["age", "hours", "sex"]
    assert batch_columns["age"].dtype == np.int64
    for name in expected.columns:
        assert batch_columns[name].tolist() == expected[name].tolist()


def _payloads() -> dict[str, str]:
    records = FRAME.to_dict(orient="records")
    return {
        # MLflow's helper turns a DataFrame into dataframe_split, a dict into inputs.
        "dataframe_split": _serving_input(FRAME),
        "inputs": _serving_input(FRAME.to_dict(orient="list")),
        "inputs_rows": _serving_input(FRAME.to_numpy().tolist()),
        "dataframe_records": json.dumps({"dataframe_records": records}),
        "instances": json.dumps({"instances": records}),
        "instances_lists": json.dumps({"instances": FRAME.to_numpy().tolist()}),
    }


@pytest.mark.parametrize("form", sorted(_payloads()))
def test_mlflow_payloads_decode_as_mlflow_parses_them(form: str) -> None:
    payload = _payloads()[form]
    batch = decode_mlflow(payload.encode(), JSON, SIGNATURE, Limits())
    assert batch.n_rows == 3
    _check(batch.columns, FRAME)
    parsed = infer_and_parse_data(json.loads(payload))  # MLflow's own reading
    frame = parsed if isinstance(parsed, pd.DataFrame) else pd.DataFrame(parsed)
    if list(frame.columns) == [0, 1, 2]:  # rows without names: signature order
        frame.columns = ["age", "hours", "sex"]
    assert frame["hours"].astype(float).tolist() == batch.columns["hours"].tolist()


def test_split_columns_in_any_order_with_an_index() -> None:
    payload = json.loads(_serving_input(FRAME[["sex", "hours", "age"]]))
    payload["dataframe_split"]["index"] = [7, 8, 9]
    batch = decode_mlflow(json.dumps(payload).encode(), JSON, SIGNATURE, Limits())
    _check(batch.columns, FRAME)
    no_hours = json.loads(_serving_input(FRAME[["age", "sex"]]))
    batch = decode_mlflow(json.dumps(no_hours).encode(), JSON, SIGNATURE, Limits())
    assert np.isnan(batch.columns["hours"]).all()


def test_csv_as_pandas_writes_it() -> None:
    frame = FRAME.copy()
    frame.loc[1, "hours"] = np.nan
    text = frame.to_csv(index=False)
    batch = decode_mlflow(text.encode(), "text/csv; charset=utf-8", SIGNATURE, Limits())
    assert batch.columns["age"].tolist() == [30, 41, 52]
    assert np.isnan(batch.columns["hours"][1])
    assert batch.columns["sex"].tolist() == ["F", "M", "F"]
    mlflow_frame = parse_csv_input(io.StringIO(text))
    assert mlflow_frame["age"].tolist() == batch.columns["age"].tolist()
    bad = "age,sex\nold,F\n"
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(bad.encode(), "text/csv", SIGNATURE, Limits())
    assert info.value.status == 422
    assert info.value.detail[0]["loc"] == ["body", 1, "age"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/json; charset=latin-1",
        "application/json; format=pandas-split",
    ],
)
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(b"{}", content_type, SIGNATURE, Limits())
    assert info.value.status == 415


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'{"data": []}', b'{"instances": [], "inputs": []}', b"{"],
)
def test_bodies_that_are_not_one_form_are_400(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(body, JSON, SIGNATURE, Limits())
    assert info.value.status == 400
    error = json.loads(mlflow_error_body(info.value))
    assert error["error_code"] == "BAD_REQUEST"
    assert isinstance(error["message"], str)


def test_invalid_values_name_the_field() -> None:
    payload = {"dataframe_split": {"columns": ["age", "sex"], "data": [[30, "F"], ["x", "M"]]}}
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(json.dumps(payload).encode(), JSON, SIGNATURE, Limits())
    assert info.value.status == 422
    assert info.value.detail[0]["loc"] == ["body", "dataframe_split", "data", 1, "age"]
    assert json.loads(mlflow_error_body(info.value))["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = {"dataframe_records": [{"age": 1, "colour": "red"}]}
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(json.dumps(unknown).encode(), JSON, SIGNATURE, Limits())
    assert info.value.detail[0]["loc"] == ["body", "dataframe_records", 0, "colour"]
    nan = b'{"inputs": {"age": [1, NaN]}}'
    with pytest.raises(ProtocolError) as info:
        decode_mlflow(nan, JSON, SIGNATURE, Limits())
    assert info.value.detail[0]["loc"] == ["body", "inputs", "age", 1]


def test_encode_mlflow_answers_the_labels() -> None:
    scored = Scored(
        np.array(["no", "yes"], dtype=object),
        np.array([[0.9, 0.1], [0.2, 0.8]]),
        ["no", "yes"],
        "m/1",
    )
    assert msgspec.json.decode(encode_mlflow(scored)) == {"predictions": ["no", "yes"]}
