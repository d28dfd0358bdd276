"""The metadata store: projects, experiments, runs, artifact references, audit events."""

from closedloop.metadata._backends import (
    get_metadata_store,
    mask_uri,
    metadata_stores,
    strip_password,
)
from closedloop.metadata._lifecycle_protocol import (
    DatasetStore,
    DecisionStore,
    ModelStore,
    PredictionLog,
)
from closedloop.metadata._protocol import BlobReference, MetadataStore

__all__ = [
    "BlobReference",
    "DatasetStore",
    "DecisionStore",
    "MetadataStore",
    "ModelStore",
    "PredictionLog",
    "get_metadata_store",
    "mask_uri",
    "metadata_stores",
    "strip_password",
]
