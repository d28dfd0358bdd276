"""``DomainStoresContract``: the behaviour of a metadata store's domain stores.

The datasets, models, predictions and decisions stores, and the blob references every
domain reports to the aggregate. ``MetadataStoreContract`` inherits these tests; a backend's
test module subclasses that and provides the ``store`` fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.core import AuditEvent, ColumnSchema, LogicalType, Prediction, TableSchema
from closedloop.errors import AlreadyExistsError, NotFoundError
from closedloop.metadata import BlobReference, MetadataStore
from closedloop.testing._registry_contract import RegistryStoresContract

__all__ = ["DIGEST_A", "DIGEST_B", "DomainStoresContract"]

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
_DIGEST_C = "sha256:" + "c" * 64


class DomainStoresContract(RegistryStoresContract):
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

    def test_prediction_log_and_decisions(self, store: MetadataStore) -> None:
        items = [
            Prediction("req1", i, 100 + i, "m/1", {"a": i, "b": None}, {"label": "x"}, 1.5)
            for i in range(3)
        ]
        store.predictions.append(items, audit=AuditEvent(1, "u", "model.predict", "m", "ok"))
        store.predictions.append([Prediction("req2", 0, 200, "m/2", {"a": 9}, "y", 0.5)])
        assert store.predictions.count() == 4
        assert store.predictions.count("m/1") == 3
        assert store.predictions.list("m/1", since=101) == items[1:]
        assert store.predictions.list(until=101, limit=5) == items[:1]
        assert store.list_audit_events(action="model.predict")[0].resource == "m"
        with pytest.raises(AlreadyExistsError):
            store.predictions.append([items[0]])
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
