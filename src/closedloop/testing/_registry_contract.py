"""``RegistryStoresContract``: the model registry's store in depth and the endpoint store.

ONNX conversions, descriptions and tags, alias history and endpoints, as every metadata
backend must keep them. ``DomainStoresContract`` inherits these tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.core import ColumnSchema, LogicalType, ModelVersion, TableSchema
from closedloop.errors import NotFoundError
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
