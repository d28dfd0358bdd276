"""Content-addressed, verified and (by default) encrypted blob storage."""

from __future__ import annotations

from closedloop.artifacts._backends import get_artifact_store
from closedloop.artifacts._protocol import ArtifactStore, BlobInfo, BlobReader, BlobStat
from closedloop.artifacts._store import FsspecArtifactStore

__all__ = [
    "ArtifactStore",
    "BlobInfo",
    "BlobReader",
    "BlobStat",
    "FsspecArtifactStore",
    "get_artifact_store",
]
