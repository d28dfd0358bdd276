"""The Adult model over real HTTP through all three protocols, checked with the peers' clients.

OIP v2 with tritonclient's HTTP client, MLflow scoring with MLflow's own payload helper and
its CSV form, the native protocol with httpx; the ONNX fast path and the pipeline answer
the same; feedback joins labels to the logged rows by request id.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from closedloop.core import ModelVersion
from closedloop.data import infer_schema
from closedloop.datasets import ADULT_TARGET, adult_files, read_adult
from closedloop.features import FeatureSpec
from closedloop.predictions import attach_labels, count_predictions, read_predictions
from closedloop.registry import convert_to_onnx, register_model
from closedloop.serving import BackgroundServer
from closedloop.workspace import Workspace

pytestmark = pytest.mark.slow


@dataclass
class Adult:
    ws: Workspace
    pipe: Pipeline
    version: ModelVersion
    test: pd.DataFrame


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adult]:
    train_path, test_path = adult_files()
    train = read_adult(train_path).sample(4000, random_state=0)
    test = read_adult(test_path).sample(300, random_state=1)
    features = train.drop(columns=[ADULT_TARGET])
    schema = infer_schema(train)
    spec = FeatureSpec.from_schema(schema, target=ADULT_TARGET)
    pipe = Pipeline([("features", spec.build()), ("model", LogisticRegression(max_iter=2000))])
    pipe.fit(features, train[ADULT_TARGET])
    root: Path = tmp_path_factory.mktemp("adult") / "ws"
    Workspace.init(root)
    with Workspace.open(root) as ws:
        version = register_model(
            ws,
            "adult",
            pipe,
            signature=spec.signature(schema),
            target=ADULT_TARGET,
            classes=[str(c) for c in pipe.classes_],
            aliases=["champion"],
        )
        yield Adult(ws, pipe, version, test.drop(columns=[ADULT_TARGET]).reset_index(drop=True))


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        )
    return out


def test_native_mlflow_and_v2_give_the_pipelines_answers(adult: Adult) -> None:
    import tritonclient.http as triton

    rows = adult.test.iloc[:25]
    expected = adult.pipe.predict(rows).tolist()
    with warnings.catch_warnings():  # MLflow's import warns about its own dependencies
        warnings.simplefilter("ignore")
        from mlflow.models.utils import convert_input_example_to_serving_input

        mlflow_json = convert_input_example_to_serving_input(rows)
    assert mlflow_json is not None
    with BackgroundServer(adult.ws, "adult@champion", use_onnx=False) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            native = http.post("/v1/models/adult/predict", json={"records": _records(rows)})
            mlflow = http.post(
                "/invocations", content=mlflow_json, headers={"Content-Type": "application/json"}
            )
            csv = http.post(
                "/invocations",
                content=rows.to_csv(index=False),
                headers={"Content-Type": "text/csv"},
            )
            wrong_type = http.post(
                "/invocations", content="x", headers={"Content-Type": "text/plain"}
            )
        client = triton.InferenceServerClient(server.url.removeprefix("http://"))
        assert client.is_server_live()
        assert client.is_model_ready("adult")
        meta = client.get_model_metadata("adult")
        # A BYTES tensor has no missing value: tritonclient sends complete rows.
        complete = rows.dropna()
        inputs = []
        for column in adult.version.signature.columns:
            values = complete[column.name]
            if column.type.is_numeric:
                array = values.to_numpy(
                    dtype=np.float64 if column.type.value == "float" else np.int64
                )
                datatype = "FP64" if array.dtype == np.float64 else "INT64"
            else:
                array = values.astype(object).where(values.notna(), None).to_numpy()
                array = np.array(
                    [b"" if v is None else str(v).encode() for v in array], dtype=object
                )
                datatype = "BYTES"
            tensor = triton.InferInput(column.name, [len(complete)], datatype)
            tensor.set_data_from_numpy(array, binary_data=False)
            inputs.append(tensor)
        outputs = [
            triton.InferRequestedOutput("predict", binary_data=False),
            triton.InferRequestedOutput("predict_proba", binary_data=False),
        ]
        result = client.infer("adult", inputs, outputs=outputs, request_id="triton-1")
        client.close()
    assert native.status_code == 200, native.text
    assert native.json()["predictions"] == expected
    assert mlflow.status_code == 200, mlflow.text
    assert mlflow.json() == {"predictions": expected}
    assert csv.status_code == 200, csv.text
    assert csv.json() == {"predictions": expected}
    assert wrong_type.status_code == 415
    assert [i["name"] for i in meta["inputs"]] == adult.version.signature.names
    assert len(complete) >= 15
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict")]
    assert labels == adult.pipe.predict(complete).tolist()
    np.testing.assert_allclose(
        result.as_numpy("predict_proba"), adult.pipe.predict_proba(complete), atol=1e-12
    )
    assert result.get_response()["id"] == "triton-1"


def test_the_onnx_path_answers_like_the_pipeline_and_is_what_serves(adult: Adult) -> None:
    conversion = convert_to_onnx(adult.ws, "adult/1", adult.test)
    assert conversion.ok, conversion.reason
    rows = _records(adult.test.iloc[:40])
    with BackgroundServer(adult.ws, "adult@champion") as fast, httpx.Client(timeout=30) as http:
        onnx = http.post(f"{fast.url}/v1/models/adult/predict", json={"records": rows}).json()
        scorer = http.get(f"{fast.url}/metadata").json()["scorer"]
    with BackgroundServer(adult.ws, "adult@champion", use_onnx=False) as slow:
        plain = httpx.post(f"{slow.url}/predict", json={"records": rows}, timeout=30).json()
    assert scorer == "onnx"
    assert onnx["predictions"] == plain["predictions"]
    for a, b in zip(onnx["probabilities"], plain["probabilities"], strict=True):
        assert a == pytest.approx(b, abs=1e-4)


def test_feedback_joins_late_labels_out_of_order(adult: Adult) -> None:
    rows = _records(adult.test.iloc[:3])
    with (
        BackgroundServer(adult.ws, "adult@champion") as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        ids = []
        for i in range(3):
            r = http.post("/predict", json={"records": rows}, headers={"X-Request-ID": f"fb{i}"})
            assert r.status_code == 200
            ids.append(r.headers["x-request-id"])
        late = http.post(
            "/v1/feedback",
            json={
                "labels": [
                    {"request_id": "fb2", "row": 1, "label": ">50K"},
                    {"request_id": "fb0", "row": 0, "label": "<=50K"},
                    {"request_id": "nope", "row": 0, "label": "<=50K"},
                ]
            },
        )
    assert late.status_code == 200, late.text
    body = late.json()
    assert body["attached"] == 2
    assert body["unknown_request_ids"] == ["nope"]
    report = attach_labels(adult.ws, [("fb2", 1, "<=50K")])  # a later label replaces it
    assert report.replaced == 1
    frame = read_predictions(adult.ws, "adult/1", with_labels=True)
    mine = frame[frame["request_id"].isin(ids)]
    labelled = mine.dropna(subset=["label"])
    got = zip(labelled["request_id"], labelled["row"], labelled["label"], strict=True)
    assert sorted(got) == [
        ("fb0", 0, "<=50K"),
        ("fb2", 1, "<=50K"),
    ]
    assert count_predictions(adult.ws, "adult/1") >= 9
