"""Each area of the client calls its verbs on a real workspace, through the action gate."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import closedloop
from closedloop import _client
from closedloop.core import ColumnSchema, LogicalType, Principal, TableSchema
from closedloop.errors import DataValidationError, NotFoundError
from closedloop.testing import log_request
from closedloop.workspace import Actions

SIG = TableSchema((ColumnSchema("x", LogicalType.INTEGER),))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[closedloop.Client]:
    """A fresh workspace that audits every read, so each verb's gate call shows."""
    with closedloop.init(tmp_path / "ws", audit_reads="all") as c:
        yield c


def _actions(client: closedloop.Client) -> list[str]:
    return [e.action for e in client.audit.list(limit=500)]


def test_runs_start_read_search_compare_history_plot_artifacts_delete(
    client: closedloop.Client, tmp_path: Path
) -> None:
    with client.runs.start("exp", name="a", params={"p": 1}) as a:
        a.log_metric("m", 0.5, step=0)
        a.log_metric("m", 0.7, step=1)
        a.log_text("hello", "notes.txt")
    with client.start_run("exp", name="b", params={"p": 2}) as b:  # the documented shortcut
        b.log_metric("m", 0.9)
    assert client.runs.get(a.id).name == "a"
    assert client.runs.resolve_id(a.id[:10]) == a.id
    assert [r.id for r in client.runs.search("metrics.m > 0.8").runs] == [b.id]
    assert [r.id for r in client.runs.search(order_by="metrics.m DESC", max_results=1).runs] == [
        b.id
    ]
    assert client.runs.compare([a.id, b.id]).params["p"] == ["1", "2"]
    assert [m.value for m in client.runs.history(a.id, "m")] == [0.5, 0.7]
    assert "<html" in client.runs.plot([a.id, b.id], ["m"]).lower()
    assert [r.path for r in client.runs.artifacts(a.id)] == ["notes.txt"]
    assert client.runs.read_artifact(a.id, "notes.txt") == b"hello"
    target = client.runs.download_artifact(a.id, "notes.txt", tmp_path / "out.txt")
    assert target.read_bytes() == b"hello"
    assert client.runs.delete(b.id).run_id == b.id
    with pytest.raises(NotFoundError):
        client.runs.get(b.id)
    assert {"run.create", "run.read", "run.search", "artifact.get", "run.delete"} <= set(
        _actions(client)
    )


def test_experiments_list_and_get(client: closedloop.Client) -> None:
    with client.runs.start("churn", project="team"):
        pass
    (exp,) = client.experiments.list("team")
    assert (exp.project, exp.name) == ("team", "churn")
    assert client.experiments.get(exp.id) == exp
    assert client.experiments.list("nobody") == []


def test_datasets_ingest_load_list_get_validate(client: closedloop.Client, tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "a"]}).to_csv(csv, index=False)
    version = client.datasets.ingest(csv, "d", format="csv")
    assert client.datasets.get("d@latest") == version
    assert client.datasets.list() == [version]
    assert client.datasets.list("other") == []
    assert list(client.datasets.load(version)["x"]) == [1, 2, 3]
    report = client.datasets.validate("d/1", pd.DataFrame({"x": [4], "y": ["b"]}))
    assert report.ok
    with pytest.raises(DataValidationError, match="'x' breaks rule 'type'"):
        client.datasets.validate("d/1", pd.DataFrame({"x": ["no"], "y": ["b"]}))
    assert {"dataset.ingest", "dataset.read", "dataset.list", "dataset.validate"} <= set(
        _actions(client)
    )


def test_models_register_get_list_load_alias(client: closedloop.Client) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4]})
    model = DummyClassifier(strategy="constant", constant="a").fit(frame, ["a", "b", "a", "a"])
    v1 = client.models.register("m", model, signature=SIG, target="y", metrics={"acc": 0.5})
    v2 = client.models.register("m", model, signature=SIG, target="y", aliases=["champion"])
    assert [v.id for v in client.models.list("m")] == ["m/1", "m/2"]
    assert client.models.get("m@champion").id == v2.id
    assert client.models.set_alias("m", "champion", 1).id == v1.id
    assert list(client.models.load("m@champion").predict(frame)) == ["a"] * 4
    client.models.delete_alias("m", "champion")
    with pytest.raises(NotFoundError):
        client.models.get("m@champion")
    assert {"model.register", "model.alias", "model.alias_delete", "model.load"} <= set(
        _actions(client)
    )


