from __future__ import annotations

import os
from collections.abc import Iterator

import fsspec
import pytest

from closedloop.artifacts import FsspecArtifactStore
from closedloop.crypto import Keyring


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def memory_uri() -> Iterator[str]:
    """A fresh memory:// root, removed afterwards (the memory filesystem is process-global)."""
    uri = f"memory://closedloop-test-{os.urandom(8).hex()}"
    yield uri
    fs = fsspec.filesystem("memory")
    path = uri.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def memory_store(memory_uri: str, keyring: Keyring) -> FsspecArtifactStore:
    return FsspecArtifactStore(memory_uri, keyring)
