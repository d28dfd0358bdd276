"""``MetadataStoreContract``: the behaviour every metadata store backend must show.

Subclass it in a test module and provide a ``store`` fixture that yields a fresh, migrated
store; every test below then runs against that backend::

    class TestSqlite(MetadataStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            ...
"""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest

from closedloop.core import (
    AuditEvent,
    ColumnSchema,
    LogicalType,
    Metric,
    RunInput,
    RunStatus,
    TableSchema,
)
from closedloop.errors import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidArgumentError,
    NotFoundError,
    RunStateError,
)
from closedloop.metadata import MetadataStore
from closedloop.testing._domain_contract import DIGEST_A, DIGEST_B, DomainStoresContract

__all__ = ["MetadataStoreContract"]


class MetadataStoreContract(DomainStoresContract):
    """Backend-independent tests of ``MetadataStore`` (its domain stores' in the base)."""

    # experiments ----------------------------------------------------------------------------
    def test_default_experiment_is_seeded(self, store: MetadataStore) -> None:
        exp = store.find_experiment("default", "default")
        assert exp is not None
        assert [p.name for p in store.list_projects()] == ["default"]

    def test_get_or_create_experiment_is_idempotent(self, store: MetadataStore) -> None:
        a = store.get_or_create_experiment("proj", "exp")
        b = store.get_or_create_experiment("proj", "exp")
        assert a == b
        assert (a.project, a.name) == ("proj", "exp")
        assert store.get_experiment(a.id) == a
        assert [e.name for e in store.list_experiments("proj")] == ["exp"]

    def test_unknown_experiment(self, store: MetadataStore) -> None:
        assert store.find_experiment("nope", "nope") is None
        with pytest.raises(NotFoundError):
            store.get_experiment(987654)

    def test_blank_experiment_name_refused(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidArgumentError):
            store.get_or_create_experiment("p", "  ")

    # runs -----------------------------------------------------------------------------------
    def test_create_and_get_run(self, store: MetadataStore) -> None:
        run_id = self._run(store, params={"model": "rf"}, tags={"team": "a"})
        run = store.get_run(run_id)
        assert run.status is RunStatus.RUNNING
        assert run.user == "alice"
        assert dict(run.params) == {"model": "rf"}
        assert dict(run.tags) == {"team": "a"}
        assert run.end_time is None

    def test_duplicate_run_id_refused(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        exp = store.get_or_create_experiment("p", "e")
        with pytest.raises(AlreadyExistsError):
            store.create_run(exp.id, name="x", user="u", start_time=1, run_id=run_id)

    def test_run_in_unknown_experiment(self, store: MetadataStore) -> None:
        with pytest.raises(NotFoundError):
            store.create_run(424242, name="x", user="u", start_time=1)

    def test_unknown_run(self, store: MetadataStore) -> None:
        with pytest.raises(NotFoundError, match="f" * 32):
            store.get_run("f" * 32)

    def test_get_runs_keeps_order_and_names_missing(self, store: MetadataStore) -> None:
        a, b = self._run(store, "a"), self._run(store, "b")
        assert [r.id for r in store.get_runs([b, a])] == [b, a]
        with pytest.raises(NotFoundError, match="0" * 32):
            store.get_runs([a, "0" * 32])

    def test_log_batch_and_latest_metric(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.log_batch(
            run_id,
            metrics=[Metric("loss", 0.9, 0, 10), Metric("loss", 0.5, 5, 20)],
            params={"lr": "0.1"},
            tags={"t": "1"},
        )
        store.log_batch(run_id, metrics=[Metric("loss", 0.7, 3, 30)], tags={"t": "2"})
        run = store.get_run(run_id)
        assert run.metrics["loss"] == Metric("loss", 0.5, 5, 20)  # highest step wins
        assert dict(run.params) == {"lr": "0.1"}
        assert run.tags["t"] == "2"
        history = store.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(0, 0.9), (3, 0.7), (5, 0.5)]

    def test_nan_and_inf_round_trip(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.log_batch(
            run_id, metrics=[Metric("a", float("nan"), 0, 1), Metric("b", float("inf"), 0, 1)]
        )
        run = store.get_run(run_id)
        assert math.isnan(run.metrics["a"].value)
        assert run.metrics["b"].value == float("inf")
        assert math.isnan(store.get_metric_history(run_id, "a")[0].value)

    def test_changing_a_param_is_refused_atomically(self, store: MetadataStore) -> None:
        run_id = self._run(store, params={"model": "rf"})
        with pytest.raises(InvalidArgumentError, match="model"):
            store.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 1)], params={"model": "lr"})
        run = store.get_run(run_id)
        assert run.params["model"] == "rf"
        assert "m" not in run.metrics  # nothing of the refused batch was written
        store.log_batch(run_id, params={"model": "rf"})  # the same value is fine

    def test_ended_run_refuses_data(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.set_run_status(run_id, RunStatus.FINISHED, 5000)
        ended = store.get_run(run_id)
        assert ended.status is RunStatus.FINISHED
        assert ended.end_time == 5000
        with pytest.raises(RunStateError):
            store.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 1)])
        with pytest.raises(RunStateError):
            store.add_artifact(run_id, "x.txt", DIGEST_A, 1)

    def test_log_to_unknown_run(self, store: MetadataStore) -> None:
        with pytest.raises(NotFoundError):
            store.log_batch("e" * 32, metrics=[Metric("m", 1.0, 0, 1)])

    def test_concurrent_writers_from_threads(self, store: MetadataStore) -> None:
        ids = [self._run(store, f"t{i}") for i in range(6)]
        errors: list[BaseException] = []

        def work(run_id: str) -> None:
            try:
                for step in range(20):
                    store.log_batch(run_id, metrics=[Metric("m", float(step), step, step)])
            except BaseException as e:  # collected and asserted below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for run_id in ids:
            assert len(store.get_metric_history(run_id, "m")) == 20
            assert store.get_run(run_id).metrics["m"].value == 19.0

    # search ---------------------------------------------------------------------------------
    def _population(self, store: MetadataStore) -> dict[str, str]:
        ids = {}
        for i, (model, auc) in enumerate([("rf", 0.91), ("rf", 0.75), ("lr", 0.85), ("gb", None)]):
            run_id = self._run(store, f"run{i}", params={"model": model}, start_time=1000 + i)
            if auc is not None:
                store.log_batch(run_id, metrics=[Metric("auc", auc, 0, 1)])
            ids[f"run{i}"] = run_id
        store.log_batch(ids["run0"], tags={"stage": "prod"})
        store.set_run_status(ids["run3"], RunStatus.FAILED, 2000)
        return ids

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("metrics.auc > 0.8", {"run0", "run2"}),
            ("metrics.auc > 0.8 and params.model = 'rf'", {"run0"}),
            ("metrics.auc < 0.8 or params.model = 'gb'", {"run1", "run3"}),
            ("params.model in ('lr', 'gb')", {"run2", "run3"}),
            ("params.model not in ('rf')", {"run2", "run3"}),
            ("params.model like 'r%'", {"run0", "run1"}),
            ("tags.stage = 'prod'", {"run0"}),
            ("metrics.auc is null", {"run3"}),
            ("status = 'failed'", {"run3"}),
            ("not (status = 'FAILED') and metrics.auc >= 0.85", {"run0", "run2"}),
            ("name = 'run1'", {"run1"}),
            ("start_time >= 1002", {"run2", "run3"}),
            ("", {"run0", "run1", "run2", "run3"}),
        ],
    )
    def test_search_filters(
        self, store: MetadataStore, expression: str, expected: set[str]
    ) -> None:
        ids = self._population(store)
        names = {v: k for k, v in ids.items()}
        exp = store.get_or_create_experiment("p", "e")
        page = store.search_runs([exp.id], expression)
        assert {names[r.id] for r in page.runs} == expected

    def test_search_orders(self, store: MetadataStore) -> None:
        ids = self._population(store)
        names = {v: k for k, v in ids.items()}
        exp = store.get_or_create_experiment("p", "e")
        default = store.search_runs([exp.id])
        assert [names[r.id] for r in default.runs] == ["run3", "run2", "run1", "run0"]
        by_auc = store.search_runs([exp.id], order_by=["metrics.auc DESC"])
        assert [names[r.id] for r in by_auc.runs] == ["run0", "run2", "run1", "run3"]
        by_auc_up = store.search_runs([exp.id], order_by="metrics.auc ASC")
        assert [names[r.id] for r in by_auc_up.runs] == ["run1", "run2", "run0", "run3"]
        by_param = store.search_runs([exp.id], order_by=["params.model", "start_time DESC"])
        assert [names[r.id] for r in by_param.runs] == ["run3", "run2", "run1", "run0"]

    def test_search_pages(self, store: MetadataStore) -> None:
        exp = store.get_or_create_experiment("p", "paged")
        made = {
            store.create_run(exp.id, name=f"r{i}", user="u", start_time=i).id for i in range(25)
        }
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = store.search_runs([exp.id], max_results=10, page_token=token)
            seen += [r.id for r in page.runs]
            pages += 1
            token = page.next_page_token
            if token is None:
                break
        assert pages == 3
        assert len(seen) == len(set(seen)) == 25
        assert set(seen) == made

    def test_search_scopes_to_experiments(self, store: MetadataStore) -> None:
        a = self._run(store, experiment="one")
        self._run(store, experiment="two")
        one = store.get_or_create_experiment("p", "one")
        assert [r.id for r in store.search_runs([one.id]).runs] == [a]

    def test_search_bad_input(self, store: MetadataStore) -> None:
        with pytest.raises(FilterSyntaxError):
            store.search_runs(None, "metrics.auc > 'high'")
        with pytest.raises(FilterSyntaxError):
            store.search_runs(None, "status = 'DONE'")
        with pytest.raises(InvalidArgumentError):
            store.search_runs(None, page_token="not-a-token")
        with pytest.raises(InvalidArgumentError):
            store.search_runs(None, max_results=0)

    # artifacts, inputs ----------------------------------------------------------------------
    def test_artifacts(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.add_artifact(run_id, "model/model.pkl", DIGEST_A, 10)
        store.add_artifact(run_id, "report.html", DIGEST_B, 20)
        assert [a.path for a in store.list_artifacts(run_id)] == ["model/model.pkl", "report.html"]
        store.add_artifact(run_id, "report.html", DIGEST_A, 10)  # replace
        assert store.get_artifact(run_id, "report.html").digest == DIGEST_A
        assert store.referenced_digests() == {DIGEST_A}
        with pytest.raises(NotFoundError):
            store.get_artifact(run_id, "missing.txt")

    @pytest.mark.parametrize("path", ["../escape.txt", "a/../../b", "", "/", "a//b"])
    def test_artifact_paths_must_be_clean(self, store: MetadataStore, path: str) -> None:
        run_id = self._run(store)
        with pytest.raises(InvalidArgumentError):
            store.add_artifact(run_id, path, DIGEST_A, 1)

    def test_delete_run_returns_only_orphaned_digests(self, store: MetadataStore) -> None:
        a, b = self._run(store, "a"), self._run(store, "b")
        store.add_artifact(a, "shared.bin", DIGEST_A, 1)
        store.add_artifact(a, "own.bin", DIGEST_B, 1)
        store.add_artifact(b, "shared.bin", DIGEST_A, 1)
        store.log_batch(a, metrics=[Metric("m", 1.0, 0, 1)], params={"x": "1"})
        assert store.delete_run(a) == [DIGEST_B]
        with pytest.raises(NotFoundError):
            store.get_run(a)
        with pytest.raises(NotFoundError):
            store.get_metric_history(a, "m")
        assert store.referenced_digests() == {DIGEST_A}
        assert store.referenced_digests(among=[DIGEST_A, DIGEST_B]) == {DIGEST_A}
        assert store.referenced_digests(among=[DIGEST_B]) == set()
        with pytest.raises(NotFoundError):
            store.delete_run(a)

    def test_run_inputs_are_idempotent(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.add_run_input(run_id, RunInput("dataset", "adult@abc", "train"))
        store.add_run_input(run_id, RunInput("dataset", "adult@abc", "train"))
        assert store.get_run(run_id).inputs == (RunInput("dataset", "adult@abc", "train"),)

    # audit ----------------------------------------------------------------------------------
    def test_audit_log(self, store: MetadataStore) -> None:
        store.append_audit_events(
            [
                AuditEvent(1, "alice", "run.create", "run:1", "ok", {"n": 1}),
                AuditEvent(2, "bob", "run.delete", "run:1", "error:NOT_FOUND"),
                AuditEvent(3, "alice", "run.read", "run:1", "ok"),
            ]
        )
        events = store.list_audit_events()
        assert [e.action for e in events] == ["run.read", "run.delete", "run.create"]
        assert events[2].detail == {"n": 1}
        assert all(e.id > 0 for e in events)
        assert [e.time for e in store.list_audit_events(actor="alice")] == [3, 1]
        assert [e.actor for e in store.list_audit_events(action="run.delete")] == ["bob"]
        assert [e.time for e in store.list_audit_events(since=2)] == [3, 2]
        assert len(store.list_audit_events(limit=1)) == 1

    def test_a_pending_audit_event_is_built_inside_the_write(self, store: MetadataStore) -> None:
        sig = TableSchema((ColumnSchema("a", LogicalType.FLOAT),))
        first, second = _Pending("run.create"), _Pending("model.register")
        run = store.create_run(
            store.get_or_create_experiment("p", "e").id,
            name="r",
            user="alice",
            start_time=1,
            audit=first,
        )
        store.models.create_version(
            "m",
            artifact_digest=DIGEST_A,
            signature=sig,
            target="y",
            classes=[],
            metrics={},
            audit=second,
        )
        assert len(first.calls) == len(second.calls) == 1  # built once, by the store
        assert second.calls == [{"version": 1}]  # with what the store assigned
        by_action = {e.action: e for e in store.list_audit_events()}
        assert by_action["model.register"].detail == {"version": 1}
        assert by_action["run.create"].resource == "r"
        failing = _Pending("model.alias")
        with pytest.raises(NotFoundError):
            store.models.set_alias("m", "champion", 9, audit=failing)
        assert store.list_audit_events(action="model.alias") == []  # rolled back with it
        store.set_run_status(run.id, RunStatus.FINISHED, 2)
        with pytest.raises(RunStateError):  # an ended run takes no more data
            store.log_batch(run.id, params={"k": "v"}, audit=_Pending("run.log"))
        assert store.list_audit_events(action="run.log") == []

    def test_audit_events_append_in_one_call(self, store: MetadataStore) -> None:
        store.append_audit_events(
            AuditEvent(i, "a", "run.read", f"run:{i}", "ok") for i in range(50)
        )  # any iterable, e.g. a read batch
        assert [e.time for e in store.list_audit_events(limit=100)] == list(range(49, -1, -1))


class _Pending:
    """A ``PendingAudit`` that records how the store called it."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.calls: list[dict[str, Any]] = []

    def commit_event(self, **facts: Any) -> AuditEvent:
        self.calls.append(facts)
        return AuditEvent(1, "alice", self.action, "r", "ok", dict(facts))