def test_predictions_count_and_list_through_the_gate(client: closedloop.Client) -> None:
    ws = client.workspace
    for i in range(3):
        log_request(ws, "m/1", pd.DataFrame({"x": [i]}), ["a"], request_id=f"r{i}", time=100 + i)
    log_request(ws, "m/2", pd.DataFrame({"x": [9]}), ["b"], request_id="q", time=9)
    assert client.predictions.count("m/1") == 3
    assert client.predictions.count() == 4
    first_two = client.predictions.list("m/1", limit=2)
    assert [(p.request_id, p.inputs, p.output["label"]) for p in first_two] == [
        ("r0", {"x": 0}, "a"),
        ("r1", {"x": 1}, "a"),
    ]
    assert [p.request_id for p in client.predictions.list("m/1", since=101, until=102)] == ["r1"]
    reads = client.audit.list(action=Actions.PREDICTION_READ)
    assert [e.resource for e in reads] == ["model:m/1", "model:m/1", "model:*", "model:m/1"]


def test_predictions_read_and_feedback(client: closedloop.Client, tmp_path: Path) -> None:
    ws = client.workspace
    log_request(ws, "m/1", pd.DataFrame({"x": [1, 2]}), ["a", "b"], request_id="r", time=1)
    report = client.predictions.attach_labels([("r", 0, "b"), ("nope", 0, "a")])
    assert (report.attached, report.unknown_request_ids) == (1, ["nope"])
    path = tmp_path / "labels.csv"
    path.write_text("rid,row,y\nr,1,b\n", encoding="utf-8")
    assert (
        client.predictions.import_labels(path, request_id_column="rid", label_column="y").attached
        == 1
    )
    assert [lb.label for lb in client.predictions.list_labels(["r"])] == ["b", "b"]
    frame = client.predictions.read("m/1", with_labels=True)
    assert frame[["x", "prediction", "label"]].values.tolist() == [[1, "a", "b"], [2, "b", "b"]]


def test_predictions_accept_a_model_version(client: closedloop.Client) -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    model = DummyClassifier().fit(frame, ["a", "b"])
    version = client.models.register("m", model, signature=SIG, target="y")
    log_request(client.workspace, "m/1", frame.head(1), ["a"], request_id="r", time=1)
    assert client.predictions.count(version) == 1
    assert [p.request_id for p in client.predictions.list(version)] == ["r"]


def test_decisions_list_newest_first(client: closedloop.Client) -> None:
    assert client.decisions.list() == []
    for decision in ("keep", "promote"):
        client.workspace.metadata.decisions.record(
            "m",
            champion_version_id="m/1",
            challenger_version_id="m/2",
            decision=decision,
            reasons=[f"{decision} because"],
            detail={},
        )
    assert [d.decision for d in client.decisions.list("m")] == ["promote", "keep"]
    assert client.decisions.list("other") == []
    assert client.audit.list(action="loop.read")[0].resource == "model:other"


def test_audit_list_filters_and_is_itself_an_action(client: closedloop.Client) -> None:
    with client.runs.start("exp"):
        pass
    creates = client.audit.list(action=Actions.RUN_CREATE)
    assert [e.action for e in creates] == ["run.create"]
    assert client.audit.list(actor="nobody") == []
    assert len(client.audit.list(limit=1)) == 1
    assert client.audit.list(since=creates[0].time)[-1].time >= creates[0].time
    assert "audit.read" in _actions(client)  # reading the log went through the gate


def test_as_principal_acts_for_another_caller(client: closedloop.Client) -> None:
    alice = Principal("user", "alice", roles=("viewer",), source="10.0.0.7")
    view = client.as_principal(alice)
    assert view.workspace.principal == alice
    with view.start_run("exp") as run:
        pass
    view.close()  # a view leaves the stores open
    (event,) = client.audit.list(actor="alice", action=Actions.RUN_CREATE)
    assert event.resource == f"run:{run.id}"
    assert client.runs.get(run.id).id == run.id


def test_area_methods_name_their_parameters() -> None:
    """No ``**kwargs`` forwarding: every area method shows the verb's own signature."""
    areas = [getattr(_client, name) for name in _client.__all__ if name.endswith("Client")]
    assert len(areas) == 9
    for area in areas:
        for name, method in inspect.getmembers(area, inspect.isfunction):
            if name.startswith("_"):
                continue
            kinds = {p.kind for p in inspect.signature(method).parameters.values()}
            assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{area.__name__}.{name}"
            assert inspect.Parameter.VAR_POSITIONAL not in kinds, f"{area.__name__}.{name}"
    for verb in (closedloop.start_run, closedloop.search_runs):
        kinds = {p.kind for p in inspect.signature(verb).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds


def test_models_register_from_run_reuses_the_runs_blob(client: closedloop.Client) -> None:
    import pickle

    frame = pd.DataFrame({"x": [1, 2, 3, 4]})
    model = DummyClassifier(strategy="constant", constant="a").fit(frame, ["a", "b", "a", "a"])
    with client.start_run("train") as run:
        run.log_bytes(pickle.dumps(model), "model/pipeline.pkl")
    stored = {a.path: a.digest for a in client.runs.artifacts(run.id)}
    version = client.models.register_from_run("m", run.id, signature=SIG, target="y")
    assert version.artifact_digest == stored["model/pipeline.pkl"]
    assert list(client.models.load(version.id).predict(frame)) == ["a"] * 4
