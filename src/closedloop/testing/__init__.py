"""Reusable contract test suites for backends (need pytest)."""

from closedloop.testing._artifact_contract import ArtifactStoreContract
from closedloop.testing._metadata_contract import MetadataStoreContract

__all__ = ["ArtifactStoreContract", "MetadataStoreContract"]
