"""The success event is built at commit time; which reads are audited, and read batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.dummy import DummyClassifier

from closedloop import data, registry, tracking
from closedloop.config import Settings, load_settings
from closedloop.core import AuditEvent, ColumnSchema, LogicalType, TableSchema
from closedloop.errors import (
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    StorageError,
)
from closedloop.workspace import Actions, Workspace

SIGNATURE = TableSchema((ColumnSchema("x", LogicalType.FLOAT),))


def _register(ws: Workspace, name: str = "m") -> Any:
    model = DummyClassifier().fit([[0.0], [1.0]], ["a", "b"])
    return registry.register_model(
        ws, name, model, signature=SIGNATURE, target="y", classes=["a", "b"]
    )


def _actions(ws: Workspace) -> list[str]:
    return [e.action for e in reversed(ws.metadata.list_audit_events(limit=1000))]


class _CountingAppends:
    """Wraps ``append_audit_events`` to count the transactions the gate writes."""

    def __init__(self, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[list[AuditEvent]] = []
        real = ws.metadata.append_audit_events

        def append(events: Any) -> None:
            batch = list(events)
            self.calls.append(batch)
            real(batch)

        monkeypatch.setattr(ws.metadata, "append_audit_events", append)


# the success event is built at commit time -------------------------------------------------------
def test_the_audit_row_of_a_registration_names_the_version_and_digest(ws: Workspace) -> None:
    first = _register(ws)
    second = _register(ws)
    events = ws.metadata.list_audit_events(action="model.register")
    assert [e.detail["version"] for e in events] == [2, 1]
    assert [e.detail["digest"] for e in events] == [
        second.artifact_digest,
        first.artifact_digest,
    ]
    assert first.artifact_digest.startswith("sha256:")
    assert {e.outcome for e in events} == {"ok"}
    assert len(events) == 2  # one event per registration: the store wrote it, not the gate too


def test_the_event_carries_facts_added_until_the_write(ws: Workspace) -> None:
    with ws.action(Actions.MODEL_ALIAS, "model:m@x", given=1) as act:
        act["before"] = "kept"
        event = act.commit_event(assigned=7)
        ws.metadata.append_audit_events([event])
    (stored,) = ws.metadata.list_audit_events()
    assert stored.detail == {"given": 1, "before": "kept", "assigned": 7}


def test_facts_after_the_commit_are_refused_not_lost(ws: Workspace) -> None:
    with ws.action(Actions.MODEL_ALIAS, "model:m@x") as act:
        act.commit_event()
        for late in (
            lambda: act.__setitem__("late", 1),
            lambda: act.update(late=1),
            lambda: act.setdefault("late", 1),
            lambda: act.commit_event(),
        ):
            with pytest.raises(InvalidArgumentError, match="already committed"):
                late()
    assert "late" not in act


def test_a_failed_store_write_records_the_error_and_no_success(ws: Workspace) -> None:
    _register(ws)
    with pytest.raises(NotFoundError):
        registry.set_alias(ws, "m", "champion", 9)  # the write fails inside its transaction
    events = ws.metadata.list_audit_events(action="model.alias")
    assert [e.outcome for e in events] == ["error:NOT_FOUND"]


def test_a_store_that_does_not_write_the_pending_event_leaves_it_to_the_gate(
    ws: Workspace,
) -> None:
    with ws.action(Actions.LOOP_DECIDE, "model:m", decision="keep"):
        pass  # no store write took the action: the gate writes the success event
    (event,) = ws.metadata.list_audit_events()
    assert (event.action, event.outcome, event.detail) == (
        "loop.decide",
        "ok",
        {"decision": "keep"},
    )


# which reads are audited ------------------------------------------------------------------------
def _read_everything(ws: Workspace, people: Path) -> None:
    with tracking.start_run(ws, "exp") as run:
        run.log_metric("m", 1.0)
        run.log_bytes(b"x", "f.bin")
    tracking.get_run(ws, run.id)
    tracking.search_runs(ws)
    tracking.list_experiments(ws)
    tracking.read_artifact(ws, run.id, "f.bin")
    data.ingest(ws, people, "people")
    data.get_version(ws, "people/1")
    _register(ws)
    registry.get_model_version(ws, "m/1")


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("age,name\n31,ann\n45,bob\n", encoding="utf-8")
    return path


# run.log is absent: the buffered metric is written with run.end, in its transaction
WRITES = {"run.create", "artifact.put", "run.end", "dataset.ingest", "model.register"}


def test_by_default_data_and_model_reads_are_audited_run_reads_not(
    ws: Workspace, people: Path
) -> None:
    assert ws.settings.audit_reads == "data_and_models"
    _read_everything(ws, people)
    assert set(_actions(ws)) == WRITES | {"artifact.get", "dataset.read", "model.read"}


def test_audit_reads_all_records_every_read(root: Path, people: Path) -> None:
    with Workspace.open(root, settings=Settings(audit_reads="all")) as ws:
        _read_everything(ws, people)
        assert set(_actions(ws)) == WRITES | {
            "run.read",
            "run.search",
            "experiment.list",
            "artifact.get",
            "dataset.read",
            "model.read",
        }


def test_audit_reads_none_records_only_writes(root: Path, people: Path) -> None:
    with Workspace.open(root, settings=Settings(audit_reads="none")) as ws:
        _read_everything(ws, people)
        with pytest.raises(NotFoundError):  # a failed read is not recorded either
            data.get_version(ws, "people/9")
        assert set(_actions(ws)) == WRITES


def test_the_policy_is_a_setting(root: Path) -> None:
    settings = load_settings({"workspace": str(root)}, environ={"CLOSEDLOOP_AUDIT_READS": "all"})
    assert settings.audit_reads == "all"
    with pytest.raises(ConfigurationError, match="audit_reads"):
        load_settings({"workspace": str(root), "audit_reads": "some"})


# read batches -----------------------------------------------------------------------------------
def _runs(ws: Workspace, n: int) -> list[str]:
    ids = []
    for i in range(n):
        with tracking.start_run(ws, "exp") as run:
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
        ids.append(run.id)
    return ids


def test_a_plot_of_n_runs_is_one_audit_write(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Workspace.open(root, settings=Settings(audit_reads="all")) as ws:
        ids = _runs(ws, 4)
        counting = _CountingAppends(ws, monkeypatch)
        page = tracking.plot_metric_history(ws, ids, ["loss"])
        assert "loss" in page
        assert len(counting.calls) == 1  # 4 run reads + 4 history reads, one transaction
        (batch,) = counting.calls
        assert [e.action for e in batch] == ["run.read"] * 8
        assert sum("metric" in e.detail for e in batch) == 4
        assert len(ws.metadata.list_audit_events(action="run.read", limit=100)) == 8


def test_a_batch_writes_its_reads_at_the_end_and_writes_at_once(
    ws: Workspace, people: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data.ingest(ws, people, "people")
    counting = _CountingAppends(ws, monkeypatch)
    with ws.read_batch() as batch:
        data.get_version(batch, "people/1")
        data.list_versions(batch)
        with batch.read_batch() as inner:  # joins the outer batch
            assert inner is batch
            data.get_version(inner, "people/1")
        with batch.action(Actions.MODEL_ALIAS, "model:m@x"):  # a write: recorded now
            pass
        assert [[e.action for e in c] for c in counting.calls] == [["model.alias"]]
    assert [[e.action for e in c] for c in counting.calls] == [
        ["model.alias"],
        ["dataset.read", "dataset.list", "dataset.read"],
    ]


def _fail_in_a_batch(ws: Workspace) -> None:
    with ws.read_batch() as batch:
        data.get_version(batch, "people/1")
        with pytest.raises(NotFoundError):
            data.get_version(batch, "people/9")
        raise RuntimeError("boom")


def test_a_batch_that_fails_still_writes_its_reads(ws: Workspace, people: Path) -> None:
    data.ingest(ws, people, "people")
    with pytest.raises(RuntimeError, match="boom"):
        _fail_in_a_batch(ws)
    outcomes = [e.outcome for e in ws.metadata.list_audit_events(action="dataset.read")]
    assert outcomes == ["error:NOT_FOUND", "ok"]


def test_a_batch_whose_reads_cannot_be_audited_fails(
    ws: Workspace, people: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data.ingest(ws, people, "people")

    def broken(events: object) -> None:
        raise StorageError("audit table is gone")

    monkeypatch.setattr(ws.metadata, "append_audit_events", broken)
    with pytest.raises(StorageError, match="audit table"), ws.read_batch() as batch:
        assert data.get_version(batch, "people/1").id.startswith("people@")


def test_a_batch_view_leaves_the_workspace_unbatched(ws: Workspace, people: Path) -> None:
    data.ingest(ws, people, "people")
    with ws.read_batch():
        data.get_version(ws, "people/1")  # through the workspace itself: written at once
        assert len(ws.metadata.list_audit_events(action="dataset.read")) == 1
