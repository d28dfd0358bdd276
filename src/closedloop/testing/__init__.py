"""Reusable contract test suites for backends (need pytest)."""

from closedloop.testing._artifact_contract import ArtifactStoreContract
from closedloop.testing._metadata_contract import MetadataStoreContract
from closedloop.testing._prediction_log import log_frame, log_request

__all__ = ["ArtifactStoreContract", "MetadataStoreContract", "log_frame", "log_request"]
