"""The metadata store: projects, experiments, runs, artifact references, audit events."""

from closedloop.metadata._protocol import MetadataStore
from closedloop.metadata._registry import get_metadata_store, mask_uri, metadata_stores

__all__ = ["MetadataStore", "get_metadata_store", "mask_uri", "metadata_stores"]
