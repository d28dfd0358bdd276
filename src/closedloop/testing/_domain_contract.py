"""``DomainStoresContract``: the behaviour of a metadata store's domain stores.

The datasets, models, predictions and decisions stores, and the blob references every
domain reports to the aggregate. ``MetadataStoreContract`` inherits these tests; a backend's
test module subclasses that and provides the ``store`` fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.core import AuditEvent, ColumnSchema, Label, LoggedRequest, LogicalType, TableSchema
from closedloop.errors import AlreadyExistsError, NotFoundError
from closedloop.metadata import BlobReference, MetadataStore
from closedloop.testing._monitoring_contract import MonitoringStoreContract
from closedloop.testing._registry_contract import RegistryStoresContract

__all__ = ["DIGEST_A", "DIGEST_B", "DomainStoresContract"]

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
_DIGEST_C = "sha256:" + "c" * 64


class DomainStoresContract(RegistryStoresContract, MonitoringStoreContract):
    """Backend-independent tests of the domain stores a ``MetadataStore`` carries."""

    @pytest.fixture
    def store(self) -> Any:
        """A fresh store at the head schema. Subclasses must override this fixture."""
        pytest.fail("subclasses of MetadataStoreContract must override the `store` fixture")

    def _run(self, store: MetadataStore, name: str = "r", **kw: Any) -> str:
        exp = store.get_or_create_experiment(kw.pop("project", "p"), kw.pop("experiment", "e"))
        return store.create_run(
            exp.id, name=name, user="alice", start_time=kw.pop("start_time", 1000), **kw
        ).id

    # lifecycle stores -----------------------------------------------------------------------
    def test_dataset_versions(self, store: MetadataStore) -> None:
        schema = TableSchema((ColumnSchema("a", LogicalType.INTEGER, nullable=False),))
        first, created = store.datasets.add_version(
            "d",
            digest=DIGEST_A,
            n_rows=3,
            n_columns=1,
            schema=schema,
            source="x.csv",
            source_digest=None,
        )
        same, created_again = store.datasets.add_version(
            "d",
            digest=DIGEST_A,
            n_rows=3,
            n_columns=1,
            schema=schema,
            source="x.csv",
            source_digest=None,
        )
        second, _ = store.datasets.add_version(
            "d",
            digest=DIGEST_B,
            n_rows=4,
            n_columns=1,
            schema=schema,
            source="y.csv",
            source_digest=None,
            parents=[first.id],
        )
        assert (created, created_again) == (True, False)
        assert same == first
        assert (first.version, second.version) == (1, 2)
        assert first.id == "d@" + "a" * 12
        assert second.parents == (first.id,)
        assert store.datasets.get_version("d@latest") == second
        assert store.datasets.get_version("d/1") == first
        assert store.datasets.get_version("d@aaaa") == first
        assert first.schema == schema
        assert [v.id for v in store.datasets.list_versions("d")] == [first.id, second.id]
        assert DIGEST_A in store.referenced_digests()
        with pytest.raises(NotFoundError):
            store.datasets.get_version("d/9")

    def test_model_versions_and_aliases(self, store: MetadataStore) -> None:
        sig = TableSchema((ColumnSchema("a", LogicalType.FLOAT),))
        v1 = store.models.create_version(
            "m",
            artifact_digest=DIGEST_A,
            signature=sig,
            target="y",
            classes=["0", "1"],
            metrics={"auc": 0.7},
        )
        v2 = store.models.create_version(
            "m",
            artifact_digest=DIGEST_B,
            signature=sig,
            target="y",
            classes=["0", "1"],
            metrics={"auc": 0.8},
        )
        assert (v1.id, v2.id) == ("m/1", "m/2")
        assert store.models.set_alias("m", "champion", 1).aliases == ("champion",)
        assert store.models.get_version("m@champion").id == "m/1"
        store.models.set_alias("m", "champion", 2)
        assert store.models.get_version("m@champion").id == "m/2"
        assert store.models.get_version("m@latest").metrics == {"auc": 0.8}
        assert [v.aliases for v in store.models.list_versions("m")] == [(), ("champion",)]
        store.models.delete_alias("m", "champion")
        with pytest.raises(NotFoundError):
            store.models.get_version("m@champion")
        with pytest.raises(NotFoundError):
            store.models.delete_alias("m", "champion")
        assert {DIGEST_A, DIGEST_B} <= store.referenced_digests()

    # the prediction log ----------------------------------------------------------------------
    def test_prediction_log_group_append_with_audits(self, store: MetadataStore) -> None:
        group = [_req("a", "m/1", 100, 3, endpoint="web"), _req("b", "m/1", 110, 1)]
        audits = [AuditEvent(1, "u", "model.predict", "model:m/1", "ok", {"r": i}) for i in (1, 2)]
        store.predictions.append_requests(group, audits=audits)
        assert store.predictions.list_requests() == group  # every field, payload included
        events = store.list_audit_events(action="model.predict")
        assert sorted(e.detail["r"] for e in events) == [1, 2]
        store.predictions.append_requests([])  # nothing: no error, nothing written
        assert store.predictions.count() == 4

    def test_prediction_log_duplicate_stores_nothing_of_its_group(
        self, store: MetadataStore
    ) -> None:
        store.predictions.append_requests([_req("a", "m/1", 100, 2)])
        group = [_req("new", "m/1", 200, 1), _req("a", "m/1", 201, 5)]
        audit = AuditEvent(2, "u", "model.predict", "model:m/1", "ok")
        with pytest.raises(AlreadyExistsError):
            store.predictions.append_requests(group, audits=[audit])
        assert [r.request_id for r in store.predictions.list_requests()] == ["a"]
        assert store.list_audit_events(action="model.predict") == []
        with pytest.raises(AlreadyExistsError):  # a duplicate inside one group too
            store.predictions.append_requests([_req("c", "m/1", 1, 1), _req("c", "m/1", 2, 1)])
        assert store.predictions.count() == 2
        store.predictions.append_requests([_req("a", "m/2", 100, 2, role="shadow")])
        assert store.predictions.count() == 4  # another version of the same request is new

    def test_prediction_log_count_and_list_filters(self, store: MetadataStore) -> None:
        log = store.predictions
        a, b = _req("a", "m/1", 100, 3, endpoint="web"), _req("b", "m/1", 200, 2)
        c, d = _req("c", "m/2", 150, 4, role="shadow"), _req("d", "m/1", 300, 1, endpoint="web")
        log.append_requests([a, b, c])
        log.append_requests([d])
        assert log.count() == 10
        assert log.count("m/1") == 6
        assert log.count(endpoint="web") == 4
        assert log.count(role="shadow") == 4
        assert log.count(since=150, until=300) == 6  # since inclusive, until exclusive
        assert log.count("m/9") == 0
        assert log.list_requests() == [a, b, c, d]  # logging order
        assert log.list_requests("m/1", since=150) == [b, d]
        assert log.list_requests(endpoint="web", limit=1) == [a]
        assert log.list_requests(role="primary", until=200) == [a]
        assert log.list_requests(request_ids=["d", "a", "zz"]) == [a, d]
        assert log.list_requests(request_ids=[]) == []
        assert log.known_request_ids(["a", "c", "zz"]) == {"a", "c"}
        assert log.known_request_ids([]) == set()

    def test_prediction_labels_upsert(self, store: MetadataStore) -> None:
        log = store.predictions
        log.put_labels(
            [Label("b", 0, "yes", 10, "u"), Label("a", 1, 1.5, 11, "u")],
            audit=AuditEvent(1, "u", "prediction.label", "predictions:labels", "ok"),
        )
        log.put_labels([Label("a", 1, {"k": [1]}, 20, "v"), Label("a", 0, True, 21, "v")])
        assert log.list_labels() == [
            Label("a", 0, True, 21, "v"),
            Label("a", 1, {"k": [1]}, 20, "v"),  # the later label replaced the earlier
            Label("b", 0, "yes", 10, "u"),
        ]
        assert log.list_labels(["b", "zz"]) == [Label("b", 0, "yes", 10, "u")]
        assert [lb.request_id for lb in log.list_labels(since=20)] == ["a", "a"]
        assert log.list_labels(until=11) == [Label("b", 0, "yes", 10, "u")]
        (event,) = store.list_audit_events(action="prediction.label")
        assert event.resource == "predictions:labels"

    def test_decisions(self, store: MetadataStore) -> None:
        d = store.decisions.record(
            "m",
            champion_version_id="m/1",
            challenger_version_id="m/2",
            decision="promote",
            reasons=["better"],
            detail={"auc": 0.9},
        )
        assert store.decisions.list("m") == [d]
        assert d.id > 0
        assert store.decisions.list("other") == []

    # domains ----------------------------------------------------------------------------------
    def test_every_domain_reports_its_blob_references(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.add_artifact(run_id, "model.pkl", DIGEST_A, 1)
        sig = TableSchema((ColumnSchema("a", LogicalType.FLOAT),))
        store.models.create_version(
            "m", artifact_digest=DIGEST_A, signature=sig, target="y", classes=[], metrics={}
        )
        assert store.blob_references() == [
            BlobReference(DIGEST_A, "model version", "m/1"),
            BlobReference(DIGEST_A, "run artifact", f"{run_id}:model.pkl"),
        ]
        assert store.predictions.referenced_digests() == set()
        assert store.decisions.blob_references() == []

    def test_a_registered_domain_is_asked_for_its_digests(self, store: MetadataStore) -> None:
        run_id = self._run(store)
        store.add_artifact(run_id, "a.bin", DIGEST_A, 1)
        domain = _Domain({_DIGEST_C: "endpoint:e1"})
        assert store.referenced_digests() == {DIGEST_A}
        store.register_domain(domain)
        store.register_domain(domain)  # once is enough
        assert store.referenced_digests() == {DIGEST_A, _DIGEST_C}
        assert store.referenced_digests(among=[DIGEST_B, _DIGEST_C]) == {_DIGEST_C}
        assert domain.asked == [None, [DIGEST_B, _DIGEST_C]]
        assert BlobReference(_DIGEST_C, "endpoint", "endpoint:e1") in store.blob_references()
        assert [r.digest for r in store.blob_references()] == [DIGEST_A, _DIGEST_C]


class _Domain:
    """A domain store of another kind (say endpoints) that references one blob each."""

    def __init__(self, blobs: dict[str, str]) -> None:
        self.blobs = blobs
        self.asked: list[Any] = []

    def referenced_digests(self, among: Any = None) -> set[str]:
        self.asked.append(None if among is None else sorted(among))
        return {d for d in self.blobs if among is None or d in among}

    def blob_references(self) -> list[BlobReference]:
        return [BlobReference(d, "endpoint", name) for d, name in self.blobs.items()]


def _req(
    request_id: str,
    version: str,
    time: int,
    n_rows: int,
    *,
    endpoint: str | None = None,
    role: str = "primary",
) -> LoggedRequest:
    """A logged request with an opaque payload (the store never opens it)."""
    payload = f"sealed:{request_id}:{version}".encode() + bytes(range(256))
    return LoggedRequest(
        request_id, time, version, endpoint, role, n_rows, 1.25, "columns/1", "k1", payload
    )
