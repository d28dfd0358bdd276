"""A server of converted models starts light: the ONNX conversion alone, no scikit-learn.

``load_scorer`` scores a version with a verified ONNX conversion whose graph predicts the
registered classes without unpickling its pipeline, so serving it imports neither
scikit-learn, SciPy nor pandas (a fresh interpreter serves one prediction and checks
``sys.modules``). Where the graph cannot confirm the classes, the pipeline is loaded and
checked as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_support import SIGNATURE, TestClient, make_frame, train
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from closedloop import registry
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.features._onnx import convert_pipeline, onnx_available
from closedloop.serving import create_app
from closedloop.serving._onnx import graph_classes
from closedloop.workspace import Actions, Workspace

pytestmark = pytest.mark.skipif(not onnx_available(), reason="the onnx extra is not installed")

N_FEATURES = 6
NUMERIC = TableSchema(
    tuple(ColumnSchema(f"f{i}", LogicalType.FLOAT, nullable=False) for i in range(N_FEATURES))
)
#: What serving a converted model must not import (each costs hundreds of ms and tens of MiB).
HEAVY = ("pandas", "scipy", "sklearn")


def _numeric(seed: int = 0, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def _frame(x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x, columns=NUMERIC.names)


def _register_converted(ws: Workspace, model: Any, x: np.ndarray, **kwargs: Any) -> str:
    version = registry.register_model(ws, "m", model, signature=NUMERIC, target="y", **kwargs)
    outcome = registry.convert_to_onnx(ws, version.id, _frame(x))
    assert outcome.ok, outcome.reason
    return version.id


def _loads(ws: Workspace, version_id: str, after: int = 0) -> list[str]:
    """The ``model.load`` events of a version after event ``after``: ``onnx`` or ``pipeline``."""
    events = ws.metadata.list_audit_events(action=Actions.MODEL_LOAD, limit=100)
    mine = sorted(
        (e for e in events if e.resource == f"model:{version_id}" and e.id > after),
        key=lambda e: e.id,
    )
    return [str(e.detail.get("format", "pipeline")) for e in mine]


def _last_event(ws: Workspace) -> int:
    return max((e.id for e in ws.metadata.list_audit_events(limit=1)), default=0)


# the serving process --------------------------------------------------------------------------
_SERVE = textwrap.dedent(
    """
    import json, sys
    from closedloop.config import load_settings
    from closedloop.serving import create_app
    from closedloop.workspace import Workspace

    root, heavy = sys.argv[1], sys.argv[2].split(",")
    # as `closedloop --workspace ROOT serve m@latest` opens and builds it
    with Workspace.open(settings=load_settings({"workspace": root})) as ws:
        app = create_app(ws, "m@latest")
        fastapi_at_build = "fastapi" in sys.modules  # the control plane is built on first use
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            answer = client.post("/v1/models/m/predict", json={"records": [dict.fromkeys(
                [f"f{i}" for i in range(int(sys.argv[3]))], 0.5)]})
            scorer = client.get("/metadata").json()["scorer"]
    print(json.dumps({
        "status": answer.status_code,
        "body": answer.json(),
        "scorer": scorer,
        "loaded": sorted(m for m in heavy if m in sys.modules),
        "fastapi_at_build": fastapi_at_build,
    }))
    """
)


@pytest.fixture(scope="module")
def served_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One fresh interpreter that served one prediction of a converted classifier."""
    root = tmp_path_factory.mktemp("startup") / "ws"
    Workspace.init(root)
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    with Workspace.open(root) as ws:
        _register_converted(ws, model, x, classes=[str(c) for c in model.classes_])
    result = subprocess.run(
        [sys.executable, "-c", _SERVE, str(root), ",".join(HEAVY), str(N_FEATURES)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    out["expected"] = model.predict(np.full((1, N_FEATURES), 0.5)).tolist()
    return out


def test_a_converted_model_is_served_without_pandas_scipy_or_scikit_learn(
    served_process: dict[str, Any],
) -> None:
    assert served_process["status"] == 200, served_process["body"]
    assert served_process["scorer"] == "onnx"
    assert served_process["body"]["predictions"] == served_process["expected"]
    assert served_process["loaded"] == []
    assert served_process["fastapi_at_build"] is False


def test_the_control_plane_is_built_on_first_use_and_shares_the_state(
    tmp_path: Any,
) -> None:
    root = tmp_path / "ws"
    Workspace.init(root)
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    with Workspace.open(root) as ws:
        version_id = _register_converted(ws, model, x, classes=["0", "1"])
        app = create_app(ws, "m@latest")
        assert app._control is None
        assert app.state.model_version.id == version_id
        with TestClient(app) as client:
            r = client.post(
                "/v1/models/m/predict", json={"records": [dict.fromkeys(NUMERIC.names, 0.1)]}
            )
            assert r.status_code == 200
            assert client.get("/health").json()["model_version"] == version_id
            assert app._control is not None
            assert app.control.state is app.state


# which scorer, from what was loaded ----------------------------------------------------------
def test_a_converted_classifier_loads_its_conversion_alone(workspace: Workspace) -> None:
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    version_id = _register_converted(workspace, model, x, classes=["0", "1"])
    before = _last_event(workspace)
    app = create_app(workspace, "m@latest")
    assert app.router.default.routes[0].scorer.kind == "onnx"
    assert _loads(workspace, version_id, before) == ["onnx"]  # the audit log says what was loaded
    with TestClient(app) as client:
        rows = x[:5]
        answer = client.post(
            "/v1/models/m/predict",
            json={"columns": {n: rows[:, i].tolist() for i, n in enumerate(NUMERIC.names)}},
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["predictions"] == model.predict(rows).tolist()
    np.testing.assert_allclose(
        [[p[c] for c in ("0", "1")] for p in got["probabilities"]],
        model.predict_proba(rows),
        atol=1e-6,
    )


def test_a_converted_regressor_loads_its_conversion_alone(workspace: Workspace) -> None:
    x, _ = _numeric()
    model = LinearRegression().fit(x, x @ np.arange(N_FEATURES))
    version_id = _register_converted(workspace, model, x)
    before = _last_event(workspace)
    app = create_app(workspace, "m@latest")
    assert app.router.default.routes[0].scorer.kind == "onnx"
    assert _loads(workspace, version_id, before) == ["onnx"]


def test_classes_the_graph_does_not_confirm_load_the_pipeline(workspace: Workspace) -> None:
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    version_id = _register_converted(workspace, model, x)  # no classes registered
    before = _last_event(workspace)
    app = create_app(workspace, "m@latest")
    assert app.router.default.routes[0].scorer.kind == "onnx"  # still scored by ONNX
    assert _loads(workspace, version_id, before) == ["onnx", "pipeline"]
    assert app.state.model_version.classes == ()


@pytest.mark.parametrize("classes", [["1", "0"], ["no", "yes"]])
def test_registered_classes_that_contradict_the_model_are_still_refused(
    workspace: Workspace, classes: list[str]
) -> None:
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    _register_converted(workspace, model, x, classes=classes)
    with pytest.raises(InvalidArgumentError, match="registered with classes"):
        create_app(workspace, "m@latest")


def test_without_onnx_the_pipeline_is_loaded_and_scores(workspace: Workspace) -> None:
    x, y = _numeric()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    version_id = _register_converted(workspace, model, x, classes=["0", "1"])
    before = _last_event(workspace)
    app = create_app(workspace, "m@latest", use_onnx=False)
    assert app.router.default.routes[0].scorer.kind == "pipeline"
    assert _loads(workspace, version_id, before) == ["pipeline"]


def test_a_pipeline_over_categories_with_text_labels_loads_its_conversion_alone(
    workspace: Workspace,
) -> None:
    pipe = train(make_frame(300, seed=0))
    version = registry.register_model(
        workspace, "m", pipe, signature=SIGNATURE, target="y", classes=list(pipe.classes_)
    )
    test = make_frame(40, seed=1)
    assert registry.convert_to_onnx(workspace, version.id, test).ok
    before = _last_event(workspace)
    app = create_app(workspace, "m@latest")
    assert app.router.default.routes[0].scorer.kind == "onnx"
    assert _loads(workspace, version.id, before) == ["onnx"]


# the classes a graph predicts ---------------------------------------------------------------
def _graph(model: Any, x: np.ndarray) -> bytes:
    outcome = convert_pipeline(model, NUMERIC, _frame(x))
    assert outcome.ok, outcome.reason
    assert outcome.onnx_bytes is not None
    return outcome.onnx_bytes


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["a", "b", "c"], ("a", "b", "c")), ([3, 7, 11], ("3", "7", "11"))],
)
@pytest.mark.parametrize(
    "make", [lambda: LogisticRegression(max_iter=1000), lambda: RandomForestClassifier(3)]
)
def test_graph_classes_reads_a_classifiers_labels_in_probability_order(
    make: Any, labels: list[Any], expected: tuple[str, ...]
) -> None:
    x, _ = _numeric(n=300)
    y = np.asarray(labels)[np.digitize(x[:, 0], [-0.5, 0.5])]
    assert graph_classes(_graph(make().fit(x, y), x)) == expected


def test_graph_classes_of_a_regressor_is_empty() -> None:
    x, _ = _numeric()
    assert graph_classes(_graph(LinearRegression().fit(x, x[:, 0]), x)) == ()


def test_graph_classes_of_an_unknown_graph_is_none() -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ArgMax", ["x"], ["label"]), helper.make_node("Identity", ["x"], ["p"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None, 1]),
            helper.make_tensor_value_info("p", TensorProto.FLOAT, [None, 2]),
        ],
    )
    assert graph_classes(onnx.helper.make_model(graph).SerializeToString()) is None
