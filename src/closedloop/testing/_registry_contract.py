"""``RegistryStoresContract``: the model registry's store in depth and the endpoint store.

ONNX conversions, descriptions and tags, alias history and endpoints, as every metadata
backend must keep them. ``DomainStoresContract`` inherits these tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.core import (
    AliasChange,
    AuditEvent,
    ColumnSchema,
    Endpoint,
    LogicalType,
    ModelVersion,
    Route,
    TableSchema,
)
from closedloop.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from closedloop.metadata import BlobReference, MetadataStore

__all__ = ["RegistryStoresContract"]

_MODEL_BLOB = "sha256:" + "1" * 64
_ONNX_BLOB = "sha256:" + "2" * 64
_SIGNATURE = TableSchema((ColumnSchema("a", LogicalType.FLOAT),))


def _version(store: MetadataStore, model: str = "m", **kw: Any) -> ModelVersion:
    return store.models.create_version(
        model,
        artifact_digest=kw.pop("artifact_digest", _MODEL_BLOB),
        signature=kw.pop("signature", _SIGNATURE),
        target="y",
        classes=["0", "1"],
        metrics={},
        **kw,
    )


class RegistryStoresContract:
    """Backend-independent tests of the registry's and the endpoints' stores."""

    # ONNX conversions ---------------------------------------------------------------------
    def test_onnx_digest_is_recorded_and_referenced(self, store: MetadataStore) -> None:
        v = _version(store)
        assert (v.onnx_digest, v.description, dict(v.tags)) == (None, None, {})
        assert _ONNX_BLOB not in store.referenced_digests()
        updated = store.models.set_onnx("m", 1, _ONNX_BLOB)
        assert updated.onnx_digest == _ONNX_BLOB
        assert store.models.get_version("m@latest").onnx_digest == _ONNX_BLOB
        assert store.referenced_digests() == {_MODEL_BLOB, _ONNX_BLOB}
        assert store.referenced_digests(among=[_ONNX_BLOB]) == {_ONNX_BLOB}
        assert BlobReference(_ONNX_BLOB, "model version onnx", "m/1") in store.blob_references()
        store.models.set_onnx("m", 1, None)
        assert store.models.get_version("m/1").onnx_digest is None
        assert store.referenced_digests() == {_MODEL_BLOB}
        assert store.blob_references() == [BlobReference(_MODEL_BLOB, "model version", "m/1")]

    def test_onnx_of_an_unknown_version(self, store: MetadataStore) -> None:
        _version(store)
        with pytest.raises(NotFoundError):
            store.models.set_onnx("m", 2, _ONNX_BLOB)
        with pytest.raises(NotFoundError):
            store.models.set_onnx("other", 1, _ONNX_BLOB)

    # alias history ------------------------------------------------------------------------
    def test_every_alias_move_is_in_the_history(self, store: MetadataStore) -> None:
        _version(store)
        _version(store)
        event = AuditEvent(1, "carol", "model.alias", "model:m@champion", "ok")
        store.models.set_alias("m", "champion", 1, reason="first", actor="alice")
        store.models.set_alias("m", "champion", 2, reason="auc 0.81 > 0.78", audit=event)
        store.models.set_alias("m", "challenger", 2, actor="bob")
        store.models.delete_alias("m", "champion", reason="rollback", actor="alice")
        history = store.models.alias_history("m")
        assert [(c.alias, c.from_version, c.to_version, c.actor, c.reason) for c in history] == [
            ("champion", 2, None, "alice", "rollback"),
            ("challenger", None, 2, "bob", ""),
            ("champion", 1, 2, "carol", "auc 0.81 > 0.78"),
            ("champion", None, 1, "alice", "first"),
        ]
        assert all(isinstance(c, AliasChange) and c.model == "m" for c in history)
        assert [c.id for c in history] == sorted((c.id for c in history), reverse=True)
        assert [c.to_version for c in store.models.alias_history("m", "challenger")] == [2]
        assert store.models.alias_history("other") == []
        assert store.list_audit_events(actor="carol")[0].resource == "model:m@champion"

    def test_a_refused_alias_move_leaves_no_history(self, store: MetadataStore) -> None:
        _version(store)
        with pytest.raises(NotFoundError):
            store.models.set_alias("m", "champion", 5, reason="no such version")
        with pytest.raises(InvalidArgumentError):
            store.models.set_alias("m", "latest", 1)
        with pytest.raises(NotFoundError):
            store.models.delete_alias("m", "champion", reason="never set")
        with pytest.raises(NotFoundError):
            store.models.delete_alias("nobody", "champion")
        assert store.models.alias_history("m") == []

    # descriptions and tags ----------------------------------------------------------------
    def test_models_and_versions_have_descriptions_and_tags(self, store: MetadataStore) -> None:
        _version(store)
        _version(store)
        store.models.set_alias("m", "champion", 1)
        store.models.set_description("m", None, "income over 50k")
        store.models.set_description("m", 2, "retrained on batch b")
        store.models.set_tag("m", None, "team", "fraud")
        store.models.set_tag("m", None, "team", "risk")  # replaced
        store.models.set_tag("m", 2, "approved", "no")
        store.models.set_tag("m", 2, "z", "")
        model = store.models.get_model("m")
        assert (model.name, model.description, dict(model.tags)) == (
            "m",
            "income over 50k",
            {"team": "risk"},
        )
        assert (model.latest_version, dict(model.aliases)) == (2, {"champion": 1})
        assert model.created_at > 0
        v2 = store.models.get_version("m/2")
        assert (v2.description, dict(v2.tags)) == (
            "retrained on batch b",
            {"approved": "no", "z": ""},
        )
        assert store.models.get_version("m/1").tags == {}
        assert [dict(v.tags) for v in store.models.list_versions()] == [{}, dict(v2.tags)]
        store.models.delete_tag("m", 2, "approved")
        store.models.set_description("m", 2, None)
        v2 = store.models.get_version("m/2")
        assert (v2.description, dict(v2.tags)) == (None, {"z": ""})
        with pytest.raises(NotFoundError):
            store.models.delete_tag("m", 2, "approved")
        _version(store, "another")
        assert [m.name for m in store.models.list_models()] == ["another", "m"]
        assert store.models.list_models()[0].tags == {}

    def test_tags_and_descriptions_of_unknown_models(self, store: MetadataStore) -> None:
        _version(store)
        with pytest.raises(NotFoundError):
            store.models.get_model("nobody")
        with pytest.raises(NotFoundError):
            store.models.set_tag("nobody", None, "k", "v")
        with pytest.raises(NotFoundError):
            store.models.set_tag("m", 3, "k", "v")
        with pytest.raises(NotFoundError):
            store.models.set_description("m", 3, "x")
        with pytest.raises(InvalidArgumentError, match="empty"):
            store.models.set_tag("m", None, "", "v")
        with pytest.raises(InvalidArgumentError, match="256 characters"):
            store.models.set_tag("m", 1, "k" * 256, "v")
        store.models.set_tag("m", 1, "k" * 255, "v")
        assert list(store.models.get_version("m/1").tags) == ["k" * 255]

    # endpoints ----------------------------------------------------------------------------
    def test_endpoints_are_stored_as_given(self, store: MetadataStore) -> None:
        routes = [Route("m@champion", 90.0), Route("m@challenger", 10.0)]
        event = AuditEvent(1, "alice", "endpoint.write", "endpoint:adult", "ok")
        created = store.endpoints.create(
            "adult", routes=routes, shadows=["m/3"], description="the census", audit=event
        )
        assert isinstance(created, Endpoint)
        assert (created.name, created.routes, created.shadows) == ("adult", tuple(routes), ("m/3",))
        assert (created.description, created.updated_by) == ("the census", "alice")
        assert created.created_at == created.updated_at > 0
        assert store.endpoints.get("adult") == created
        with pytest.raises(AlreadyExistsError):
            store.endpoints.create("adult", routes=routes)
        updated = store.endpoints.update(
            "adult", routes=[Route("m/1", 1.0)], shadows=[], description=None, actor="bob"
        )
        assert (updated.routes, updated.shadows, updated.description) == (
            (Route("m/1", 1.0),),
            (),
            None,
        )
        assert (updated.created_at, updated.updated_by) == (created.created_at, "bob")
        assert updated.updated_at >= created.updated_at
        store.endpoints.create("b", routes=[Route("m@latest", 0.5)], actor="carol")
        assert [e.name for e in store.endpoints.list()] == ["adult", "b"]
        store.endpoints.delete("adult")
        assert [e.name for e in store.endpoints.list()] == ["b"]
        assert store.endpoints.referenced_digests() == set()
        assert store.endpoints.blob_references() == []

    def test_unknown_endpoints(self, store: MetadataStore) -> None:
        with pytest.raises(NotFoundError):
            store.endpoints.get("nope")
        with pytest.raises(NotFoundError):
            store.endpoints.delete("nope")
        with pytest.raises(NotFoundError):
            store.endpoints.update("nope", routes=[Route("m/1", 1.0)], shadows=[], description=None)
